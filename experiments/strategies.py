"""Strategy registry: a name in the YAML -> the Ray search algorithm and scheduler that run it.

A strategy is one `Strategy` entry: its options (validated like the rest of the spec) and a
`plan` function that turns the space and options into Ray pieces plus the trial and epoch
counts a user can check with `--dry-run` before anything runs.
"""
from __future__ import annotations

import math
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import ConcurrencyLimiter, Searcher

from tunelab.checks import did_you_mean
from tunelab.errors import shown
from tunelab.experiments.errors import SpecError
from tunelab.experiments.manual import one_factor_at_a_time, published_configs
from tunelab.experiments.schedulers import (
    HyperbandScheduler,
    RecordingASHAScheduler,
    SuccessiveHalvingScheduler,
    halving_to_one_rungs,
    hyperband_brackets,
    hyperband_epochs,
    hyperband_rungs,
    refuse_without_checkpoints,
    rung_trials,
    successive_halving_epochs,
)
from tunelab.experiments.searchers import (
    ACQUISITIONS, ChainedSearcher, ConfigSequenceSearcher, LabelledSequenceSearcher, UnitCubeBayesSearch,
)
from tunelab.experiments.spec import SEED_LIMIT
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import Space


@dataclass(frozen=True)
class Option:
    """One strategy option: its type, default, lower bound and, for a closed set, its allowed values."""

    name: str
    kind: type | tuple[type, ...]
    default: Any
    minimum: float | None = None
    doc: str = ""
    choices: tuple = ()
    maximum: int | None = None


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


@dataclass(frozen=True)
class Plan:
    """Ray pieces for one experiment, and the most trials and epochs they can use."""

    searcher: Searcher
    scheduler: TrialScheduler | None
    num_samples: int
    max_epochs: int
    notes: tuple[str, ...] = ()  # shown by --dry-run, e.g. the Hyperband brackets


@dataclass(frozen=True)
class Strategy:
    """A registry entry: `when` tells users when to pick it."""

    name: str
    when: str
    options: tuple[Option, ...]
    plan: Callable[[Space, Mapping[str, Any], Budget], Plan]


@dataclass(frozen=True)
class SchedulerKind:
    """An early-stopping scheduler any search strategy can run under (`scheduler:` option)."""

    name: str
    when: str
    options: tuple[Option, ...]
    build: Callable[[Mapping[str, Any], Budget, int, str], TrialScheduler]
    pauses: bool  # pausing schedulers resume trials from checkpoints taken at their rungs


# --- schedulers -----------------------------------------------------------------------------


