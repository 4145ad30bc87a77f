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



def train_mirrored_on_two_cpus(config: dict[str, Any], data: Dataset, run: RunSettings, *, marker: str,
                               fail_after: int) -> None:
    """`train_failing_once` under MirroredStrategy over two logical CPU devices, as a 2-GPU trial trains
    (no GPU here); each attempt runs in a fresh worker process, before TensorFlow initialises."""
    import tensorflow as tf

    from tunelab.trainables.gpu_setup import mirrored_strategy

    [cpu] = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    with mirrored_strategy([device.name for device in tf.config.list_logical_devices("CPU")]).scope():
        train_failing_once(config, data, run, marker=marker, fail_after=fail_after)


def mlp_noting_its_replicas(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    """tiny_mlp, appending to config["replicas_log"] how many replicas its weights are mirrored on (1: none)."""
    import tensorflow as tf

    model = tiny_mlp(config, input_shape, num_classes)
    variable = model.weights[0].value
    replicas = len(variable.values) if hasattr(variable, "values") else 1
    with open(config["replicas_log"], "a") as f:
        f.write(f"{tf.distribute.get_strategy().num_replicas_in_sync} {replicas}\n")
    return model
