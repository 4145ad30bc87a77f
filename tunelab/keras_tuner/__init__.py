"""KerasTuner's names, run on Ray: change one line of a KerasTuner script and nothing else.

    import keras_tuner as kt                 ->   import tunelab.keras_tuner as kt
    from keras_tuner import RandomSearch     ->   from tunelab.keras_tuner import RandomSearch

`kt.RandomSearch`, `kt.tuners.RandomSearch`, `kt.HyperParameters`,
`kt.engine.hyperparameters.HyperParameters`, `kt.HyperModel`, `kt.Objective` and `kt.errors`
are all here; each tuner also takes Ray options (resources_per_trial, max_concurrent_trials,
address, scheduler). See tunelab.keras_tuner.tuners for what runs.

Its modules: declarations, hyperparameters and discovery (the `hp` container and what a build
function declares), hypermodel, objective, options, oracle, tuner and tuners (the tuners, on
tunelab's Ray job), data (what search() was given, made ready to travel), reported (the metric names
a trial will report, checked before Ray), trainable (what runs in a trial), results and display
(what a search leaves).
"""
from __future__ import annotations

import os
import sys
import types

# KerasTuner scripts build models in this process too: keep TensorFlow's C++ log lines out of the
# terminal, as the trials' workers do (only effective before TensorFlow is first imported).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tunelab.keras_tuner import errors, tuners  # noqa: E402
from tunelab.keras_tuner.declarations import Declaration  # noqa: E402
from tunelab.keras_tuner.hypermodel import HyperModel  # noqa: E402
from tunelab.keras_tuner.hyperparameters import HyperParameters  # noqa: E402
from tunelab.keras_tuner.objective import Objective  # noqa: E402
from tunelab.keras_tuner.options import TunerOptions  # noqa: E402
from tunelab.keras_tuner.tuner import SearchInterrupted, Tuner  # noqa: E402
from tunelab.keras_tuner.tuners import BayesianOptimization, GridSearch, Hyperband, RandomSearch  # noqa: E402


def _module(name: str, doc: str, **members: object) -> types.ModuleType:
    """A submodule, registered so `from tunelab.keras_tuner.tuners import RandomSearch` works too."""
    module = types.ModuleType(f"{__name__}.{name}", doc)
    module.__dict__.update(members)
    sys.modules[module.__name__] = module
    return module


engine = _module(
    "engine", "KerasTuner's engine package, as far as user code reaches into it.",
    hyperparameters=_module("engine.hyperparameters", "hp types.", HyperParameters=HyperParameters,
                            HyperParameter=Declaration),
    hypermodel=_module("engine.hypermodel", "HyperModel.", HyperModel=HyperModel),
    tuner=_module("engine.tuner", "Tuner.", Tuner=Tuner),
    objective=_module("engine.objective", "Objective.", Objective=Objective),
)

__all__ = [
    "BayesianOptimization", "GridSearch", "HyperModel", "HyperParameters", "Hyperband", "Objective", "RandomSearch",
    "SearchInterrupted", "Tuner", "TunerOptions", "engine", "errors", "tuners",
]
