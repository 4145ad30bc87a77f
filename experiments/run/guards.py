"""Experiment-level stops: problems no retry can fix (a missing metric, trials failing in a row),
and an epoch budget spent.

Ray retries a failing trial (`max_failures`) but never gives up on an experiment whose every
trial fails, and a misspelt metric only shows as a search that learns nothing. `RunGuard` is
both a Ray Stopper (it sees every result) and a Callback (it sees every final error).
"""
from __future__ import annotations

from typing import Any

from ray.tune import Callback
from ray.tune.stopper import Stopper

from tunelab.experiments.trial_events import TrialEventLog

NOT_A_METRIC = {
    "timestamp", "checkpoint_dir_name", "should_checkpoint", "done", "training_iteration", "trial_id", "date",
    "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore",
    "iterations_since_restore", "experiment_tag",
}


class RunGuard(Callback, Stopper):
    """Stops the whole experiment and keeps the reason; `bad_input` tells a user mistake from bad luck."""

    def __init__(self, metric: str, max_consecutive_failures: int, events: TrialEventLog) -> None:
        self._metric = metric
        self._events = events
        self._limit = max_consecutive_failures
        self._failures_in_a_row = 0
        self._checked = False
        self.reason: str | None = None
        self.bad_input = False

    def __call__(self, trial_id: str, result: dict) -> bool:
        if not self._checked:
            self._checked = True
            if self._metric not in result:
                reported = sorted(key for key in result if key not in NOT_A_METRIC)
                self._stop(f"metric: the trainable never reports {self._metric!r}; "
                           f"it reports {', '.join(reported)}", bad_input=True)
        return self.reason is not None

    def stop_all(self) -> bool:
        return self.reason is not None

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._failures_in_a_row = 0

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._failures_in_a_row += 1
        if self._limit and self._failures_in_a_row >= self._limit and self.reason is None:
            self._stop(f"{self._failures_in_a_row} trials in a row failed (max_consecutive_failures: "
                       f"{self._limit}); the last one, {trial.trial_id}: {last_error_line(trial)}", bad_input=False)

    def _stop(self, reason: str, bad_input: bool) -> None:
        self.reason, self.bad_input = reason, bad_input
        self._events.record("", "experiment_stopped", reason=reason, bad_input=bad_input)


class EpochBudget(Stopper):
    """Ends the experiment, as a normal end, once its trials have trained `max_total_epochs` in all.

    Every result of a tunelab trainable is one epoch. Searches that stop trials early (ASHA
    above all) train more epochs than their trial count suggests, since the first trials to
    reach a rung always go on; this holds them to the same budget as an exhaustive grid.
    Trials still running when the budget runs out are stopped; the epoch they were in is lost.
    """

    def __init__(self, max_total_epochs: int, events: TrialEventLog) -> None:
        self._budget = max_total_epochs
        self._events = events
        self.trained = 0

    def __call__(self, trial_id: str, result: dict) -> bool:
        if result.get("done"):  # a finished function trainable's closing copy of its last result
            return self.trained >= self._budget
        self.trained += 1
        if self.trained == self._budget:
            self._events.record("", "budget_spent", epochs=self.trained)
        return self.trained >= self._budget

    def stop_all(self) -> bool:
        return self.trained >= self._budget


def last_error_line(trial: Any) -> str:
    """The exception line of a trial's error file: what a user needs to see first."""
    path = trial.error_file
    try:
        lines = [line.strip() for line in open(path).read().splitlines() if line.strip()] if path else []
    except OSError:
        lines = []
    return lines[-1] if lines else "no error message"
