"""Every trial's per-epoch history, appended by the driver straight into the trial's folder.

Ray's result.json of a retried trial is replaced by the copy on storage when the trial restarts,
and that copy can be an epoch or two behind: a retried trial's history could lose an epoch.
This file is only ever appended to, one line per report; an epoch a retry trains again appears
twice, and readers keep its last line (analysis.load does). Local storage only, as the event log.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tunelab.experiments.trial_events import append_line
from tunelab.run_folder import HISTORY_FILE, trial_folder_name


class HistoryLog(Callback):
    """Appends each reported result (its config left out) to RUN/trial_ID/tunelab_history.jsonl."""

    def __init__(self, run_path: str) -> None:
        self._folder = None if "://" in run_path else Path(run_path)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if self._folder is None:
            return
        line = json.dumps({key: value for key, value in result.items() if key != "config"}, default=str)
        append_line(self._folder / trial_folder_name(trial.trial_id) / HISTORY_FILE, line)
