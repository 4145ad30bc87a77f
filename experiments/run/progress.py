"""Progress of a running experiment, pushed to a callable so library code never prints."""
from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ray.tune import Callback

from tunelab.core.objective import Objective
from tunelab.experiments.run.output import terminal


@dataclass(frozen=True)
class Progress:
    """A snapshot: trials by how they ended, epochs trained of planned, the best value, an ETA."""

    completed: int       # trained their whole epoch budget
    stopped: int         # ended early: a scheduler stopped them, or the run's epoch budget did
    errored: int
    running: int
    total: int           # trials planned (at most)
    epochs: int          # epochs trained so far, every trial together
    planned_epochs: int  # epochs the plan can still train in all: trained + what is left
    best: float | None
    elapsed: float
    event: str           # what just happened, e.g. "trial 3b1cc2c6 finished"
    first_epoch_at: float | None = None  # elapsed seconds when this fit's first epoch was reported
    epochs_before: int = 0  # epochs trained before that epoch (by the run a resume continues)

    @property
    def done(self) -> int:
        return self.completed + self.stopped + self.errored

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace of the epochs since the first one (start-up excluded); None before."""
        since = self.epochs - self.epochs_before - 1  # epochs after the first one of this fit
        if self.first_epoch_at is None or since < 1 or self.elapsed <= self.first_epoch_at:
            return None
        pace = (self.elapsed - self.first_epoch_at) / since
        return max(self.planned_epochs - self.epochs, 0) * pace


STALL_FACTOR = 10.0  # no epoch for this many median epochs (and at least one interval): the trial may hang

_SINKS: dict[str, Callable[[Progress], None]] = {}  # run path -> where its snapshots go, in this process
_LATEST: dict[str, Progress] = {}  # run path -> its latest snapshot: the counts of the run's end


def latest_progress(run_path: str) -> Progress | None:
    """The last snapshot of the run at `run_path` in this process (its trials' outcomes as they happened)."""
    return _LATEST.get(run_path)


@contextlib.contextmanager
def progress_sink(run_path: str, on_progress: Callable[[Progress], None] | None) -> Iterator[None]:
    """Sends the snapshots of the run at `run_path` to `on_progress` while the block runs.

    The callable lives here, not in the callback: Ray pickles callbacks with the experiment and a
    resume restores those, so a callback holding it would call the first run's callable.
    """
    if on_progress is not None:
        _SINKS[run_path] = on_progress
    try:
        yield
    finally:
        _SINKS.pop(run_path, None)


class ProgressCallback(Callback):
    """Tracks trial states, epochs and the best value; sends a snapshot on every trial event.

    Per-epoch results update the counts but emit at most one snapshot every `interval` seconds, so
    a fast experiment does not flood the terminal; with no event for `interval` seconds, Ray's loop
    sends one anyway (a heartbeat), naming each running trial that has reported no epoch for
    `STALL_FACTOR` times the median epoch time: a hung trial shows, and `trial_timeout` can end it.
    `epochs_per_trial` (0: unknown) tells a trial that completed from one stopped early, whose unused
    epochs leave the plan. After a resume the counts start from what the restored trials had done.
    """

    def __init__(self, run_path: str, metric: str, mode: str, total: int, interval: float = 10.0, *,
                 planned_epochs: int = 0, epochs_per_trial: int = 0, exact_plan: bool = False) -> None:
        self._path, self._metric, self._total = run_path, metric, total
        self._objective = Objective(metric, mode)
        self._interval = interval
        self._planned, self._per_trial = planned_epochs, epochs_per_trial
        self._exact = exact_plan  # the plan already counts early stops (sha) or a cap: nothing to take off
        self.setup()

    def setup(self, **info: Any) -> None:
        """Called by Ray when fit() starts, also after a resume: time counts from here."""
        self._best: float | None = None
        self._started = time.monotonic()
        self._last_emit = 0.0
        self._first_epoch_at: float | None = None
        self._epochs_before = 0
        self._epochs: dict[str, int] = {}   # trial id -> the highest epoch it reported
        self._ended: dict[str, str] = {}    # trial id -> completed, stopped or errored
        self._reported_at: dict[str, float] = {}  # trial id -> when its latest result arrived (this fit)
        self._epoch_seconds: list[float] = []    # every epoch's time this fit, for the median
        self._seeded = False

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._seed(trials)
        self._count(trial.trial_id, result)
        self._reported_at[trial.trial_id] = time.monotonic()
        seconds = result.get("time_this_iter_s")
        if isinstance(seconds, (int, float)) and math.isfinite(seconds) and len(self._epoch_seconds) < 100_000:
            self._epoch_seconds.append(float(seconds))
        if self._first_epoch_at is None and isinstance(result.get("epoch"), int):
            self._first_epoch_at = time.monotonic() - self._started
            self._epochs_before = sum(self._epochs.values()) - 1  # the restored trials' epochs, before this one
        if time.monotonic() - self._last_emit >= self._interval:
            self._emit(trials, f"trial {trial.trial_id} epoch {result.get('epoch', '?')}")

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        """Ray's loop turns about ten times a second: a snapshot once no other was sent for `interval` seconds."""
        if time.monotonic() - max(self._last_emit, self._started) >= self._interval:
            self._seed(trials)
            self._emit(trials, "; ".join(self._stalls(trials)) or "training")

    def _stalls(self, trials: list) -> list[str]:
        """`trial X: no epoch for 95 s (median epoch 4.1 s)` for each running trial silent that long."""
        if not self._epoch_seconds:
            return []
        median, now = statistics.median(self._epoch_seconds), time.monotonic()
        lines = []
        for trial in trials:
            since = now - self._reported_at.get(trial.trial_id, now)
            if (trial.status == "RUNNING" and trial.trial_id not in self._ended
                    and since >= max(STALL_FACTOR * median, self._interval)):
                lines.append(f"trial {trial.trial_id}: no epoch for {since:.0f} s (median epoch {median:.1f} s)")
        return lines

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._seed(trials)
        trained = self._epochs.get(trial.trial_id, 0)
        early = 0 < self._per_trial and trained < self._per_trial
        self._ended[trial.trial_id] = "stopped" if early else "completed"
        self._emit(trials, f"trial {trial.trial_id} {'stopped at epoch ' + str(trained) if early else 'finished'}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._seed(trials)
        self._ended[trial.trial_id] = "errored"
        self._emit(trials, f"trial {trial.trial_id} errored")

    def _count(self, trial_id: str, result: dict) -> None:
        value = result.get(self._metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            if self._objective.better(value, self._best):
                self._best = float(value)
        epoch = result.get("epoch")  # a stopped trial's last result carries done=True: it counts too
        if isinstance(epoch, int):
            self._epochs[trial_id] = max(epoch, self._epochs.get(trial_id, 0))

    def _seed(self, trials: list) -> None:
        """Once per fit: what restored trials did before a resume (none on a fresh run)."""
        if self._seeded:
            return
        self._seeded = True
        for trial in trials:
            if trial.last_result:
                self._count(trial.trial_id, trial.last_result)
            if trial.status == "ERROR":
                self._ended[trial.trial_id] = "errored"
            elif trial.status == "TERMINATED":
                trained = self._epochs.get(trial.trial_id, 0)
                early = 0 < self._per_trial and trained < self._per_trial
                self._ended[trial.trial_id] = "stopped" if early else "completed"

    def _emit(self, trials: list, event: str) -> None:
        self._last_emit = time.monotonic()
        running = sum(1 for trial in trials if trial.status == "RUNNING" and trial.trial_id not in self._ended)
        ended = list(self._ended.values())
        trained = sum(self._epochs.values())
        unused = 0
        if self._per_trial and not self._exact:  # epochs the stopped and errored trials will never train
            unused = sum(max(self._per_trial - self._epochs.get(trial_id, 0), 0)
                         for trial_id, how in self._ended.items() if how != "completed")
        planned = max(self._planned - unused, trained) if self._planned else trained
        progress = Progress(
            completed=ended.count("completed"), stopped=ended.count("stopped"), errored=ended.count("errored"),
            running=running, total=self._total, epochs=trained, planned_epochs=planned, best=self._best,
            elapsed=time.monotonic() - self._started, event=event, first_epoch_at=self._first_epoch_at,
            epochs_before=self._epochs_before,
        )
        _LATEST[self._path] = progress
        sink = _SINKS.get(self._path)
        if sink is not None:
            with terminal():  # Ray's own output goes to the run's log; this is for the user
                sink(progress)
