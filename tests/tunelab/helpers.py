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
