"""The `scheduler:` option: early-stopping schedulers any search strategy runs under.

A `SchedulerKind` is a registry entry: its options, whether it pauses trials (and so needs a
checkpoint at every rung), and `build`, which checks the options against the experiment's budget
and returns the Ray scheduler, and `describe`, which counts the epochs it trains at most and writes
the rungs or brackets `--dry-run` shows, both from the plan's own trials (12 Hyperband trials fill
9 + 3 of a 9 + 5 + 3 band, and the lines say so). `with_scheduler` attaches one to a search's plan.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ray.tune.schedulers import TrialScheduler

from tunelab.experiments.errors import SpecError
from tunelab.experiments.plans import Budget, Option, Plan, check_declared, named_entry
from tunelab.experiments.run.ray_internals import AshaInternals
from tunelab.experiments.schedulers import (
    HyperbandScheduler, RecordingASHAScheduler, SuccessiveHalvingScheduler, halving_to_one_rungs, hyperband_brackets,
    hyperband_epochs, hyperband_fill, hyperband_rungs, refuse_without_checkpoints, rung_trials,
    successive_halving_epochs, successive_halving_rungs,
)


@dataclass(frozen=True)
class SchedulerKind:
    """An early-stopping scheduler any search strategy can run under (`scheduler:` option)."""

    name: str
    when: str
    options: tuple[Option, ...]
    build: Callable[[Mapping[str, Any], Budget, int, str], TrialScheduler]
    pauses: bool  # pausing schedulers resume trials from checkpoints taken at their rungs
    # (options, budget, trials, where, the built scheduler) -> the most epochs it trains, and what --dry-run
    # shows of it: both counted from the same trials, so the summary line and the rungs agree
    describe: Callable[[Mapping[str, Any], Budget, int, str, TrialScheduler], tuple[int, tuple[str, ...]]]


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


# --- what each scheduler trains at most, and the lines --dry-run shows of it ---------------------------


def _sha_plan(options: Mapping[str, Any], budget: Budget, trials: int, where: str, scheduler: TrialScheduler
              ) -> tuple[int, tuple[str, ...]]:
    """Exact: every rung's trials are known before the run."""
    factor, rungs = options["reduction_factor"], _sha_rungs(options, budget, trials, where)
    return successive_halving_epochs(trials, rungs, factor), (
        f"sha: {trials} configurations, {len(rungs) - 1} halvings by factor {factor}; "
        f"trials at each rung: {_at_rungs(trials, rungs, factor)}",)


def _hyperband_plan(options: Mapping[str, Any], budget: Budget, trials: int, where: str, scheduler: TrialScheduler
                    ) -> tuple[int, tuple[str, ...]]:
    """Exact: the brackets the trials fill (`hyperband_fill`), not the whole band when they are fewer."""
    factor = options["reduction_factor"]
    return hyperband_epochs(trials, budget.epochs, factor), _hyperband_notes(budget.epochs, factor, trials)


def _asha_plan(options: Mapping[str, Any], budget: Budget, trials: int, where: str, scheduler: TrialScheduler
               ) -> tuple[int, tuple[str, ...]]:
    """At most: a trial above every cutoff trains all its epochs."""
    note = _asha_note(AshaInternals(scheduler).milestones(), budget.epochs, options["reduction_factor"], trials)
    return trials * budget.epochs, (note,)


def _at_rungs(trials: int, rungs: list[int], factor: int) -> str:
    """`epoch 1: 9, epoch 3: 3, epoch 9: 1`: how many of `trials` train to each rung."""
    return ", ".join(f"epoch {rung}: {count}" for rung, count in zip(rungs, rung_trials(trials, rungs, factor)))


