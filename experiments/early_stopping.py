"""The `scheduler:` option: early-stopping schedulers any search strategy runs under.

A `SchedulerKind` is a registry entry: its options, whether it pauses trials (and so needs a
checkpoint at every rung), and `build`, which checks the options against the experiment's budget
and returns the Ray scheduler. `with_scheduler` attaches one to a search's plan, with the exact
epoch count and the rungs or brackets `--dry-run` shows.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ray.tune.schedulers import TrialScheduler

from tunelab.experiments.errors import SpecError
from tunelab.experiments.plans import Budget, Option, Plan, check_declared, named_entry
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


@dataclass(frozen=True)
class SchedulerKind:
    """An early-stopping scheduler any search strategy can run under (`scheduler:` option)."""

    name: str
    when: str
    options: tuple[Option, ...]
    build: Callable[[Mapping[str, Any], Budget, int, str], TrialScheduler]
    pauses: bool  # pausing schedulers resume trials from checkpoints taken at their rungs


def refuse_concurrency_limit(budget: Budget, cohort: int, scheduler: str) -> None:
    """Ray counts paused trials as running: a limit below a cohort that pauses at its rung never lets it fill."""
    if 0 < budget.max_concurrent_trials < cohort:
        raise SpecError(
            f"{budget.concurrency_key}: {budget.max_concurrent_trials} would leave {scheduler} waiting forever "
            f"for the rest of its {cohort} trials (paused trials count as running); raise it to {cohort} or "
            f"more, or limit concurrency with resources.cpu instead"
        )


def _asha(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> TrialScheduler:
    return RecordingASHAScheduler(
        max_t=budget.epochs, metric=budget.metric, mode=budget.mode, grace_period=options["grace_period"],
        reduction_factor=options["reduction_factor"], brackets=options["brackets"], events=budget.events,
    )


def _hyperband(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> TrialScheduler:
    refuse_without_checkpoints(budget.checkpoint_every, hyperband_rungs(budget.epochs, options["reduction_factor"]),
                               "hyperband")
    largest = min(num_trials, hyperband_brackets(budget.epochs, options["reduction_factor"])[0][0])
    refuse_concurrency_limit(budget, largest, "a Hyperband bracket")
    return HyperbandScheduler(max_t=budget.epochs, metric=budget.metric, mode=budget.mode,
                              reduction_factor=options["reduction_factor"], events=budget.events)


def _sha(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> TrialScheduler:
    rungs = _sha_rungs(options, budget, num_trials, where)
    refuse_without_checkpoints(budget.checkpoint_every, rungs, "sha")
    refuse_concurrency_limit(budget, num_trials, "successive halving")
    return SuccessiveHalvingScheduler(num_trials=num_trials, rungs=rungs, metric=budget.metric, mode=budget.mode,
                                      reduction_factor=options["reduction_factor"], events=budget.events)


def _sha_rungs(options: Mapping[str, Any], budget: Budget, num_trials: int, where: str) -> list[int]:
    return halving_to_one_rungs(num_trials, budget.epochs, options["reduction_factor"], options["min_epochs"], where)


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


def check_scheduler(raw: Any, where: str) -> tuple[str, dict] | None:
    """A `scheduler:` value (a name, or a mapping with a name and options) -> (name, checked options)."""
    if raw is None:
        return None
    name, options = named_entry(raw, where, SCHEDULERS, "scheduler")
    return name, check_declared(SCHEDULERS[name].options, options, where, f"scheduler {name}")


def with_scheduler(plan: Plan, options: Mapping[str, Any], budget: Budget, where: str = "strategy.scheduler"
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
