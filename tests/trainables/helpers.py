"""User code that tests reference by import path, as a user's experiment would."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

from tunelab.trainables import Dataset, RunSettings, train

NOT_CALLABLE = 3


def tiny_mlp(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    """A user model function: one hidden layer whose width the config may set."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(config.get("width", 8), activation="relu", name="hidden"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


def shifted_mlp(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    """A user model with a custom layer class that is not registered with Keras' serialization."""
    import keras

    class Shift(keras.layers.Layer):
        def build(self, input_shape: tuple) -> None:
            self.shift = self.add_weight(shape=(), initializer="zeros", name="shift")

        def call(self, inputs: Any) -> Any:
            return inputs + self.shift

    return keras.Sequential([
        keras.Input(shape=input_shape), keras.layers.Flatten(), Shift(),
        keras.layers.Dense(config.get("width", 8), activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def not_a_model(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    return "a string"


def train_failing_once(
    config: dict[str, Any], data: Dataset, run: RunSettings, *, marker: str, fail_after: int
) -> None:
    """`train`, except that the first attempt trains `fail_after` epochs, then raises.

    The marker file outlives the failed attempt, so Ray's retry runs the real `train` for
    `run.epochs`, which must pick up the checkpoint of epoch `fail_after` rather than start
    again. (The first attempt's learning-rate schedule spans only its own `fail_after`
    epochs; the tests that use this keep the rate constant.)
    """
    if not os.path.exists(marker):
        Path(marker).touch()
        train(config, data, dataclasses.replace(run, epochs=fail_after))
        raise RuntimeError(f"simulated worker failure after epoch {fail_after}")
    train(config, data, run)


def train_logging_pid(config: dict[str, Any], data: Dataset, run: RunSettings, *, log: str) -> None:
    """`train`, recording which worker process ran it (to observe Ray's actor reuse) and how many
    TensorFlow gradient registrations the worker holds afterwards (each would keep a model graph)."""
    train(config, data, run)
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {len(custom_gradients())}\n")


def custom_gradients() -> set[str]:
    """The `tf.custom_gradient` functions in TensorFlow's global gradient registry."""
    from tensorflow.python.framework import ops

    return {name for name in ops._gradient_registry._registry if name.startswith("CustomGradient-")}
