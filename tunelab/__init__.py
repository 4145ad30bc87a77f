"""tunelab: hyperparameter tuning experiments for Keras models, on Ray Tune.

    import tunelab

    results = tunelab.run("experiments/quickstart.yaml", overrides={"epochs": 3})
    results.trials, results.history          # pandas frames: one row per trial / per trial and epoch
    model = results.best_model()             # the best trial's Keras model, weights of its best epoch
    results = tunelab.load("~/tunelab_results/quickstart-20261201-120000")
    results.test_metrics                     # the best model's one score on the test part (test_fraction)
    split = tunelab.data("experiments/quickstart.yaml")  # the train/val/test split the trials use

Subpackages: tunelab.searchspaces, tunelab.trainables, tunelab.experiments, tunelab.analysis, and
tunelab.keras_tuner for KerasTuner scripts. Importing tunelab imports neither Ray nor TensorFlow:
each name below is imported when first used, so the command line answers at once.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelab.analysis.load import load
    from tunelab.analysis.results import Results, ResultsError
    from tunelab.api import ExperimentError, ExperimentStopped, data, run

__version__ = "0.1.0"

_LAZY = {
    "run": "tunelab.api",
    "data": "tunelab.api",
    "ExperimentError": "tunelab.api",
    "ExperimentStopped": "tunelab.api",
    "load": "tunelab.analysis.load",
    "Results": "tunelab.analysis.results",
    "ResultsError": "tunelab.analysis.results",
}

__all__ = ["ExperimentError", "ExperimentStopped", "Results", "ResultsError", "data", "load", "run"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tunelab' has no attribute {name!r}")
