"""Why each trial ended: scheduler decisions and trial outcomes, one JSON line per event.

Ray keeps no record of why a scheduler stopped or paused a trial, and its scheduler state is
not restored on resume; tunelab writes those decisions to `tunelab_trial_events.jsonl` in the
experiment folder so analysis can say "stopped at epoch 3 by cutoff 0.91" for every trial.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tunelab.core.run_folder import EVENTS_FILE, is_uri, read_json_lines

_APPENDING = threading.Lock()  # callbacks and schedulers append from Ray's driver threads


def append_line(path: Path, line: str) -> None:
    """Appends one line to a local run-folder file; a full disk is left for the run's end to report."""
    with _APPENDING, contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as file:
            file.write(line + "\n")


class TrialEventLog:
    """Appends events to the experiment's events file; a no-op until `attach` names the folder."""

    def __init__(self) -> None:
        self._path: Path | None = None

    def attach(self, experiment_path: str) -> None:
        """Local folders only: on URI storage the events stay unrecorded rather than slow every step."""
        if not is_uri(experiment_path):
            self._path = Path(experiment_path) / EVENTS_FILE

    def last_stop(self, since: float) -> tuple[str, bool] | None:
        """The reason of the latest experiment_stopped event after `since`, if one was recorded."""
        stops = self.since("experiment_stopped", since)
        return (stops[-1]["reason"], stops[-1]["bad_input"]) if stops else None

    def since(self, event: str, since: float) -> list[dict]:
        """The `event` lines recorded at or after `since` (none on URI storage, where nothing is recorded)."""
        if self._path is None:
            return []
        return [recorded for recorded in read_json_lines(self._path)[0]
                if recorded.get("event") == event and _number(recorded.get("time")) >= since]

    def record(self, trial_id: str, event: str, **details: Any) -> None:
        """`event`: suggested, learned (by a model), completed, errored, stopped, paused, resumed,
        experiment_stopped, budget_spent."""
        if self._path is None:
            return
        append_line(self._path, json.dumps({"trial_id": trial_id, "event": event, "time": time.time(), **details},
                                           default=float))


class TrialOutcomeCallback(Callback):
    """Records each trial's final outcome (completed or errored) with its last epoch."""

    def __init__(self, log: TrialEventLog) -> None:
        self._log = log

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._log.record(trial.trial_id, "completed", epoch=_last_epoch(trial))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._log.record(trial.trial_id, "errored", epoch=_last_epoch(trial))


def _last_epoch(trial: Any) -> int | None:
    result = trial.last_result or {}
    return result.get("epoch", result.get("training_iteration"))


def _number(value: Any) -> float:
    return value if isinstance(value, (int, float)) else 0.0
