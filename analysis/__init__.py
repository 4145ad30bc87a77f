"""Results -> pandas, TensorBoard, plots and reports; reads the results directory only, never needs Ray.

    results = analysis.load("~/tunelab_results/quickstart-20261126-120000")   # or a list of folders
    results.trials, results.history                                          # pandas DataFrames

Plots live in analysis.plots (data first, then a PNG) and analysis.interactive (the same data as
Plotly figures, for the HTML report in analysis.report); TensorBoard logs in
analysis.tensorboard_logs, served by analysis.tensorboard.
"""
from __future__ import annotations

from tunelab.analysis.load import load
from tunelab.analysis.results import Experiment, Results, ResultsError

__all__ = ["Experiment", "Results", "ResultsError", "load"]
