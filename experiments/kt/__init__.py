"""KerasTuner's API on Ray Tune: tuners, HyperModel, Objective, errors (users import experiments.keras_tuner)."""
from __future__ import annotations

from experiments.kt import errors
from experiments.kt.hypermodel import HyperModel
from experiments.kt.objective import Objective
from experiments.kt.tuners import (
    BayesianOptimization, GridSearch, Hyperband, RandomSearch, SearchInterrupted, Tuner, TunerOptions,
)
from searchspaces.hp import HyperParameters

__all__ = [
    "BayesianOptimization", "GridSearch", "HyperModel", "HyperParameters", "Hyperband", "Objective", "RandomSearch",
    "SearchInterrupted", "Tuner", "TunerOptions", "errors",
]