def _asha(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> TrialScheduler:
    return RecordingASHAScheduler(
        max_t=budget.epochs, metric=budget.metric, mode=budget.mode, grace_period=options["grace_period"],
        reduction_factor=options["reduction_factor"], brackets=options["brackets"], events=budget.events,
    )


def _hyperband(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> TrialScheduler:
    refuse_without_checkpoints(budget.checkpoint_every, hyperband_rungs(budget.epochs, options["reduction_factor"]),
                               "hyperband")
    largest = min(num_trials, hyperband_brackets(budget.epochs, options["reduction_factor"])[0][0])
    _refuse_concurrency_limit(budget, largest, "a Hyperband bracket")
    return HyperbandScheduler(max_t=budget.epochs, metric=budget.metric, mode=budget.mode,
                              reduction_factor=options["reduction_factor"], events=budget.events)


def _sha(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> TrialScheduler:
    rungs = _sha_rungs(options, budget, num_trials, where)
    refuse_without_checkpoints(budget.checkpoint_every, rungs, "sha")
    _refuse_concurrency_limit(budget, num_trials, "successive halving")
    return SuccessiveHalvingScheduler(num_trials=num_trials, rungs=rungs, metric=budget.metric, mode=budget.mode,
                                      reduction_factor=options["reduction_factor"], events=budget.events)


def _sha_rungs(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> list[int]:
    return halving_to_one_rungs(num_trials, budget.epochs, options["reduction_factor"], options["min_epochs"], where)


def _refuse_concurrency_limit(budget: Budget, cohort: int, scheduler: str) -> None:
    """Ray counts paused trials as running: a limit below a cohort that pauses at its rung never lets it fill."""
    if 0 < budget.max_concurrent_trials < cohort:
        raise SpecError(
            f"{budget.concurrency_key}: {budget.max_concurrent_trials} would leave {scheduler} waiting forever "
            f"for the rest of its {cohort} trials (paused trials count as running); raise it to {cohort} or "
            f"more, or limit concurrency with resources.cpu instead"
        )


_FACTOR = Option("reduction_factor", int, 3, 2, "keep 1/factor of the trials at each rung")
SCHEDULERS: dict[str, SchedulerKind] = {
    "asha": SchedulerKind(
        "asha", "stop poor trials early without waiting for a rung to fill; no checkpoints needed",
        (Option("grace_period", int, 1, 1, "epochs every trial gets before it can be stopped"), _FACTOR,
         Option("brackets", int, 1, 1, "number of brackets (different grace periods)")),
        _asha, pauses=False,
    ),
    "hyperband": SchedulerKind(
        "hyperband", "several successive-halving brackets, from aggressive to patient; pauses and resumes trials",
        (_FACTOR,), _hyperband, pauses=True,
    ),
    "sha": SchedulerKind(
        "sha", "synchronous successive halving: all trials reach a rung, the best 1/factor continue",
        (_FACTOR, Option("min_epochs", (int, type(None)), None, 1,
                         "epochs of the first rung (default: epochs / factor^k, k the halvings that leave one)")),
        _sha, pauses=True,
    ),
}


def _with_scheduler(plan: Plan, options: Mapping[str, Any], budget: Budget, where: str = "strategy.scheduler"
                    ) -> Plan:
    """Attaches the `scheduler:` option of a search strategy, if any."""
    chosen = options.get("scheduler")
    if chosen is None:
        return plan
    name, scheduler_options = chosen
    for key in ("grace_period", "min_epochs"):  # a rung past the last epoch would never be reached
        value = scheduler_options.get(key)
        if value is not None and value > budget.epochs:
            raise SpecError(f"{where}.{key}: {value} is above epochs ({budget.epochs}); "
                            f"the first rung must come at or before a trial's last epoch")
    own = _searcher_limit(plan.searcher)  # bayes limits itself: paused trials count against it too
    if own and not budget.max_concurrent_trials:
        budget = dataclasses.replace(budget, max_concurrent_trials=own, concurrency_key="strategy.max_concurrent")
    scheduler = SCHEDULERS[name].build(scheduler_options, budget, plan.num_samples, where)
    trials = plan.num_samples
    return Plan(plan.searcher, scheduler, trials, _epoch_bound(name, scheduler_options, budget, trials, where),
                (*plan.notes, *_notes(name, budget, scheduler_options, trials, where)))


def _searcher_limit(searcher: Any) -> int:
    """The concurrency limit a searcher (or a wrapper of it) sets itself; 0 for none."""
    while searcher is not None:
        limit = getattr(searcher, "max_concurrent", 0)
        if isinstance(limit, int) and limit > 0:
            return limit
        searcher = getattr(searcher, "searcher", None)
    return 0


def _epoch_bound(name: str, options: Mapping[str, Any], budget: Budget, trials: int, where: str) -> int:
    """Epochs a scheduler can train at most; exact for the synchronous ones, successive halving and Hyperband."""
    factor = options.get("reduction_factor")
    if name == "sha":
        return successive_halving_epochs(trials, _sha_rungs(options, budget, trials, where), factor)
    if name == "hyperband":
        return hyperband_epochs(trials, budget.epochs, factor)
    return trials * budget.epochs


def _notes(name: str, budget: Budget, options: Mapping[str, Any], trials: int, where: str) -> tuple[str, ...]:
    if name == "sha":
        rungs = _sha_rungs(options, budget, trials, where)
        at_rungs = ", ".join(f"epoch {rung}: {count}" for rung, count in
                             zip(rungs, rung_trials(trials, rungs, options["reduction_factor"])))
        return (f"sha: {trials} configurations, {len(rungs) - 1} halvings by factor {options['reduction_factor']}; "
                f"trials at each rung: {at_rungs}",)
    if name == "hyperband":
        brackets = hyperband_brackets(budget.epochs, options["reduction_factor"])
        described = "; ".join(f"{n} trials from epoch {r}" for n, r in brackets)
        return (f"hyperband: {len(brackets)} brackets ({described})",)
    return ()


# --- search strategies ------------------------------------------------------------------------


def _grid(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs = space.grid(limit=options["max_trials"])
    return Plan(ConfigSequenceSearcher(configs), None, len(configs), len(configs) * budget.epochs)


def _random(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    count = options["num_samples"]
    configs = space.sample_many(count, seed=options["seed"])  # distinct: a configuration never runs twice
    notes = () if len(configs) == count else (
        f"random: the space holds only {len(configs)} configurations; each runs once, {len(configs)} trials "
        f"instead of num_samples {count}",)
    return Plan(ConfigSequenceSearcher(configs), None, len(configs), len(configs) * budget.epochs, notes)


def _bayes(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    searcher = UnitCubeBayesSearch(
        space, budget.metric, budget.mode, seed=options["seed"], random_steps=options["random_steps"],
        acquisition=options["acquisition"], kappa=options["kappa"], xi=options["xi"],
    )
    count, limit = options["num_samples"], options["max_concurrent"]
    if budget.max_concurrent_trials and budget.max_concurrent_trials != limit:  # Ray refuses both, once running
        raise SpecError(
            f"max_concurrent_trials: {budget.max_concurrent_trials} differs from strategy.max_concurrent {limit}; "
            "bayes limits its own concurrency, so leave max_concurrent_trials out or make the two equal"
        )
    return Plan(ConcurrencyLimiter(searcher, limit), None, count, count * budget.epochs)


def _manual(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs, labels = published_configs(space, options["configs"])
    first = LabelledSequenceSearcher(configs, labels, budget.events)
    if options["then"] is None:
        return Plan(first, None, len(configs), len(configs) * budget.epochs)
    then_name, then_options = options["then"]
    follow = plan_strategy(space, then_name, then_options, budget)
    count = len(configs) + follow.num_samples
    searcher = ChainedSearcher(first, follow.searcher, budget.metric, budget.mode)
    return Plan(searcher, follow.scheduler, count, count * budget.epochs, follow.notes)


def _ofat(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs, labels = one_factor_at_a_time(space, options["baseline"], options["factors"])
    searcher = LabelledSequenceSearcher(configs, labels, budget.events)
    return Plan(searcher, None, len(configs), len(configs) * budget.epochs)


def _random_under(scheduler: str) -> Callable[[Space, Mapping[str, Any], Budget], Plan]:
    """Random search under `scheduler`: the course's sha, hyperband and asha as one-word strategies."""

    def plan(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
        searched = _random(space, options, budget)
        scheduler_options = {key: value for key, value in options.items() if key not in ("num_samples", "seed")}
        return _with_scheduler(searched, {"scheduler": (scheduler, scheduler_options)}, budget, "strategy")

    return plan


_SCHEDULER = Option("scheduler", (str, dict, type(None)), None, None,
                    "an early-stopping scheduler: asha, hyperband or sha, or {name: asha, grace_period: 2}")
MAX_TRIALS = 10_000  # configurations are drawn before the first trial: a plan must stay this small
MAX_GRID = 1_000_000  # a grid is enumerated, not sampled: cheap enough to cut afterwards (KerasTuner's max_trials)
_SAMPLES = Option("num_samples", int, 10, 1, "number of configurations to try", maximum=MAX_TRIALS)
_SEED = Option("seed", int, 0, 0, "the same seed gives the same configurations", maximum=SEED_LIMIT)

STRATEGIES: dict[str, Strategy] = {
    "manual": Strategy(
        "manual",
        "start from configurations others published (each with its source), optionally followed by a search",
        (Option("configs", list, None, None, "[{source: ..., params: {...}}, ...]"),
         Option("then", (str, dict, type(None)), None, None, "a search strategy to run afterwards"), _SCHEDULER),
        _manual,
    ),
    "ofat": Strategy(
        "ofat",
        "manual tweaking made reproducible: from a baseline, vary one hyperparameter at a time",
        (Option("baseline", dict, None, None, "a value for every parameter of the space"),
         Option("factors", (list, type(None)), None, None, "parameters to vary (default: every one the baseline uses)"),
         _SCHEDULER),
        _ofat,
    ),
    "grid": Strategy(
        "grid",
        "small spaces where every combination matters; exhaustive, and the trial count is known up front",
        (Option("max_trials", int, MAX_TRIALS, 1, "refuse grids larger than this", maximum=MAX_GRID), _SCHEDULER),
        _grid,
    ),
    "random": Strategy(
        "random",
        "large spaces with a few parameters that matter; seeded, so a run can be repeated exactly",
        (_SAMPLES, _SEED, _SCHEDULER),
        _random,
    ),
    "bayes": Strategy(
        "bayes",
        "a few expensive trials over continuous and mixed spaces: each result steers the next configuration",
        (
            Option("num_samples", int, 20, 1, "number of configurations to try", maximum=MAX_TRIALS),
            Option("seed", int, 0, 0, "the same seed gives the same configurations (with max_concurrent 1)",
                   maximum=SEED_LIMIT),
            Option("random_steps", int, 5, 1, "random configurations before the Gaussian process takes over"),
            Option("acquisition", str, "ucb", None, "how the next point is chosen", ACQUISITIONS),
            Option("kappa", float, 2.576, 0, "ucb: higher explores more"),
            Option("xi", float, 0.0, 0, "ei and poi: higher explores more"),
            Option("max_concurrent", int, 2, 1, "trials at once; each pending trial is a point the GP cannot use"),
            _SCHEDULER,
        ),
        _bayes,
    ),
    **{
        name: Strategy(name, kind.when, (_SAMPLES, _SEED, *kind.options), _random_under(name))
        for name, kind in SCHEDULERS.items()
    },
}
_SEARCHES = ("manual", "ofat", "grid", "random", "bayes")  # strategies that take a `scheduler:` option


def check_options(name: str, options: Mapping[str, Any], where: str = "strategy") -> dict[str, Any]:
    """Validates a strategy's options against its registry entry and fills in defaults."""
    checked = _check(STRATEGIES[name].options, options, where, f"strategy {name}")
    if "scheduler" in checked:
        checked["scheduler"] = _check_scheduler(checked["scheduler"], f"{where}.scheduler")
    if name == "manual":
        if checked["configs"] is None:
            raise SpecError(f"{where}.configs: the manual strategy needs a list of published configurations")
        if checked["then"] is not None:
            checked["then"] = _check_nested_strategy(checked["then"], f"{where}.then")
    if name == "ofat" and checked["baseline"] is None:
        raise SpecError(f"{where}.baseline: the ofat strategy needs a baseline configuration")
    return checked


def _check(declared_options: tuple[Option, ...], options: Mapping[str, Any], where: str, owner: str) -> dict:
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


def _named(raw: Any, where: str, registry: Mapping[str, Any], kind: str) -> tuple[str, dict]:
    raw = {"name": raw} if isinstance(raw, str) else dict(raw)
    name = raw.pop("name", None)
    if name not in registry:
        raise SpecError(
            f"{where}.name: {shown(name)} is not a {kind}; allowed: {', '.join(registry)}"
            + (did_you_mean(name, registry) if isinstance(name, str) else "")
        )
    return name, raw


def _check_scheduler(raw: Any, where: str) -> tuple[str, dict] | None:
    if raw is None:
        return None
    name, options = _named(raw, where, SCHEDULERS, "scheduler")
    return name, _check(SCHEDULERS[name].options, options, where, f"scheduler {name}")


def _check_nested_strategy(raw: Any, where: str) -> tuple[str, dict]:
    name, options = _named(raw, where, {k: v for k, v in STRATEGIES.items() if k != "manual"}, "strategy to follow")
    return name, check_options(name, options, where)


def plan_strategy(space: Space, name: str, options: Mapping[str, Any], budget: Budget) -> Plan:
    """Ray pieces for `name`; SpaceError or SpecError if the space cannot be searched that way."""
    plan = STRATEGIES[name].plan(space, options, budget)
    return _with_scheduler(plan, options, budget) if name in _SEARCHES else plan
