"""A ranked text table of an experiment's trials: the first thing to look at after a run."""
from __future__ import annotations

import pandas as pd

from analysis.load import Results


def ranked_trials(results: Results, top: int | None = None) -> pd.DataFrame:
    """Trials sorted best first by the experiment's metric, with their hyperparameters."""
    metric = results.metric or "val_accuracy"
    column = f"{metric}_best"
    columns = ["experiment", "trial_id", "status", "epochs", column, *results.params]
    if len(set(results.trials["experiment"])) == 1:
        columns.remove("experiment")
    frame = results.trials.reindex(columns=columns)
    if column in results.trials:
        frame = frame.sort_values(column, ascending=results.mode == "min", na_position="last")
    return frame.head(top) if top else frame


def format_table(frame: pd.DataFrame) -> str:
    """Plain text, inactive conditional hyperparameters shown empty."""
    return frame.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")
