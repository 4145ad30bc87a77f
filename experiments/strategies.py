"""Strategy registry: a name in the YAML -> the Ray search algorithm and scheduler that run it.

A strategy is one `Strategy` entry: its options (validated like the rest of the spec) and a
`plan` function that turns the space and options into Ray pieces plus the trial and epoch
counts a user can check with `--dry-run` before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from experiments.errors import SpecError
from experiments.trial_events import TrialEventLog
from searchspaces import Space
from searchspaces.inline import did_you_mean
from searchspaces.ray_adapter import ConfigSequenceSearcher


@dataclass(frozen=True)
class Option:
    """One strategy option: its type, default and lower bound."""

    name: str
    kind: type
    default: Any
    minimum: float | None = None
    doc: str = ""


@dataclass(frozen=True)
class Budget:
    """What the experiment gives every strategy: the metric, epochs per trial, and where to log."""

    metric: str
    mode: str
    epochs: int
    events: TrialEventLog = field(default_factory=TrialEventLog)  # schedulers record decisions here
    checkpoint_every: int = 1  # pausing schedulers need a checkpoint at every rung


@dataclass(frozen=True)
class Plan:
    """Ray pieces for one experiment, and the most trials and epochs they can use."""

    searcher: Searcher
    scheduler: TrialScheduler | None
    num_samples: int
    max_epochs: int


@dataclass(frozen=True)
class Strategy:
    """A registry entry: `when` tells users when to pick it."""

    name: str
    when: str
    options: tuple[Option, ...]
    plan: Callable[[Space, Mapping[str, Any], Budget], Plan]


def _grid(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs = space.grid(limit=options["max_trials"])
    return Plan(ConfigSequenceSearcher(configs), None, len(configs), len(configs) * budget.epochs)


def _random(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    count = options["num_samples"]
    configs = space.sample_many(count, seed=options["seed"])
    return Plan(ConfigSequenceSearcher(configs), None, count, count * budget.epochs)


STRATEGIES: dict[str, Strategy] = {
    "grid": Strategy(
        "grid",
        "small spaces where every combination matters; exhaustive, and the trial count is known up front",
        (Option("max_trials", int, 10_000, 1, "refuse grids larger than this"),),
        _grid,
    ),
    "random": Strategy(
        "random",
        "large spaces with a few parameters that matter; seeded, so a run can be repeated exactly",
        (
            Option("num_samples", int, 10, 1, "number of configurations to try"),
            Option("seed", int, 0, 0, "the same seed gives the same configurations"),
        ),
        _random,
    ),
}


def check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validates a strategy's options against its registry entry and fills in defaults."""
    declared = {option.name: option for option in STRATEGIES[name].options}
    for key in options:
        if key not in declared:
            allowed = ", ".join(declared) or "no options"
            raise SpecError(
                f"strategy.{key}: not an option of strategy {name}; allowed: {allowed}{did_you_mean(key, declared)}"
            )
    checked: dict[str, Any] = {}
    for option in declared.values():
        value = options.get(option.name, option.default)
        numeric = option.kind is float and isinstance(value, int)
        if isinstance(value, bool) or not (isinstance(value, option.kind) or numeric):
            raise SpecError(f"strategy.{option.name}: expected {option.kind.__name__}, got {value!r}")
        if option.minimum is not None and value < option.minimum:
            raise SpecError(f"strategy.{option.name}: must be >= {option.minimum:g}, got {value}")
        checked[option.name] = value
    return checked


def plan_strategy(space: Space, name: str, options: Mapping[str, Any], budget: Budget) -> Plan:
    """Ray pieces for `name`; SpaceError if the space cannot be searched that way."""
    return STRATEGIES[name].plan(space, options, budget)
