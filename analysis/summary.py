"""A ranked text table of an experiment's trials: the first thing to look at after a run."""
from __future__ import annotations

import pandas as pd

from tunelab.analysis.load import Results


def ranked_trials(results: Results, top: int | None = None) -> pd.DataFrame:
    """Trials sorted best first by the experiment's metric, with how they ended and their hyperparameters."""
    column = results.objective or "val_accuracy_best"
    columns = ["experiment", "trial_id", "stop_reason", "epochs", column, *results.params, "damage"]
    if results.trials["experiment"].nunique() <= 1:
        columns.remove("experiment")
    if "damage" not in results.trials or results.trials["damage"].isna().all():
        columns.remove("damage")
    frame = results.trials.reindex(columns=columns)
    if column in results.trials:
        frame = frame.sort_values(column, ascending=results.mode == "min", na_position="last", kind="stable")
    return frame.head(top) if top else frame


def outcome_counts(results: Results) -> str:
    """`10 completed, 2 stopped, 1 errored`: how the trials ended, most common first."""
    counts = results.trials["stop_reason"].value_counts()
    return ", ".join(f"{count} {reason}" for reason, count in counts.items())


def headline(results: Results) -> str:
    """Trials, how many finished, the objective; how the trials ended; and damaged trials, if any."""
    # How each trial ended, not Ray's status: a trial stopped while paused keeps PAUSED in Ray's snapshot.
    finished = int(results.trials["stop_reason"].isin(("completed", "stopped")).sum())
    damaged = int(results.trials["damage"].notna().sum()) if "damage" in results.trials else 0
    return (f"{len(results.trials)} trials ({finished} finished), metric {results.metric} ({results.mode})\n"
            f"ended: {outcome_counts(results)}"
            + (f"\ndamaged: {damaged} trial{'s' if damaged > 1 else ''}, read from their intact records "
               "(see the damage column)" if damaged else ""))


def format_table(frame: pd.DataFrame) -> str:
    """Plain text, inactive conditional hyperparameters shown empty."""
    return for_display(frame).to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable int and bool columns as plain values with blanks, so an inactive parameter shows empty, not <NA>."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, (pd.Int64Dtype, pd.BooleanDtype)):
            values = frame[column]
            frame[column] = values.astype(object).where(values.notna(), "")
    return frame
