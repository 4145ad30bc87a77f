"""Model functions that trials name as `tests.experiments.helpers:NAME`, and a user's own Ray callback."""
from __future__ import annotations

from ray.tune import Callback


def in_trial() -> bool:
    """True inside a Ray trial (an actor), False in the driver, where tunelab builds a model once to check it."""
    import ray

    return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None


def broken_model(config, input_shape, num_classes):
    """Builds in the driver's check, then fails in every trial: a model that breaks only where it trains."""
    import keras

    if in_trial():
        raise RuntimeError(f"broken model for units_1={config.get('units_1')}")
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes, activation="softmax")])


class TrialEndRecorder(Callback):
    """A user's own Ray callback (`tracking.callbacks`): appends each finished trial's id to `path`."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        with open(self.path, "a") as file:
            file.write(trial.trial_id + "\n")
