"""A user's model function with a custom layer, as a `module:function` trainable names it."""
from __future__ import annotations

from typing import Any, Mapping

import keras


@keras.saving.register_keras_serializable(package="tunelab_tests")
class Scale(keras.layers.Layer):
    """A learned scalar factor: a custom class that only this module's import makes loadable."""

    def build(self, input_shape: tuple) -> None:
        self.factor = self.add_weight(shape=(), initializer="ones", name="factor")

    def call(self, inputs: Any) -> Any:
        return inputs * self.factor


def scaled_mlp(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Flatten(),
        Scale(),
        keras.layers.Dense(config.get("width", 16), activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


class AllocationFails(keras.layers.Layer):
    """Fails in training as TensorFlow does when an allocation does not fit (ResourceExhaustedError), on any
    device; building it (the driver's preflight) works."""

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        import tensorflow as tf

        if not training:
            return inputs
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[64,4096]")


def mlp_out_of_memory_when_wide(config: Mapping[str, Any], input_shape: tuple[int, ...],
                                num_classes: int) -> keras.Model:
    """scaled_mlp, except that a width above 1000 runs out of memory in its first step."""
    model = scaled_mlp(config, input_shape, num_classes)
    if config.get("width", 16) > 1000:
        model = keras.Sequential([keras.Input(shape=input_shape), AllocationFails(), model])
    return model
