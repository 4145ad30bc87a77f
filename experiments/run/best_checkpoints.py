"""Each trial's best checkpoint, kept beside the two latest ones Ray keeps for resuming.

A resume after a crash restores the checkpoint Ray's saved state names, which can be one behind
the newest: Ray must keep the two latest. Ray's score-based keeping would delete that one, so the
best is kept here instead: a checkpoint that beats the kept copy is copied to
TRIAL/best_checkpoint-epochN/, and the older copy removed once the new one is whole. Scores come
from the checkpoints' own state.json (the trainables write their metrics into it) and are compared
on storage, so a resumed driver, which remembers nothing, compares right.
"""
from __future__ import annotations

import json
import logging
import math
import posixpath
from typing import Any

import pyarrow.fs
from ray.tune import Callback

from tunelab.core.objective import Objective
from tunelab.trainables.checkpoints import BEST_DIR, STATE_FILE

logger = logging.getLogger(__name__)


class BestCheckpointKeeper(Callback):
    """Copies a trial's checkpoint to TRIAL/best_checkpoint-epochN/ when its `metric` beats every kept copy."""

    def __init__(self, metric: str, mode: str) -> None:
        self._metric, self._objective = metric, Objective(metric, mode)

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        filesystem, path = checkpoint.filesystem, checkpoint.path
        try:
            state = self._state(filesystem, path)
            score = self._score(state)
            if score is None:
                return
            trial_dir = posixpath.dirname(path)
            kept = {folder: self._score(self._state(filesystem, folder)) for folder in _kept(filesystem, trial_dir)}
            if any(value is not None and not self._beats(score, value) for value in kept.values()):
                return
            target = posixpath.join(trial_dir, f"{BEST_DIR}-epoch{state['epoch']}")
            _copy(filesystem, path, target)
            for folder in kept:  # only once the new copy is whole: a crash leaves two, never none
                if folder != target:
                    filesystem.delete_dir(folder)
        except (OSError, ValueError, AttributeError, KeyError) as error:  # the trial's checkpoint is safe
            logger.warning("trial %s: could not keep its best checkpoint (%s)", trial, error)

    def _state(self, filesystem: pyarrow.fs.FileSystem, folder: str) -> dict:
        state_file = posixpath.join(folder, STATE_FILE)
        if filesystem.get_file_info(state_file).type != pyarrow.fs.FileType.File:
            return {}
        with filesystem.open_input_stream(state_file) as stream:
            state = json.loads(stream.read())
        return state if isinstance(state, dict) else {}

    def _score(self, state: dict) -> float | None:
        metrics = state.get("metrics")
        value = metrics.get(self._metric) if isinstance(metrics, dict) else None
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def _beats(self, score: float, kept: float) -> bool:
        return self._objective.better(score, kept)


def _kept(filesystem: pyarrow.fs.FileSystem, trial_dir: str) -> list[str]:
    """The trial's best-checkpoint copies (two after a crash between a copy and the removal of the old one)."""
    found = filesystem.get_file_info(pyarrow.fs.FileSelector(trial_dir, allow_not_found=True))
    return sorted(info.path for info in found
                  if info.type == pyarrow.fs.FileType.Directory and posixpath.basename(info.path).startswith(BEST_DIR))


def _copy(filesystem: pyarrow.fs.FileSystem, source: str, target: str) -> None:
    """A fresh copy (object stores cannot rename folders: the copy is never moved)."""
    if filesystem.get_file_info(target).type != pyarrow.fs.FileType.NotFound:
        filesystem.delete_dir(target)  # the same epoch again: a retried trial trained it once more
    filesystem.create_dir(target, recursive=True)
    pyarrow.fs.copy_files(source, target, source_filesystem=filesystem, destination_filesystem=filesystem)
