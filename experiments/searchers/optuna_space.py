"""tunelab's Space asked through an Optuna trial, define-by-run, so nothing is lost in translation.

Parameters are suggested in declaration order and only while their condition holds, so a
conditional parameter is a native (absent or present) Optuna parameter; ints keep their inclusive
bounds and step, log scales stay log, choices stay categorical and fixed values are never asked.
"""
from __future__ import annotations

import itertools
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from tunelab.searchspaces.params import Choice, Fixed, Float, Int, Param, SpaceError
from tunelab.searchspaces.space import Config, Space


def check_representable(space: Space) -> None:
    """SpaceError naming the parameter Optuna cannot hold as tunelab means it; nothing to search too.

    Optuna finds a choice by `==`, so a choice holding 1 and True (or 0 and False, 1 and 1.0),
    which tunelab keeps apart, would come back as the other value.
    """
    if all(isinstance(param, Fixed) for param in space.values()):
        raise SpaceError("every parameter is fixed, so there is nothing to search")
    for name, param in space.items():
        if not isinstance(param, Choice):
            continue
        for first, second in itertools.combinations(param.values, 2):
            if first == second:
                raise SpaceError(
                    f"space.{name}: choice {', '.join(map(repr, param.values))} holds {first!r} and {second!r}, "
                    "which tpe (Optuna) cannot tell apart; allowed: values that differ under == "
                    f"(e.g. the strings {str(first)!r} and {str(second)!r})"
                )


def distribution(param: Param) -> BaseDistribution:
    """The Optuna distribution of a searched (not fixed) parameter."""
    if isinstance(param, Int):
        return IntDistribution(param.low, param.high, log=param.log, step=param.step)
    if isinstance(param, Float):
        return FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if isinstance(param, Choice):
        return CategoricalDistribution(param.values)
    raise TypeError(f"no Optuna distribution for {param.describe()}")


def suggest_config(trial: optuna.Trial, space: Space) -> Config:
    """A configuration asked of `trial`, conditions applied in declaration order."""
    config: Config = {}
    for name, param in space.items():
        if not space.is_active(name, config):
            continue
        if isinstance(param, Fixed):
            config[name] = param.value
        elif isinstance(param, Int):
            config[name] = trial.suggest_int(name, param.low, param.high, step=param.step, log=param.log)
        elif isinstance(param, Float):
            value = trial.suggest_float(name, param.low, param.high, step=param.step, log=param.log)
            config[name] = _on_step(param, value)
        else:
            config[name] = trial.suggest_categorical(name, param.values)
    return config


def searched_part(space: Space, config: Config) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
    """The searched parameters of `config` and their distributions, as Optuna records a trial."""
    params = {name: value for name, value in config.items() if not isinstance(space[name], Fixed)}
    return params, {name: distribution(space[name]) for name in params}


def _on_step(param: Float, value: float) -> float:
    """Optuna's stepped float, put on tunelab's own grid of points (rounded as `Float` rounds them)."""
    if param.step is None:
        return value
    stepped = round(param.low + round((value - param.low) / param.step) * param.step, 12)
    return min(param.high, max(param.low, stepped))
