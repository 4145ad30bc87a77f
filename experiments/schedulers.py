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
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ray.tune.experiment import Trial
from ray.tune.result import DEFAULT_METRIC, EXPR_PROGRESS_FILE, EXPR_RESULT_FILE
from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandScheduler, TrialScheduler
from ray.tune.schedulers.hyperband import _Bracket as _HyperBandBracket

from experiments.errors import SpecError
from experiments.trial_events import TrialEventLog

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

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if (self._metric and metric) or (self._mode and mode):
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

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        trial = super().choose_trial_to_run(tune_controller)
        if trial is not None and trial.status == Trial.PAUSED:
            _store_trial_logs(trial)
        return trial

    def _unpause_trial(self, tune_controller: TuneController, trial: Trial) -> None:
        bracket, _ = self._trial_info[trial]
        self._events.record(trial.trial_id, "resumed", next_rung=bracket._cumul_r, **self._promoted.pop(trial, {}))


class _ExactBracket(_HyperBandBracket):
    """Ray's bracket, except that its last rung is max_t even when max_t is not r0 * eta**s,
    and that it reports each halving before Ray acts on it."""

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


# --- ASHA ----------------------------------------------------------------------------------


class RecordingASHAScheduler(AsyncHyperBandScheduler):
    """Ray's ASHA on `epoch`, recording every early stop with its rung and the cutoff that missed.

    ASHA never pauses, so it needs no checkpoints; with brackets > 1 Ray assigns a trial's
    bracket at random (numpy's global generator).
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


def _badness(value: float, mode: str | None) -> tuple[bool, float]:
    """Sort key, best first; NaN (a diverged trial) ranks last."""
    if value is None or math.isnan(value):
        return True, 0.0
    return False, -value if mode == "max" else value


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")


def _check_mode(mode: str | None) -> str | None:
    if mode not in (None, "min", "max"):
        raise ValueError(f"mode must be 'min' or 'max'; got {mode!r}")
    return mode
