"""Early-stopping schedulers on the trainable's own `epoch`: successive halving, Hyperband, ASHA.

Rungs and brackets are computed with integers only: `math.log(243, 3)` is 4.999…, and
bracket formulas built on floating-point logarithms gain or lose a bracket at exact powers.
Every scheduler writes its decisions (paused, resumed, stopped, with the rung and the value
that decided it) to the experiment's `TrialEventLog`, because Ray keeps no record of them.

Ray pauses a trial by saving its last reported checkpoint and stopping its actor, so a paused
trial holds no CPU; resuming restores that checkpoint. A pausing scheduler therefore needs a
checkpoint at every rung (`refuse_without_checkpoints`), or a resumed trial retrains epochs.
Ray also restarts a paused trial with the result files of its last periodic sync to storage;
`_store_trial_logs` refreshes them first, so the epochs before the pause stay in its history.

A resumed experiment (`Tuner.restore` after the driver died) gets the scheduler back as it was
pickled before the first trial, with no rungs, cohorts or brackets, and Ray re-adds every
restored trial through `on_trial_add`, paused and running ones as PENDING. Each scheduler
therefore rebuilds its state from what Ray does restore: every trial's status and last result.
See `_replay_halvings` for what that can and cannot tell.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ray.tune.experiment import Trial
from ray.tune.result import DEFAULT_METRIC, EXPR_PROGRESS_FILE, EXPR_RESULT_FILE
from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandScheduler, TrialScheduler
from ray.tune.schedulers.hyperband import _Bracket as _HyperBandBracket

from tunelab.errors import shown
from tunelab.experiments.errors import SpecError
from tunelab.experiments.trial_events import TrialEventLog

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController

__all__ = [
    "TIME_ATTR",
    "ExactHyperBandScheduler",
    "RecordingASHAScheduler",
    "SuccessiveHalvingScheduler",
    "hyperband_brackets",
    "hyperband_rungs",
    "integer_log",
    "refuse_concurrency_limit",
    "refuse_without_checkpoints",
    "successive_halving_epochs",
    "successive_halving_rungs",
]

TIME_ATTR = "epoch"
"""The trainable's own 1-based epoch counter; unlike training_iteration it survives restores."""


# --- integer arithmetic of rungs and brackets ------------------------------------------------


def integer_log(n: int, base: int) -> int:
    """The largest k with base**k <= n, by multiplication: integer_log(243, 3) is 5, not 4."""
    _check_int("n", n, 1)
    _check_int("base", base, 2)
    k, power = 0, base
    while power <= n:
        k, power = k + 1, power * base
    return k


