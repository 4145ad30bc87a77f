"""The tiny experiment the analysis tests run, and the user code it names by import path.

Five random configurations of a small MLP space, three epochs each: a log-scaled learning rate,
a conditional momentum (sgd only) and second layer (num_layers 2 only), a fixed dropout, and
one configuration the model function refuses, so one trial errors before its first epoch.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

FAILING_UNITS = 16  # the one trial of the tiny experiment with units_1 = 16 fails; see conftest.py


def failing_mlp(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    """The built-in MLP, except that a first layer of FAILING_UNITS units raises in a trial: an errored trial."""
    from tunelab.trainables.models import build_model

    from tests.experiments.helpers import in_trial

    if config.get("units_1") == FAILING_UNITS and in_trial():  # the driver's check builds it once
        raise ValueError(f"units_1={FAILING_UNITS} is refused by this test model")
    return build_model(dict(config), input_shape, num_classes, "mlp")


EPOCHS = 3
TRIALS = 5
SEED = 1  # seed 1 samples one num_layers=2 trial, sgd and adam, and units_1=16 exactly once
SPACE = {
    "num_layers": {"type": "int", "low": 1, "high": 2},
    "units": {"type": "int", "low": 16, "high": 64, "log": True, "per_layer": "num_layers"},
    "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
    "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sgd"}},
    "learning_rate": {"type": "float", "low": 1.0e-3, "high": 1.0e-1, "log": True},
    "dropout": 0.0,
}


def tiny_spec(storage: Path) -> dict:
    return {
        "name": "tiny", "description": "analysis test experiment", "trainable": "tests.analysis.helpers:failing_mlp",
        "data": "digits", "space": SPACE, "strategy": {"name": "random", "num_samples": TRIALS, "seed": SEED},
        "epochs": EPOCHS, "batch_size": 128, "storage": str(storage), "max_concurrent_trials": 2, "max_failures": 0,
    }


def reported(experiment: Path) -> dict[str, tuple[dict, list[dict]]]:
    """trial_id -> (config, result.json lines), read straight from Ray's files."""
    found = {}
    for params in sorted(experiment.glob("trial_*/params.json")):
        result = params.parent / "result.json"
        lines = result.read_text().splitlines() if result.exists() else []
        reports = [json.loads(line) for line in lines if line.strip()]
        found[params.parent.name.removeprefix("trial_")] = (json.loads(params.read_text()), reports)
    return found