def _hyperband_notes(epochs: int, factor: int, trials: int) -> tuple[str, ...]:
    """A line for the brackets, then one per bracket the trials reach, with the trials at each of its rungs.

    Full bands are alike: one line per bracket for all of them ("bands 1-3, bracket 1"), so 10,000 trials
    stay readable.
    """
    brackets = hyperband_brackets(epochs, factor)
    filled = hyperband_fill(trials, epochs, factor)
    per_band = sum(size for size, _ in brackets)
    bands, full = filled[-1][0] + 1, trials // per_band  # bands begun; bands whose every bracket is filled
    sizes = " + ".join(str(size) for size, _ in brackets)
    if trials == per_band:
        shape = f"its {len(brackets)} brackets ({sizes})"
    elif bands == 1:
        shape = f"{len(filled)} of its {len(brackets)} brackets of {sizes}; {per_band} trials fill all {len(brackets)}"
    else:
        shape = f"{len(filled)} brackets, bands of {sizes} = {per_band} trials filled in turn"
    lines = [f"hyperband: {trials} trials in {shape}; trials at each rung:"]
    for band, index, count in filled:
        if 0 < band < full:
            continue  # the first full band's lines stand for them all
        if bands == 1:
            where = f"bracket {index + 1}"
        elif band < full and full > 1:
            where = f"bands 1-{full}, bracket {index + 1} of each"
        else:
            where = f"band {band + 1}, bracket {index + 1}"
        size, first = brackets[index]
        of = "" if count == size else f" ({count} of its {size})"
        lines.append(f"  {where}, from epoch {first}{of}: "
                     f"{_at_rungs(count, successive_halving_rungs(epochs, factor, first), factor)}")
    return tuple(lines)


def _asha_note(milestones: list[list[int]], epochs: int, factor: int, trials: int) -> str:
    """ASHA's rungs as Ray built them; how many trials stop at each is decided only as results arrive."""
    rungs = [[rung for rung in bracket if rung < epochs] for bracket in milestones]
    if not any(rungs):
        return f"asha: {trials} trials, no rung before epoch {epochs}: every trial trains all {epochs} epochs"
    shown = [", ".join(map(str, bracket)) or "none" for bracket in rungs]
    where = f"rungs at epochs {shown[0]}" if len(rungs) == 1 else (
        f"in {len(rungs)} brackets, each trial's drawn at random: rungs at epochs "
        + "; ".join(f"{rung} (bracket {k})" for k, rung in enumerate(shown, start=1)))
    least = min(bracket[0] if bracket else epochs for bracket in rungs)
    return (f"asha: {trials} trials, {where}; a trial below the best 1/{factor} of the results recorded at its "
            f"rung so far stops there, so how many go on is decided as results arrive: each trial trains {least} "
            f"to {epochs} epochs")


_FACTOR = Option("reduction_factor", int, 3, 2, "keep 1/factor of the trials at each rung")
SCHEDULERS: dict[str, SchedulerKind] = {
    "asha": SchedulerKind(
        "asha", "stop poor trials early without waiting for a rung to fill; no checkpoints needed",
        (Option("grace_period", int, 1, 1, "epochs every trial gets before it can be stopped"), _FACTOR,
         Option("brackets", int, 1, 1, "number of brackets (different grace periods)")),
        _asha, pauses=False, describe=_asha_plan,
    ),
    "hyperband": SchedulerKind(
        "hyperband", "several successive-halving brackets, from aggressive to patient; pauses and resumes trials",
        (_FACTOR,), _hyperband, pauses=True, describe=_hyperband_plan,
    ),
    "sha": SchedulerKind(
        "sha", "synchronous successive halving: all trials reach a rung, the best 1/factor continue",
        (_FACTOR, Option("min_epochs", (int, type(None)), None, 1,
                         "epochs of the first rung (default: epochs / factor^k, k the halvings that leave one)")),
        _sha, pauses=True, describe=_sha_plan,
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
    trials = plan.num_samples
    scheduler = SCHEDULERS[name].build(scheduler_options, budget, trials, where)
    epochs, notes = SCHEDULERS[name].describe(scheduler_options, budget, trials, where, scheduler)
    return Plan(plan.searcher, scheduler, trials, epochs, (*plan.notes, *notes))


def _searcher_limit(searcher: Any) -> int:
    """The concurrency limit a searcher (or a wrapper of it) sets itself; 0 for none."""
    while searcher is not None:
        limit = getattr(searcher, "max_concurrent", 0)
        if isinstance(limit, int) and limit > 0:
            return limit
        searcher = getattr(searcher, "searcher", None)
    return 0