def successive_halving_rungs(max_t: int, reduction_factor: int = 3, min_t: int | None = None) -> list[int]:
    """Epochs at which successive halving compares trials: min_t * eta**i, ending with max_t.

    The default min_t is max_t // eta**k for the largest k that leaves it >= 1, so that
    max_t 9, eta 3 gives [1, 3, 9] and max_t 10 gives [1, 3, 10] (max_t replaces 9, as in
    Hyperband's brackets, rather than adding a rung one epoch later).
    """
    _check_int("max_t", max_t, 1)
    _check_int("reduction_factor", reduction_factor, 2)
    if min_t is None:
        min_t = max_t // reduction_factor ** integer_log(max_t, reduction_factor)
    _check_int("min_t", min_t, 1)
    if min_t > max_t:
        raise ValueError(f"min_t must be <= max_t; got {min_t} > {max_t}")
    halvings = integer_log(max_t // min_t, reduction_factor)
    if halvings == 0 and min_t < max_t:
        raise ValueError(
            f"min_t {min_t} leaves no rung before max_t {max_t} with reduction_factor {reduction_factor}; "
            f"use min_t <= {max_t // reduction_factor}, or min_t = max_t for no early stopping"
        )
    return [min_t * reduction_factor**i for i in range(halvings)] + [max_t]


def successive_halving_epochs(num_trials: int, rungs: list[int], reduction_factor: int = 3) -> int:
    """Epochs that successive halving trains in all: 9 trials, rungs [1, 3, 9], eta 3 gives 21."""
    total, alive, done = 0, num_trials, 0
    for rung in rungs:
        total, done = total + alive * (rung - done), rung
        alive = max(1, alive // reduction_factor)
    return total


def hyperband_brackets(max_t: int, reduction_factor: int = 3) -> list[tuple[int, int]]:
    """(configurations, first-rung epochs) of each Hyperband bracket, most aggressive first.

    s_max = integer_log(max_t, eta); bracket s starts ceil((s_max + 1) * eta**s / (s + 1))
    configurations at max_t // eta**s epochs, as in Li et al. (2018): 81, 3 gives
    [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)].
    """
    _check_int("max_t", max_t, 1)
    _check_int("reduction_factor", reduction_factor, 2)
    s_max = integer_log(max_t, reduction_factor)
    return [
        (-(-(s_max + 1) * reduction_factor**s // (s + 1)), max_t // reduction_factor**s)
        for s in range(s_max, -1, -1)
    ]


def hyperband_rungs(max_t: int, reduction_factor: int = 3) -> list[int]:
    """Every epoch at which some Hyperband bracket compares (and may pause) trials, ascending."""
    return sorted({
        rung
        for _, first in hyperband_brackets(max_t, reduction_factor)
        for rung in successive_halving_rungs(max_t, reduction_factor, first)
    })


def refuse_without_checkpoints(checkpoint_every: int, rungs: Iterable[int], strategy: str) -> None:
    """SpecError unless the trainable checkpoints at every rung a trial may pause at.

    The last rung is max_t, where the trainable always checkpoints; at any other rung that
    `checkpoint_every` does not divide, a resumed trial would retrain from an older checkpoint.
    """
    _check_int("checkpoint_every", checkpoint_every, 1)
    *pausing, _ = sorted(rungs)
    missed = [rung for rung in pausing if rung % checkpoint_every]
    if missed:
        epochs = ", ".join(map(str, missed))
        raise SpecError(
            f"checkpoint_every: {checkpoint_every} leaves no checkpoint at epoch {epochs}, where {strategy} "
            f"pauses trials, so they would retrain from an older one; use 1 or a divisor of every rung "
            f"({', '.join(map(str, pausing))})"
        )


def refuse_concurrency_limit(search_alg: Any, num_trials: int) -> None:
    """ValueError if Ray's concurrency limit would keep synchronous successive halving waiting forever.

    `max_concurrent_trials` (ConcurrencyLimiter, BasicVariantGenerator(max_concurrent)) counts
    paused trials as live, so with a limit below num_trials no trial after the limit starts while
    the first ones wait, paused, for it at the first rung. Limit concurrency with resources instead.
    """
    searcher = search_alg
    while searcher is not None:
        limit = getattr(searcher, "max_concurrent", 0)
        if isinstance(limit, int) and 0 < limit < num_trials:
            raise ValueError(
                f"max_concurrent_trials: {limit} is below the {num_trials} trials that successive halving "
                f"pauses at its first rung, and Ray counts paused trials as running, so the rest would "
                f"never start; leave it unset and limit concurrency with per-trial resources"
            )
        searcher = getattr(searcher, "searcher", None)


# --- synchronous successive halving ---------------------------------------------------------


class SuccessiveHalvingScheduler(TrialScheduler):
    """Synchronous successive halving: one cohort of `num_trials`, compared at every rung.

    Every trial trains to the first rung and pauses. When the whole cohort has reported there
    (trials that errored or ended early drop out of it), the best max(1, n // eta) resume from
    their checkpoints and the others stop; at the last rung, max_t, the survivors finish.
    `num_trials` tells when the cohort is complete, since a searcher hands out trials one by one.

    After a driver crash the halvings already made are replayed from each trial's last result
    (`_rebuild`), so the resumed run keeps the same survivors and trains no epoch twice.
    """

    _supports_buffered_results = False  # a buffered result could carry a trial past its rung

    def __init__(
        self,
        *,
        num_trials: int,
        max_t: int,
        metric: str | None = None,
        mode: str | None = None,
        reduction_factor: int = 3,
        min_t: int | None = None,
        events: TrialEventLog | None = None,
    ) -> None:
        super().__init__()
        _check_int("num_trials", num_trials, 1)
        self.rungs = successive_halving_rungs(max_t, reduction_factor, min_t)
        self._num_trials = num_trials
        self._eta = reduction_factor
        self._events = events if events is not None else TrialEventLog()
        self._metric: str | None = None
        self._mode: str | None = None
        self.set_search_properties(metric, _check_mode(mode))
        self._rung = 0  # index into self.rungs of the rung the cohort trains towards
        self._cohort: dict[Trial, dict | None] = {}  # trial -> its result at the rung, None until there
        self._arrival: dict[Trial, int] = {}  # every trial ever added; the order breaks metric ties
        self._errored: set[Trial] = set()  # out of the cohort unless Ray retries them (on_trial_add)
        self._to_resume: list[Trial] = []  # promoted trials that are still paused
        self._restored = False  # trials came back from a crashed run: rebuild before running any

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if _conflicts(self, metric, mode):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        return True

    # -- Ray's hooks

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        if not self._metric or self._mode not in ("min", "max"):
            raise ValueError(f"{type(self).__name__} needs a metric and a mode (min or max)")
        if not self._arrival:
            refuse_concurrency_limit(tune_controller.search_alg, self._num_trials)
        if trial in self._errored:  # Ray retries a failed trial by adding it again
            self._errored.discard(trial)
            self._cohort[trial] = None
        elif trial not in self._arrival:
            self._restored = self._restored or _restored(trial)
            self._arrival[trial] = len(self._arrival)
            if self._rung == 0:  # later arrivals missed the first comparison
                self._cohort[trial] = None

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        epoch = result[TIME_ATTR]
        if trial not in self._cohort:
            # Only a trial beyond num_trials gets here: the first rung was decided without it.
            self._events.record(trial.trial_id, "stopped", epoch=epoch, rung=None, reason="after the first rung")
            return TrialScheduler.STOP
        if trial in self._to_resume:
            self._to_resume.remove(trial)
        rung = self.rungs[self._rung]
        if epoch < rung:
            return TrialScheduler.CONTINUE
        if self._rung == len(self.rungs) - 1:
            del self._cohort[trial]
            return TrialScheduler.STOP  # max_t reached: the trial is complete
        self._cohort[trial] = result
        if self._rung_complete(tune_controller):
            return self._halve(tune_controller, current=trial)
        self._events.record(trial.trial_id, "paused", epoch=epoch, rung=rung)
        return TrialScheduler.PAUSE

    def on_trial_complete(self, tune_controller: TuneController, trial: Trial, result: dict) -> None:
        self._leave(trial)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        self._leave(trial)

    def on_trial_error(self, tune_controller: TuneController, trial: Trial) -> None:
        # Ray calls on_trial_add right after this when it retries the trial, so the rung is
        # decided later, in choose_trial_to_run, once a retry could have re-admitted it.
        if self._leave(trial):
            self._errored.add(trial)

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._restored:  # Ray starts PENDING trials right after this call: decide before it does
            self._restored = False
            self._rebuild(tune_controller)
        if self._rung_complete(tune_controller):  # the cohort shrank by an error or removal
            self._halve(tune_controller, current=None)
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PENDING:
                return trial
        for trial in self._to_resume:
            if trial.status == Trial.PAUSED:
                _store_trial_logs(trial)
                return trial
        return None

    def debug_string(self) -> str:
        return (
            f"Successive halving: rung {self._rung + 1} of {len(self.rungs)} (epoch "
            f"{self.rungs[self._rung]}), {len(self._cohort)} trials in the cohort"
        )

    # -- resuming after a driver crash

    def _rebuild(self, tune_controller: TuneController) -> None:
        """Replays the halvings a crashed run had made, from every trial's status and last result.

        Survivors that were waiting at the current rung are paused again (Ray restores them as
        PENDING and would train them past it); trials that lost a halving, or reached max_t, are
        stopped (Ray may restore them as PAUSED, hence PENDING: see `_replay_halvings`). Their
        decisions are already in the events file, so none is recorded twice. Arrival order,
        which breaks ties, is the searcher's creation order, not the order Ray re-adds trials in.
        """
        trials = sorted(tune_controller.get_trials(), key=_creation_order)
        self._arrival = {trial: index for index, trial in enumerate(trials)}
        halvings, survivors, losers = _replay_halvings(
            trials, self.rungs, keep=lambda _, reached: max(1, reached // self._eta),
            rank=lambda trial: (_badness(_reported(trial).get(self._metric), self._mode), self._arrival[trial]),
            first_rung_complete=len(trials) >= self._num_trials or tune_controller.search_alg.is_finished(),
        )
        self._rung, self._cohort, self._to_resume, self._errored = halvings, {}, [], set()
        rung = self.rungs[halvings]
        for trial in survivors:
            if _ended(trial):
                continue
            if _epoch(trial) >= self.rungs[-1]:
                losers.append(trial)  # complete; only its stop was lost
            elif _epoch(trial) >= rung:
                self._cohort[trial] = _reported(trial)  # waiting at the rung
                tune_controller._set_trial_status(trial, Trial.PAUSED)
            else:
                self._cohort[trial] = None  # Ray restarts it from its checkpoint
        for trial in losers:
            if not _ended(trial):
                tune_controller.stop_trial(trial)

    # -- the halving itself

    def _leave(self, trial: Trial) -> bool:
        """Drops a trial that ended outside the scheduler's decisions; True if it was in the cohort."""
        if trial in self._to_resume:
            self._to_resume.remove(trial)
        if trial not in self._cohort:
            return False
        del self._cohort[trial]
        return True

    def _rung_complete(self, tune_controller: TuneController) -> bool:
        if self._rung == len(self.rungs) - 1 or not self._cohort:
            return False
        if any(result is None for result in self._cohort.values()):
            return False
        # The first rung also waits for trials the searcher has not handed out yet.
        return self._rung > 0 or len(self._arrival) >= self._num_trials or tune_controller.search_alg.is_finished()

    def _halve(self, tune_controller: TuneController, current: Trial | None) -> str:
        """Resumes the best max(1, n // eta) of the cohort and stops the rest; the answer for `current`."""
        rung, results = self.rungs[self._rung], dict(self._cohort)
        ranked = sorted(results, key=lambda trial: (_badness(results[trial][self._metric], self._mode),
                                                    self._arrival[trial]))
        keep = max(1, len(ranked) // self._eta)
        winners, losers = ranked[:keep], ranked[keep:]
        cutoff = results[winners[-1]][self._metric]
        # Update the state before stopping anyone: stop_trial calls back into on_trial_remove.
        self._rung += 1
        self._cohort = {trial: None for trial in winners}
        action = TrialScheduler.CONTINUE
        for rank, trial in enumerate(ranked, start=1):
            details = {"epoch": results[trial][TIME_ATTR], "rung": rung, "rank": rank, "of": len(ranked)}
            if trial in losers:
                self._events.record(trial.trial_id, "stopped", cutoff=cutoff, **details)
                if trial is current:
                    action = TrialScheduler.STOP
                else:
                    tune_controller.stop_trial(trial)
            elif trial is not current:
                self._events.record(trial.trial_id, "resumed", next_rung=self.rungs[self._rung], **details)
                self._to_resume.append(trial)
        return action


# --- Hyperband with integer brackets --------------------------------------------------------


class ExactHyperBandScheduler(HyperBandScheduler):
    """Ray's HyperBand on `epoch`, with the brackets of `hyperband_brackets` and its decisions recorded.

    Overridden because Ray computes brackets in floating point: it rounds log(max_t)/log(eta)
    (26, 3 gets a 4th, empty bracket) and truncates max_t * eta**-s (729, 3 loses its 1-epoch bracket).

    After a driver crash the brackets are refilled and their halvings replayed (`_rebuild`).
    """

    def __init__(
        self,
        *,
        max_t: int,
        metric: str | None = None,
        mode: str | None = None,
        reduction_factor: int = 3,
        events: TrialEventLog | None = None,
    ) -> None:
        super().__init__(time_attr=TIME_ATTR, metric=metric, mode=_check_mode(mode), max_t=max_t,
                         reduction_factor=reduction_factor)
        self.brackets = hyperband_brackets(max_t, reduction_factor)
        self._s_max_1 = len(self.brackets)
        self._get_n0 = self._bracket_trials
        self._get_r0 = self._bracket_first_rung
        self._events = events if events is not None else TrialEventLog()
        self._promoted: dict[Trial, dict] = {}  # details of the last halving, for the resumed event
        self._restored = False  # trials came back from a crashed run: rebuild before running any

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return not _conflicts(self, metric, mode) and super().set_search_properties(
            None if metric == self._metric else metric, None if mode == self._mode else mode)

    def _bracket_trials(self, s: int) -> int:
        return self.brackets[-1 - s][0]  # Ray numbers brackets by halvings, s = 0 first

    def _bracket_first_rung(self, s: int) -> int:
        return self.brackets[-1 - s][1]

    def _create_bracket(self, s: int) -> _HyperBandBracket:
        return _ExactBracket(time_attr=self._time_attr, max_trials=self._get_n0(s), init_t_attr=self._get_r0(s),
                             max_t_attr=self._max_t_attr, eta=self._eta, s=s, on_halving=self._record_halving)

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.PAUSE:
            bracket, _ = self._trial_info[trial]
            self._events.record(trial.trial_id, "paused", epoch=result[TIME_ATTR], rung=bracket._cumul_r)
        return action

    def _record_halving(self, rung: int, results: dict[Trial, dict], good: list[Trial], bad: list[Trial]) -> None:
        """Called by the bracket before Ray stops the `bad` trials; `results` are their results at `rung`."""
        ranked = list(reversed(good)) + list(reversed(bad))  # Ray sorts worst first
        cutoff = results[good[0]][self._metric] if good else None
        self._promoted = {}
        for rank, trial in enumerate(ranked, start=1):
            details = {"epoch": results[trial][TIME_ATTR], "rung": rung, "rank": rank, "of": len(ranked)}
            if trial in bad:
                self._events.record(trial.trial_id, "stopped", cutoff=cutoff, **details)
            else:
                self._promoted[trial] = details  # recorded as resumed if Ray unpauses it

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        if self._restored or (trial not in self._trial_info and _restored(trial)):
            self._restored = True  # placed by _rebuild, with every other trial, before any runs
            return
        self._place(tune_controller, trial)

    def _place(self, tune_controller: TuneController, trial: Trial) -> None:
        """Ray's bracket filling, recorded: Ray keeps no record of which bracket a trial is in."""
        super().on_trial_add(tune_controller, trial)
        bracket, band = self._trial_info[trial]
        self._events.record(trial.trial_id, "bracket", band=band, bracket=self._hyperbands[band].index(bracket),
                            first_rung=bracket._r0)

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._restored:  # Ray starts PENDING trials right after this call: decide before it does
            self._restored = False
            self._rebuild(tune_controller)
        trial = super().choose_trial_to_run(tune_controller)
        if trial is not None and trial.status == Trial.PAUSED:
            _store_trial_logs(trial)
        return trial

    def _rebuild(self, tune_controller: TuneController) -> None:
        """Puts every trial back in its bracket, then replays each bracket's halvings.

        A trial goes back to the bracket its `bracket` event names. Ray's own filling could not
        tell: it depends on when trials were added and when others left (a bracket that loses a
        trial before it is full takes the next one), and Ray re-adds restored trials latest
        result first. Trials without that event (added since the crash, or with no events file
        on URI storage) are then filled in as Ray would, in the order the searcher created them.
        Within a bracket the halvings are replayed as for successive halving
        (`_replay_halvings`), keeping ceil(n / eta) as Ray does, ties going to the later trial
        as in Ray's sort. Trials waiting at their bracket's rung are paused again; those that
        lost, or reached max_t, are stopped. Not reconstructed: a trial that joined a bracket
        after its first halving (after another member failed) is taken to have lost it.
        """
        trials = sorted(tune_controller.get_trials(), key=_creation_order)
        order = {trial: index for index, trial in enumerate(trials)}
        recorded = _recorded_events(self._events, "bracket")
        self._hyperbands, self._trial_info, self._state = [[]], {}, {"bracket": None, "band_idx": 0}
        for trial in (trial for trial in trials if trial.trial_id in recorded):
            band, s = recorded[trial.trial_id]["band"], recorded[trial.trial_id]["bracket"]
            while len(self._hyperbands) <= band:
                self._hyperbands.append([])
            while len(self._hyperbands[band]) <= s:
                self._hyperbands[band].append(self._create_bracket(len(self._hyperbands[band])))
            bracket = self._hyperbands[band][s]
            bracket._live_trials[trial] = None  # Bracket.add_trial refuses a bracket that was full once
            bracket._all_trials.append(trial)
            self._trial_info[trial] = bracket, band
            self._state = {"bracket": bracket, "band_idx": band}
        for trial in (trial for trial in trials if trial.trial_id not in recorded):
            self._place(tune_controller, trial)
        waiting, stopping = [], []
        for bracket in (bracket for band in self._hyperbands for bracket in band):
            rungs = successive_halving_rungs(self._max_t_attr, self._eta, bracket._r0)
            kept = [bracket._n0]
            for _ in rungs[:-1]:
                kept.append(-(-kept[-1] // self._eta))
            halvings, survivors, losers = _replay_halvings(
                bracket._all_trials, rungs, keep=lambda halving, _, kept=kept: kept[halving + 1],
                rank=lambda trial: (_badness(_reported(trial).get(self._metric), self._mode), -order[trial]),
                first_rung_complete=True,
            )
            bracket._halves, bracket._n = len(rungs) - 1 - halvings, kept[halvings]
            bracket._r = bracket._cumul_r = rungs[halvings]
            bracket.is_being_processed = halvings > 0
            bracket._completed_progress = sum(_epoch(trial) for trial in bracket._all_trials)
            bracket._live_trials = {}
            for trial in survivors:
                if _ended(trial):
                    continue
                if _epoch(trial) >= self._max_t_attr:
                    stopping.append(trial)  # complete; only its stop was lost
                    continue
                bracket._live_trials[trial] = _reported(trial) if _epoch(trial) else None
                if _epoch(trial) >= bracket._cumul_r:
                    waiting.append(trial)
            stopping += [trial for trial in losers if not _ended(trial)]
        for trial in waiting:
            tune_controller._set_trial_status(trial, Trial.PAUSED)
        for trial in stopping:  # may complete a bracket's rung, so after every bracket is rebuilt
            tune_controller.stop_trial(trial)

    def _unpause_trial(self, tune_controller: TuneController, trial: Trial) -> None:
        bracket, _ = self._trial_info[trial]
        self._events.record(trial.trial_id, "resumed", next_rung=bracket._cumul_r, **self._promoted.pop(trial, {}))


class _ExactBracket(_HyperBandBracket):
    """Ray's bracket, except that its last rung is max_t even when max_t is not r0 * eta**s,
    that it reports each halving before Ray acts on it, and that a finished bracket also stops
    a trial whose pause is still being saved (Ray's would stay PAUSED, and the run never end)."""

    def __init__(self, *args: Any, on_halving: Callable[[int, dict, list, list], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_halving = on_halving

    def successive_halving(self, metric: str, metric_op: float) -> tuple[list[Trial], list[Trial]]:
        rung, results = self._cumul_r, dict(self._live_trials)
        good, bad = super().successive_halving(metric, metric_op)
        if self._halves == 0:
            self._r = self._cumul_r = self._max_t_attr
        self._on_halving(rung, results, list(good), list(bad))
        return good, bad

    def cleanup_full(self, tune_controller: TuneController) -> None:
        for trial in self.current_trials():
            if trial.status == Trial.PAUSED or trial.is_saving:  # Ray checks PAUSED only
                tune_controller.stop_trial(trial)


# --- ASHA ----------------------------------------------------------------------------------


class RecordingASHAScheduler(AsyncHyperBandScheduler):
    """Ray's ASHA on `epoch`, recording every early stop with its rung and the cutoff that missed.

    ASHA never pauses, so it needs no checkpoints; with brackets > 1 Ray assigns a trial's
    bracket at random (numpy's global generator).

    After a driver crash Ray re-adds every trial; finished ones stay finished, but the rungs come
    back empty, so cutoffs would be too lenient and a continuing trial would be recorded at the
    rungs it had passed with its current, later value. `on_trial_add` puts back what each
    restored trial had recorded. With brackets > 1 it may land in another bracket than before.
    """

    def __init__(
        self,
        *,
        max_t: int,
        metric: str | None = None,
        mode: str | None = None,
        grace_period: int = 1,
        reduction_factor: int = 3,
        brackets: int = 1,
        events: TrialEventLog | None = None,
    ) -> None:
        for name, value, low in (("max_t", max_t, 1), ("grace_period", grace_period, 1),
                                 ("reduction_factor", reduction_factor, 2), ("brackets", brackets, 1)):
            _check_int(name, value, low)
        if grace_period > max_t:
            raise ValueError(f"grace_period must be <= max_t; got {grace_period} > {max_t}")
        super().__init__(time_attr=TIME_ATTR, metric=metric, mode=_check_mode(mode), max_t=max_t,
                         grace_period=grace_period, reduction_factor=reduction_factor, brackets=brackets)
        self._events = events if events is not None else TrialEventLog()

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return not _conflicts(self, metric, mode) and super().set_search_properties(
            None if metric == self._metric else metric, None if mode == self._mode else mode)

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        restored = trial.trial_id not in self._trial_info and _restored(trial)  # not a retry
        super().on_trial_add(tune_controller, trial)
        if restored:  # ASHA records a trial's value at each milestone as it passes it
            reported = _reported_by_epoch(trial)
            for milestone, recorded in self._trial_info[trial.trial_id]._rungs:
                value = reported.get(milestone, {}).get(self._metric)
                if value is not None and trial.trial_id not in recorded:
                    recorded[trial.trial_id] = self._metric_op * value

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        bracket = self._trial_info.get(trial.trial_id)
        recorded_before = {milestone: set(recorded) for milestone, recorded in bracket._rungs} if bracket else {}
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.STOP or result.get(TIME_ATTR, 0) >= self._max_t:
            return action
        for milestone, recorded in bracket._rungs:
            if trial.trial_id in recorded and trial.trial_id not in recorded_before[milestone]:
                # The cutoff this result fell below: the rung's quantile before the trial joined it.
                others = {tid: value for tid, value in recorded.items() if tid != trial.trial_id}
                cutoff = float(self._metric_op * bracket.cutoff(others))
                self._events.record(trial.trial_id, "stopped", epoch=result[TIME_ATTR], rung=milestone,
                                    cutoff=cutoff, value=result[self._metric])
                break
        return action


# --- resuming after a driver crash ----------------------------------------------------------


def _replay_halvings(
    trials: list[Trial],
    rungs: list[int],
    *,
    keep: Callable[[int, int], int],
    rank: Callable[[Trial], Any],
    first_rung_complete: bool,
) -> tuple[int, list[Trial], list[Trial]]:
    """The halvings a crashed run had made over `trials` (in creation order), from their last results.

    Returns (halvings made, the trials still in the running, the trials that lost one).
    `keep(halving, trials that reached its rung)` is how many survive it; `rank` sorts best first.

    Ray's experiment state keeps each trial's status and last result, both as of one snapshot,
    but not the scheduler's rungs. Nor is the status of a trial stopped while paused reliable:
    Ray stops it without refreshing its snapshot entry, which keeps saying PAUSED, so losers
    come back PENDING. What can be told: a rung was decided once a trial went beyond it or ended
    there, or once every trial still in the running reached it (the last arrival decides at
    once). Trials beyond the rung survived it; the remaining places go to the best of those whose
    last result is the rung's, which is exactly how they ranked. Trials that had left the cohort
    before a rung (an error) and come back with `resume_errored` lose it, as they did.
    What cannot: which trials were added after the first rung (all count as its cohort). And a
    snapshot can hold a result one step before the checkpoint that came with it: that trial
    restarts one epoch back and reports the epoch again, which no scheduler can prevent.
    """
    survivors, losers = list(trials), []
    for halving, rung in enumerate(rungs[:-1]):
        reached = [trial for trial in survivors if _epoch(trial) >= rung]
        beyond = [trial for trial in reached if _epoch(trial) > rung]
        decided = beyond or any(_ended(trial) and _epoch(trial) == rung for trial in reached) or (
            len(reached) == len(survivors) and (halving > 0 or first_rung_complete))
        if not decided:
            return halving, survivors, losers
        at_rung = sorted((trial for trial in reached if _epoch(trial) == rung), key=rank)
        winners = set(beyond) | set(at_rung[:max(0, keep(halving, len(reached)) - len(beyond))])
        losers += [trial for trial in survivors if trial not in winners]
        survivors = [trial for trial in survivors if trial in winners]
    return len(rungs) - 1, survivors, losers


def _recorded_events(events: TrialEventLog, kind: str) -> dict[str, dict]:
    """The latest `kind` event of each trial in the events file; empty where there is none (URI storage)."""
    path = events._path  # TrialEventLog only appends; the file is plain JSON lines
    latest: dict[str, dict] = {}
    if path is None or not path.is_file():
        return latest
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by the crash
        if event.get("event") == kind:
            latest[event["trial_id"]] = event
    return latest


def _restored(trial: Trial) -> bool:
    """Whether Ray re-adds `trial` from an earlier run's state: new trials have no result and are live."""
    return TIME_ATTR in _reported(trial) or _ended(trial)


def _ended(trial: Trial) -> bool:
    return trial.status in (Trial.TERMINATED, Trial.ERROR)


def _epoch(trial: Trial) -> int:
    return _reported(trial).get(TIME_ATTR, 0)


def _reported(trial: Trial) -> dict:
    """The trial's last reported result, {} if none; `Trial.last_result` would fetch default metrics."""
    return trial.run_metadata.last_result


def _creation_order(trial: Trial) -> int:
    """The searcher's counter that starts Ray's experiment tag (`3_learning_rate=0.01`).

    Ray re-adds restored trials latest result first; the schedulers' tie-breaks and Hyperband's
    bracket filling need the order the searcher created them in.
    """
    number = trial.experiment_tag.split("_", 1)[0]
    return int(number) if number.isdigit() else sys.maxsize


def _reported_by_epoch(trial: Trial) -> dict[int, dict]:
    """Every result a restored trial had reported, by epoch, up to its restored last result.

    Read from its result.json in storage, which Ray uploads together with the experiment state it
    restores from; a result beyond the restored one is dropped (the trial retrains that epoch), and
    without the file only the last result is known.
    """
    last = _reported(trial)
    reported: dict[int, dict] = {}
    try:
        path = f"{trial.storage.trial_fs_path}/{EXPR_RESULT_FILE}"
        with trial.storage.storage_filesystem.open_input_stream(path) as stream:
            lines = stream.readall().decode().splitlines()
    except (AttributeError, OSError):
        lines = []
    for line in lines:
        try:
            result = json.loads(line)
        except ValueError:
            continue  # a line cut short by the crash
        if isinstance(result, dict) and isinstance(result.get(TIME_ATTR), int):
            reported[result[TIME_ATTR]] = result
    if TIME_ATTR in last:
        reported[last[TIME_ATTR]] = last
    return {epoch: result for epoch, result in reported.items() if epoch <= last.get(TIME_ATTR, 0)}


# --- helpers --------------------------------------------------------------------------------


def _store_trial_logs(trial: Trial) -> None:
    """Copies a paused trial's result.json and progress.csv to storage just before Ray restarts it.

    Ray's JSON and CSV loggers restart a trial that has a checkpoint by copying those files back
    from storage, which only holds them as of the last periodic sync (every 10 s or more); every
    epoch the trial reported since would vanish from its history.
    """
    import pyarrow.fs

    storage = trial.storage
    if storage is None or not trial.local_path:
        return
    if isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem) and (
        Path(storage.trial_fs_path).resolve() == Path(trial.local_path).resolve()
    ):
        return  # no copy in storage to go stale
    storage.storage_filesystem.create_dir(storage.trial_fs_path, recursive=True)
    for name in (EXPR_RESULT_FILE, EXPR_PROGRESS_FILE):
        local = Path(trial.local_path, name)
        if local.is_file():
            pyarrow.fs.copy_files(local.as_posix(), Path(storage.trial_fs_path, name).as_posix(),
                                  destination_filesystem=storage.storage_filesystem)


def _conflicts(scheduler: Any, metric: str | None, mode: str | None) -> bool:
    """Whether Tuner's metric or mode differs from the scheduler's own.

    Ray refuses any metric or mode for a scheduler built with its own, even the same ones; the
    runner passes the experiment's to both the Tuner and the scheduler, so equal values agree.
    """
    return bool((scheduler._metric and metric and metric != scheduler._metric)
                or (scheduler._mode and mode and mode != scheduler._mode))


def _badness(value: float, mode: str | None) -> tuple[bool, float]:
    """Sort key, best first; NaN (a diverged trial) ranks last."""
    if value is None or math.isnan(value):
        return True, 0.0
    return False, -value if mode == "max" else value


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {shown(value)}")


def _check_mode(mode: str | None) -> str | None:
    if mode not in (None, "min", "max"):
        raise ValueError(f"mode must be 'min' or 'max'; got {shown(mode)}")
    return mode
