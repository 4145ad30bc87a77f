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
from typing import TYPE_CHECKING, Any

import pandas as pd

from tunelab.trainables.checkpoint_files import BEST_DIR, STATE_FILE, model_files
from tunelab.core.user_code import import_module

if TYPE_CHECKING:
    import keras

    from tunelab.analysis.load import Results


@dataclass(frozen=True)
class BestCheckpoint:
    """The kept checkpoint of a trial's best epoch: its folder, epoch, score and saved state."""

    trial_id: str
    folder: Path
    epoch: int
    score: float
    mode: str               # of the objective: which execution's score is best
    state: dict[str, Any]

    @property
    def model_file(self) -> Path:
        """The saved model; with several executions per trial, the one that scored best at that epoch."""
        scores = self.state.get("scores") or []
        if len(scores) > 1:
            candidates = [(score, k) for k, score in enumerate(scores) if score is not None]
            if candidates:
                execution = (max if self.mode == "max" else min)(candidates)[1]
                path = self.folder / model_files(len(scores))[execution]
                if path.exists():
                    return path
        return self.folder / model_files(1)[0]


def trial_best_checkpoint(trial: pd.Series, results: Results) -> BestCheckpoint | None:
    """Among the trial's kept checkpoints (the copy of its best and Ray's latest ones), the best scoring.

    A checkpoint's score is the objective it saved in its state.json; the history's value of its
    epoch where an older trainable saved none.
    """
    path = trial.get("path")
    if not isinstance(path, str) or not results.metric:
        return None
    history = results.history
    history = history[(history["trial_id"] == trial["trial_id"]) & (history["experiment"] == trial["experiment"])]
    scores = dict(zip(history["epoch"], history[results.metric])) if results.metric in history else {}
    folders = [*sorted(Path(path).glob("checkpoint_*")), *sorted(Path(path).glob(f"{BEST_DIR}*"))]
    best = None
    for folder in folders:
        state = _state(folder)
        if state is None:
            continue
        score = state.get("metrics", {}).get(results.metric, scores.get(int(state["epoch"])))
        if not isinstance(score, (int, float)) or not math.isfinite(score):
            continue
        if best is None or (score > best.score if results.mode == "max" else score < best.score):
            best = BestCheckpoint(str(trial["trial_id"]), folder, int(state["epoch"]), float(score),
                                  results.mode or "max", state)
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


def best_checkpoint(results: Results, trial_id: str | None = None) -> BestCheckpoint:
    """The best trial's (or `trial_id`'s) best kept checkpoint; ResultsError when there is none."""
    from tunelab.analysis.load import ResultsError

    if trial_id is None:
        trial = results.best_trial()
        if trial is None:
            raise ResultsError(f"no trial reported {results.metric}: there is no best model")
    else:
        rows = results.trials[results.trials["trial_id"] == trial_id]
        if rows.empty:
            raise ResultsError(f"no trial {trial_id!r} in these results")
        if len(rows) > 1:
            raise ResultsError(f"trial {trial_id!r} is in several of these results ({', '.join(rows['experiment'])}); "
                               "load the one you mean")
        trial = rows.iloc[0]
    checkpoint = trial_best_checkpoint(trial, results)
    if checkpoint is None:
        raise ResultsError(f"trial {trial['trial_id']}: no checkpoint of a scored epoch is left in {trial['path']}")
    return checkpoint


def load_best_model(results: Results, trial_id: str | None = None) -> keras.Model:
    """The Keras model of `best_checkpoint`, compiled as it trained (uncompiled if Keras cannot)."""
    checkpoint = best_checkpoint(results, trial_id)
    _import_trainable_module(results, checkpoint)
    import keras

    try:
        return keras.models.load_model(checkpoint.model_file, compile=True)
    except (TypeError, ValueError):  # a loss or metric Keras cannot rebuild: the weights still load
        return keras.models.load_model(checkpoint.model_file, compile=False)


def _import_trainable_module(results: Results, checkpoint: BestCheckpoint) -> None:
    """A `package.module:function` trainable registers its custom layers when its module is imported."""
    from tunelab.analysis.load import ResultsError

    folder = Path(checkpoint.folder).resolve()
    experiment = next((e for e in results.experiments if folder.is_relative_to(Path(e.path).resolve())), None)
    trainable = experiment.spec.get("trainable") if experiment is not None else None
    if isinstance(trainable, str) and ":" in trainable:
        import_module(trainable.rpartition(":")[0], "trainable", ResultsError)
