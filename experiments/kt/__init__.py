"""KerasTuner's API on Ray Tune: tuners, HyperModel, Objective, errors (users import tunelab.keras_tuner)."""
from __future__ import annotations

from tunelab.experiments.kt import errors
from tunelab.experiments.kt.hypermodel import HyperModel
from tunelab.experiments.kt.hyperparameters import HyperParameters
from tunelab.experiments.kt.objective import Objective
from tunelab.experiments.kt.options import TunerOptions
from tunelab.experiments.kt.tuner import SearchInterrupted, Tuner
from tunelab.experiments.kt.tuners import BayesianOptimization, GridSearch, Hyperband, RandomSearch

__all__ = [
    "BayesianOptimization", "GridSearch", "HyperModel", "HyperParameters", "Hyperband", "Objective", "RandomSearch",
    "SearchInterrupted", "Tuner", "TunerOptions", "errors",
]
