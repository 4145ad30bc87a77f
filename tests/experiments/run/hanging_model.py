"""A user model whose training hangs part way through an epoch, as a stuck data pipeline or a deadlocked
op would: the trial stops reporting and never ends by itself."""
from __future__ import annotations

import time
from typing import Any, Mapping

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable("tunelab_tests")
class HangAfter(keras.layers.Layer):
    """Passes its input through; after `batches` training batches (0: never) it sleeps for an hour."""

    def __init__(self, batches: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batches, self.seen = batches, 0

    def call(self, inputs, training=False):
        if not training or not self.batches:
            return inputs
        passed = tf.numpy_function(self._count, [inputs], inputs.dtype)
        passed.set_shape(inputs.shape)
        return passed

    def _count(self, inputs):
        self.seen += 1
        if self.seen > self.batches:
            time.sleep(3600)
        return inputs

    def get_config(self) -> dict:
        return {**super().get_config(), "batches": self.batches}


def build(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int):
    """A small classifier; `hang_after` (training batches) makes its trial hang, 0 trains normally."""
    return keras.Sequential([
        keras.Input(shape=input_shape), keras.layers.Flatten(), HangAfter(config.get("hang_after", 0)),
        keras.layers.Dense(16, activation="relu"), keras.layers.Dense(num_classes, activation="softmax"),
    ])
