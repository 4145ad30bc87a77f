"""Every trial's configuration and per-epoch history, written by the driver straight into the trial's folder.

Ray's result.json of a retried trial is replaced by the copy on storage when the trial restarts,
and that copy can be an epoch or two behind: a retried trial's history could lose an epoch.
This file is only ever appended to, one line per report; an epoch a retry trains again appears
twice, and readers keep its last line (analysis.load does). Ray copies its params.json to the run
folder only with its snapshots (every 10 s or more); written when the trial starts, it lets a view
that follows the run show the trial at once. Local storage only, as the event log.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tunelab.core.run_folder import HISTORY_FILE, PARAMS_FILE, is_uri, trial_folder_name
from tunelab.experiments.trial_events import append_line


class HistoryLog(Callback):
    """Writes RUN/trial_ID/params.json when a trial starts (or, for a folder made as the run ended, when
    it ends) and appends each reported result (its config left out) to RUN/trial_ID/tunelab_history.jsonl."""

    def __init__(self, run_path: str) -> None:
        self._folder = None if is_uri(run_path) else Path(run_path)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self._folder is not None:
            self._write_params(trial, self._folder / trial_folder_name(trial.trial_id))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """A trial whose worker made its folder as the run ended (a budget spent while it started) never
        started on the driver: it gets its params.json too, so analysis reads it as a trial that ran no epoch."""
        if self._folder is None:
            return
        for trial in trials:
            folder = self._folder / trial_folder_name(trial.trial_id)
            if folder.is_dir():
                self._write_params(trial, folder)

    @staticmethod
    def _write_params(trial: Any, folder: Path) -> None:
        path = folder / PARAMS_FILE
        if path.exists():  # Ray's own copy, or ours from an earlier start of a restored trial
            return
        text = json.dumps(trial.config, indent=2, sort_keys=True, default=_plain)
        staged = path.with_name(f".{PARAMS_FILE}.{os.getpid()}")
        try:  # written aside, then renamed: a reader never sees half a file
            folder.mkdir(parents=True, exist_ok=True)
            staged.write_text(text)
            os.replace(staged, path)
        except OSError:  # a full disk is left for the run's end to report, as for the history
            staged.unlink(missing_ok=True)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if self._folder is None:
            return
        line = json.dumps({key: value for key, value in result.items() if key != "config"}, default=str)
        append_line(self._folder / trial_folder_name(trial.trial_id) / HISTORY_FILE, line)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as the numbers they hold (as Ray writes them), anything else as its text."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)
