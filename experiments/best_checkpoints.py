"""Each trial's best checkpoint, kept beside the two latest ones Ray keeps for resuming.

A resume after a crash restores the checkpoint Ray's saved state names, which can be one behind
the newest: Ray must keep the two latest. Ray's score-based keeping would delete that one, so the
best is kept here instead: when a checkpoint beats the one in TRIAL/best_checkpoint/, it is copied
there. Scores come from the checkpoints' own state.json (the trainables write their metrics into
it) and are compared on storage, so a resumed driver, which remembers nothing, compares right.
"""
from __future__ import annotations

import json
import logging
import math
import posixpath
from typing import Any

import pyarrow.fs
from ray.tune import Callback

from tunelab.trainables.checkpoint_files import BEST_DIR, STATE_FILE

logger = logging.getLogger(__name__)


class BestCheckpointKeeper(Callback):
    """Copies a trial's checkpoint to TRIAL/best_checkpoint/ when its `metric` beats the kept one."""

    def __init__(self, metric: str, mode: str) -> None:
        self._metric, self._mode = metric, mode

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        filesystem, path = checkpoint.filesystem, checkpoint.path
        try:
            score = self._score(filesystem, path)
            best = posixpath.join(posixpath.dirname(path), BEST_DIR)
            kept = self._score(filesystem, best)
            if score is None or (kept is not None and not self._beats(score, kept)):
                return
            _replace(filesystem, path, best)
        except OSError as error:  # the trial's own checkpoint is safe; only the copy is missing
            logger.warning("trial %s: could not keep its best checkpoint (%s)", trial, error)

    def _score(self, filesystem: pyarrow.fs.FileSystem, folder: str) -> float | None:
        state_file = posixpath.join(folder, STATE_FILE)
        if filesystem.get_file_info(state_file).type != pyarrow.fs.FileType.File:
            return None
        with filesystem.open_input_stream(state_file) as stream:
            value = json.loads(stream.read()).get("metrics", {}).get(self._metric)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def _beats(self, score: float, kept: float) -> bool:
        return score > kept if self._mode == "max" else score < kept


def _replace(filesystem: pyarrow.fs.FileSystem, source: str, target: str) -> None:
    """Copies `source` to `target` through a staging folder, so a crash leaves a whole copy behind."""
    staging = f"{target}.new"
    if filesystem.get_file_info(staging).type != pyarrow.fs.FileType.NotFound:
        filesystem.delete_dir(staging)
    filesystem.create_dir(staging, recursive=True)
    pyarrow.fs.copy_files(source, staging, source_filesystem=filesystem, destination_filesystem=filesystem)
    if filesystem.get_file_info(target).type != pyarrow.fs.FileType.NotFound:
        filesystem.delete_dir(target)
    filesystem.move(staging, target)
