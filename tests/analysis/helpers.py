"""The tiny experiment the analysis tests run, and the user code it names by import path.

Five random configurations of a small MLP space, three epochs each: a log-scaled learning rate,
a conditional momentum (sgd only) and second layer (num_layers 2 only), a fixed dropout, and
one configuration the model function refuses, so one trial errors before its first epoch.
`HandMadeRun` writes a run folder by hand instead, step by step, for tests of a run still going.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Mapping

import yaml

from tunelab.core.run_folder import EVENTS_FILE, HISTORY_FILE, LOCK_FILE, PARAMS_FILE, SPEC_FILE, trial_folder_name

FAILING_UNITS = 16  # the one trial of the tiny experiment with units_1 = 16 fails; see conftest.py


def failing_mlp(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    """The built-in MLP, except that a first layer of FAILING_UNITS units raises in a trial: an errored trial."""
    from tests.experiments.helpers import in_trial
    from tunelab.trainables.models import build_model

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


class HandMadeRun:
    """A run folder written step by step the way a driver writes it, without Ray: a lock held by this
    process while it runs, params.json when a trial starts, a history line per epoch, an event when
    it ends. Ray's experiment state is never written: every trial is one Ray has not saved yet."""

    SPACE = {"units": {"type": "int", "low": 8, "high": 64}, "optimizer": {"type": "choice", "values": ["adam", "sgd"]}}

    def __init__(self, path: Path, epochs: int = 3) -> None:
        self.path, self.started = path, time.time() - 100
        path.mkdir(parents=True)
        (path / SPEC_FILE).write_text(yaml.safe_dump({"name": path.name, "trainable": "mlp", "data": "digits",
                                                      "metric": "val_accuracy", "mode": "max", "epochs": epochs,
                                                      "space": self.SPACE}))
        self.lock = path / LOCK_FILE
        self.lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": self.started,
                                         "heartbeat": time.time()}))

    def start(self, trial_id: str, units: int = 16, optimizer: str = "adam") -> None:
        folder = self.path / trial_folder_name(trial_id)
        folder.mkdir()
        (folder / PARAMS_FILE).write_text(json.dumps({"units": units, "optimizer": optimizer}))

    def report(self, trial_id: str, epoch: int, val_accuracy: float) -> None:
        line = {"trial_id": trial_id, "epoch": epoch, "training_iteration": epoch, "val_accuracy": val_accuracy,
                "loss": 1.0 / epoch, "timestamp": int(self.started) + 10 * epoch, "time_total_s": 10.0 * epoch}
        with (self.path / trial_folder_name(trial_id) / HISTORY_FILE).open("a") as history:
            history.write(json.dumps(line) + "\n")

    def end(self, trial_id: str, event: str = "completed") -> None:
        with (self.path / EVENTS_FILE).open("a") as events:
            events.write(json.dumps({"trial_id": trial_id, "event": event, "time": self.started + 100}) + "\n")

    def finish(self) -> None:
        """The driver is done: its lock is gone."""
        self.lock.unlink()
