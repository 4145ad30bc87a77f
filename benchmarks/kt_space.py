"""A tunelab Space declared to KerasTuner's own `hp`, so KerasTuner searches exactly the study's space.

Ranges, log scales, steps and conditions carry over: a condition becomes a
`hp.conditional_scope` on the parent's values that satisfy it (a count parent's values above
the threshold), so KerasTuner samples a parameter only where tunelab would.
"""
from __future__ import annotations

import contextlib
from typing import Any

from tunelab.searchspaces import Above, Bool, Choice, Fixed, Float, Int, Space
from tunelab.searchspaces.params import Param


def declare(hp: Any, space: Space) -> dict[str, Any]:
    """Declares every parameter of `space` on KerasTuner's `hp`; returns the active configuration."""
    config: dict[str, Any] = {}
    for name, param in space.items():
        with contextlib.ExitStack() as scopes:
            for parent, condition in param.conditions:
                scopes.enter_context(hp.conditional_scope(parent, parent_values(space, parent, condition)))
            value = _declare(hp, name, param)
        if space.is_active(name, config):
            config[name] = value
    return config


def parent_values(space: Space, parent: str, condition: Any) -> list:
    """The values of `parent` under which the condition holds."""
    if isinstance(condition, Above):
        values = _finite_values(space[parent])
        return [value for value in values if condition.holds(value)]
    return list(condition.values)


def _finite_values(param: Param) -> list:
    if isinstance(param, Int):
        return list(range(param.low, param.high + 1, param.step))
    if isinstance(param, Fixed):
        return [param.value]
    if isinstance(param, Choice):
        return list(param.values)
    raise TypeError(f"a condition on {param.describe()} has no finite list of parent values")


def _declare(hp: Any, name: str, param: Param) -> Any:
    if isinstance(param, Fixed):
        return hp.Fixed(name, param.value)
    if isinstance(param, Bool):
        return hp.Boolean(name)
    if isinstance(param, Choice):
        return hp.Choice(name, list(param.values))
    if isinstance(param, Int):
        return hp.Int(name, param.low, param.high, step=None if param.log else param.step,
                      sampling="log" if param.log else "linear")
    if isinstance(param, Float):
        return hp.Float(name, param.low, param.high, step=param.step, sampling="log" if param.log else "linear")
    raise TypeError(f"{name}: no KerasTuner type for {type(param).__name__}")
