"""A finished search, read from its results folder in KerasTuner's terms: best trials, best epochs."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.load import Results, is_missing


@dataclass(frozen=True)
class BestCheckpoint:
    """The kept checkpoint of a trial's best epoch: its folder, epoch, score and saved state."""

    folder: Path
    epoch: int
    score: float
    state: dict[str, Any]


def ranked(results: Results) -> pd.DataFrame:
    """Trials that reported the objective and did not error, best first (KerasTuner's completed trials)."""
    column = results.objective
    if column not in results.trials:
        return results.trials.iloc[0:0]
    trials = results.trials[results.trials[column].notna() & (results.trials["stop_reason"] != "errored")]
    return trials.sort_values(column, ascending=results.mode == "min", kind="stable")


def best_checkpoint(trial: pd.Series, results: Results) -> BestCheckpoint | None:
    """Among the trial's kept checkpoints, the one whose epoch scored best on the objective.

    The runner keeps the best-scoring checkpoints and the latest, so this is the best epoch's
    own weights unless several epochs tie.
    """
    if is_missing(trial["path"]):
        return None
    history = results.history[results.history["trial_id"] == trial["trial_id"]]
    scores = dict(zip(history["epoch"], history[results.metric]))
    best = None
    for folder in sorted(Path(trial["path"]).glob("checkpoint_*")):
        state_file = folder / "state.json"
        if not state_file.exists():
            continue
        state = json.loads(state_file.read_text())
        score = scores.get(int(state["epoch"]))
        if score is None or not math.isfinite(score):
            continue
        if best is None or (score > best.score if results.mode == "max" else score < best.score):
            best = BestCheckpoint(folder, int(state["epoch"]), float(score), state)
    return best


def best_execution(checkpoint: BestCheckpoint, mode: str) -> int:
    """Which of a trial's models scored best at that epoch (0 with one execution per trial)."""
    scores = checkpoint.state.get("scores") or []
    candidates = [(score, k) for k, score in enumerate(scores) if score is not None]
    if not candidates:
        return 0
    return (max if mode == "max" else min)(candidates)[1]
