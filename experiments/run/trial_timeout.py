"""`trial_timeout`: a trial that trains longer than the limit (wall time) is stopped from the driver.

A stopper only sees results, so a trial stuck inside an epoch, which never reports, would never
be stopped by one; this callback checks the running trials' time on every step of Ray's loop and
stops the trial itself, worker and all (see `stop_hung_trial`). The stop is recorded as a
`timed_out` event, which analysis and MLflow show as the stop reason `trial_timeout`.

The limit lives here, not in the callback: Ray pickles callbacks with the run and a resume restores
them, so a callback holding it would keep the first run's limit; a resume may change it.
"""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Iterator

from ray.tune import Callback

from tunelab.experiments.run.ray_internals import running_tune_controller, stop_hung_trial
from tunelab.experiments.trial_events import TrialEventLog

logger = logging.getLogger(__name__)

_LIMITS: dict[str, float] = {}  # run path -> seconds a trial may train, in this process


@contextlib.contextmanager
def trial_time_limit(run_path: str, seconds: float | None) -> Iterator[None]:
    """Applies `seconds` (None: no limit) to the trials of the run at `run_path` while the block runs."""
    if seconds:
        _LIMITS[run_path] = seconds
    try:
        yield
    finally:
        _LIMITS.pop(run_path, None)


class TrialTimeout(Callback):
    """Stops each trial whose time RUNNING (this driver's, plus its training time before a resume) passes the limit."""

    def __init__(self, run_path: str, events: TrialEventLog) -> None:
        self._path, self._events = run_path, events
        self.setup()

    def setup(self, **info: Any) -> None:
        """Called by Ray when fit() starts, also after a resume: what a trial ran before comes from its results."""
        self._before: dict[str, float] = {}    # trial id -> seconds it ran in earlier stretches
        self._since: dict[str, float] = {}     # trial id -> when its current stretch RUNNING began

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        limit = _LIMITS.get(self._path)
        if not limit:
            return
        now = time.monotonic()
        for trial in trials:
            trial_id = trial.trial_id
            if trial.status != "RUNNING":
                if trial_id in self._since:  # paused (Hyperband) or ended: the stretch is over
                    self._before[trial_id] += now - self._since.pop(trial_id)
                continue
            if trial_id not in self._since:
                self._since[trial_id] = now
                self._before.setdefault(trial_id, float((trial.last_result or {}).get("time_total_s") or 0.0))
            ran = self._before[trial_id] + now - self._since[trial_id]
            if ran > limit:
                self._stop(trial, ran, limit)

    def _stop(self, trial: Any, ran: float, limit: float) -> None:
        controller = running_tune_controller()
        if controller is None:  # not called from Ray's loop: nothing to stop with
            return
        epoch = (trial.last_result or {}).get("epoch", 0)
        self._events.record(trial.trial_id, "timed_out", epoch=epoch, seconds=round(ran, 1), limit=limit)
        logger.warning("trial %s ran %.0f s, past trial_timeout %.0f s: stopped at epoch %s",
                       trial.trial_id, ran, limit, epoch)
        self._since.pop(trial.trial_id, None)
        self._before[trial.trial_id] = ran
        stop_hung_trial(controller, trial)
