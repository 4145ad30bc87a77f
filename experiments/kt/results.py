"""A finished search, read from its results folder in KerasTuner's terms: its completed trials, best first."""
from __future__ import annotations

import pandas as pd

from tunelab.analysis.load import Results


def ranked(results: Results) -> pd.DataFrame:
    """Trials that reported the objective and did not error, best first (KerasTuner's completed trials)."""
    column = results.objective
    if column not in results.trials:
        return results.trials.iloc[0:0]
    trials = results.trials[results.trials[column].notna() & (results.trials["stop_reason"] != "errored")]
    return trials.sort_values(column, ascending=results.mode == "min", kind="stable")
