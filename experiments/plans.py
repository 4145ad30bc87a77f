"""What every strategy and scheduler is made of: declared options, the budget the experiment gives
it, and the plan it hands the runner.

Options are checked here in one way for all of them (type, bounds, closed sets, did-you-mean), so
a mistake in any strategy reads the same and stops the run before Ray starts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.core.objective import Objective
from tunelab.core.pareto import Constraint
from tunelab.experiments.errors import SpecError
from tunelab.experiments.trial_events import TrialEventLog

MAX_TRIALS = 10_000  # configurations are drawn before the first trial: a plan must stay this small
MAX_GRID = 1_000_000  # a grid is enumerated, not sampled: cheap enough to cut afterwards (KerasTuner's max_trials)


@dataclass(frozen=True)
class Option:
    """One strategy option: its type, default, lower bound and, for a closed set, its allowed values."""

    name: str
    kind: type | tuple[type, ...]
    default: Any
    minimum: float | None = None
    doc: str = ""
    choices: tuple = ()
    maximum: float | None = None


@dataclass(frozen=True)
class Budget:
    """What the experiment gives every strategy: the metric, epochs per trial, and where to log."""

    metric: str
    mode: str
    epochs: int
    events: TrialEventLog = field(default_factory=TrialEventLog)  # schedulers record decisions here
    checkpoint_every: int = 1  # pausing schedulers need a checkpoint at every rung
    max_concurrent_trials: int = 0  # the experiment's limit (0: none); synchronous halving needs none
    concurrency_key: str = "max_concurrent_trials"  # where that limit was set, for messages
    trainable: str | None = None  # mlp, cnn or package.module:function; None: not known (PBT perturbs less)
    # Every objective (metric, mode above: the first) and the constraints, for a searcher that tunes several at
    # once (a multi-objective sampler: core.pareto's `violations` is its constraints function); the others
    # search `metric` alone.
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Ray pieces for one experiment, and the most trials and epochs they can use."""

    searcher: Searcher
    scheduler: TrialScheduler | None
    num_samples: int
    max_epochs: int
    notes: tuple[str, ...] = ()  # shown by --dry-run, e.g. the Hyperband brackets


def check_declared(declared_options: tuple[Option, ...], options: Mapping[str, Any], where: str,
                   owner: str) -> dict[str, Any]:
    """`options` checked against their declarations, defaults filled in; SpecError naming the key."""
    declared = {option.name: option for option in declared_options}
    for key in options:
        if key not in declared:
            allowed = ", ".join(declared) or "no options"
            raise SpecError(f"{where}.{key}: not an option of {owner}; allowed: {allowed}{did_you_mean(key, declared)}")
    checked: dict[str, Any] = {}
    for option in declared.values():
        kinds = option.kind if isinstance(option.kind, tuple) else (option.kind,)
        expected = " or ".join(k.__name__ for k in kinds if k is not type(None))
        if option.name in options and options[option.name] is None:
            default = "" if option.default is None else f" for the default {option.default!r}"
            raise SpecError(f"{where}.{option.name}: empty; expected {expected} (leave the key out{default})")
        value = options.get(option.name, option.default)
        numeric = float in kinds and isinstance(value, int)
        if value is None and option.default is None:
            checked[option.name] = None  # absent; the strategy says whether it needs it
            continue
        if isinstance(value, bool) or not (isinstance(value, kinds) or numeric):
            raise SpecError(f"{where}.{option.name}: expected {expected}, got {shown(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"{where}.{option.name}: must be a finite number, got {value}")
        if option.minimum is not None and value < option.minimum:
            raise SpecError(f"{where}.{option.name}: must be >= {option.minimum:g}, got {value}")
        if option.maximum is not None and value > option.maximum:
            raise SpecError(f"{where}.{option.name}: must be <= {option.maximum:,}, got {value:,}")
        if option.choices and value not in option.choices:
            raise SpecError(
                f"{where}.{option.name}: {shown(value)} is not allowed; "
                f"use one of {', '.join(map(str, option.choices))}"
                + did_you_mean(value, option.choices)
            )
        checked[option.name] = value
    return checked


def named_entry(raw: Any, where: str, registry: Mapping[str, Any], kind: str) -> tuple[str, dict]:
    """`name` or `{name: ..., options...}` -> (a name of `registry`, the options)."""
    raw = {"name": raw} if isinstance(raw, str) else dict(raw)
    name = raw.pop("name", None)
    if name not in registry:
        raise SpecError(
            f"{where}.name: {shown(name)} is not a {kind}; allowed: {', '.join(registry)}"
            + (did_you_mean(name, registry) if isinstance(name, str) else "")
        )
    return name, raw
