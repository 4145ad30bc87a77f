"""What one measured search leaves for benchmarks.compare: a row of the runs frame and its per-epoch history."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from benchmarks.compare import HISTORY_COLUMNS, RUN_COLUMNS
from tunelab.analysis.results import Results


@dataclass(frozen=True)
class RunRecord:
    """One search of the study, measured: see benchmarks.compare for what each field means."""

    name: str
    tool: str
    seed: int
    wall_s: float
    concurrency: int
    trials: int
    peak_worker_mb: float | None
    history: pd.DataFrame  # HISTORY_COLUMNS plus the metric
    path: str | None = None  # the results folder, while it exists

    def row(self) -> dict:
        return {column: getattr(self, column) for column in RUN_COLUMNS}


def history_from_results(results: Results, started: float, name: str, seed: int, metric: str) -> pd.DataFrame:
    """analysis.load's history as the study's: the time of each epoch counted from the search's start."""
    history = results.history
    return pd.DataFrame({
        "name": name,
        "seed": seed,
        "trial_id": history["trial_id"].astype(str),
        "epoch": history["epoch"].astype("int64"),
        metric: history[metric].astype("float64") if metric in history else float("nan"),
        "elapsed_s": history["time"].astype("float64") - started,
        "time_total_s": history["time_total_s"].astype("float64"),
    }, columns=[*HISTORY_COLUMNS, metric])
