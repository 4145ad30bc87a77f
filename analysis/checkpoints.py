"""The best model of a run: the checkpoint of the best trial's best epoch, found in the results folder.

Every trainable checkpoints the epochs that improve the objective, and the runner copies each
trial's best-scoring checkpoint to TRIAL/best_checkpoint-epochN/ besides the latest ones Ray
keeps, so the best epoch's weights are on disk for YAML runs and KerasTuner-style runs alike.
Finding the checkpoint reads JSON only; loading the model imports Keras (and the module of a
`module:function` trainable, for its custom objects).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from tunelab.core.objective import Objective
from tunelab.trainables.checkpoints import BEST_DIR, STATE_FILE, import_user_module, load_model, model_files

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class BestCheckpoint:
    """The kept checkpoint of a trial's best epoch: its folder, epoch, score and saved state."""

    trial_id: str
    folder: Path
    epoch: int
    score: float
    objective: Objective    # which execution's score is best
    state: dict[str, Any]

    @property
    def model_file(self) -> Path:
        """The saved model; with several executions per trial, the one that scored best at that epoch."""
        scores = self.state.get("scores") or []
        if len(scores) > 1:
            candidates = [(score, k) for k, score in enumerate(scores) if score is not None]
            if candidates:
                execution = self.objective.best(candidates)[1]
                path = self.folder / model_files(len(scores))[execution]
                if path.exists():
                    return path
        saved = [self.folder / name for name in model_files(max(len(scores), 1))]
        return next((path for path in saved if path.exists()), saved[0])


def best_kept_checkpoint(trial_id: str, trial_dir: Path, scores: Mapping[int, float], metric: str,
                         mode: str) -> BestCheckpoint | None:
    """The best scoring of a trial's kept checkpoints (the copy of its best and Ray's latest ones).

    A checkpoint's score is `metric` as saved in its state.json, or `scores[epoch]` (the trial's
    history) where an older trainable saved none; a checkpoint cut short is passed over.
    """
    folders = [*sorted(trial_dir.glob("checkpoint_*")), *sorted(trial_dir.glob(f"{BEST_DIR}*"))]
    objective = Objective(metric, mode)
    best = None
    for folder in folders:
        state = _state(folder)
        if state is None:
            continue
        score = state.get("metrics", {}).get(metric, scores.get(int(state["epoch"])))
        if not isinstance(score, (int, float)) or not math.isfinite(score):
            continue
        if objective.better(score, best.score if best else None):
            best = BestCheckpoint(trial_id, folder, int(state["epoch"]), float(score), objective, state)
    return best


def _state(folder: Path) -> dict[str, Any] | None:
    """A checkpoint's state.json, or None when the checkpoint is not whole (a crash mid-copy, a lost file)."""
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int):
        return None
    if not any((folder / name).is_file() for name in model_files(max(len(state.get("scores") or []), 1))):
        return None
    return state


def load_checkpoint_model(checkpoint: BestCheckpoint, trainable: str | None, error: type[Exception]) -> keras.Model:
    """The checkpoint's Keras model, as `trainables.checkpoints` loads one, the trainable's module imported first."""
    import_user_module(trainable, "trainable", error)
    return load_model(checkpoint.model_file)
