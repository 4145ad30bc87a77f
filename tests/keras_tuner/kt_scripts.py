"""KerasTuner-style user code, as a user writes it for keras_tuner; tests pass either library as `kt`.

It lives in an importable module (not the test file) because Ray workers import the functions
it defines by name.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as images: 1,400 for training, 397 for validation."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    return x[:1400], data.target[:1400], x[1400:], data.target[1400:]


def build_model(hp: Any) -> keras.Model:
    """The issue's example, plus a conditional scope and a per-layer loop."""
    model = keras.Sequential()
    model.add(keras.Input(shape=(8, 8, 1)))
    model.add(keras.layers.Conv2D(hp.Int("filters", min_value=8, max_value=32, step=8), (3, 3), activation="relu"))
    model.add(keras.layers.Flatten())
    head = hp.Choice("head", ["dense", "linear"])
    with hp.conditional_scope("head", ["dense"]):
        if head == "dense":
            for i in range(hp.Int("num_layers", 1, 3)):
                model.add(keras.layers.Dense(hp.Int(f"units_{i}", 16, 64, step=16), activation="relu"))
    if hp.Boolean("dropout"):
        model.add(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5, step=0.2)))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_small(hp: Any) -> keras.Model:
    """A two-by-two grid: two widths, two activations."""
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(hp.Choice("units", [16, 32]), activation=hp.Choice("activation", ["relu", "tanh"])),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def hypermodel_class(kt: Any) -> type:
    """A HyperModel subclass whose fit tunes the batch size and shuffling, as KerasTuner's docs show."""

    class TunedFit(kt.HyperModel):
        def build(self, hp: Any) -> keras.Model:
            model = keras.Sequential([
                keras.Input(shape=(8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 16, 48, step=16), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=hp.Choice("batch_size", [64, 128]),
                             shuffle=hp.Boolean("shuffle", default=True), **kwargs)

    return TunedFit


class InterruptOnce(keras.callbacks.Callback):
    """Sends Ctrl+C to the driver at the end of epoch `at` of the first trial that gets there."""

    def __init__(self, driver_pid: int, marker: str, at: int) -> None:
        super().__init__()
        self.driver_pid, self.marker, self.at = driver_pid, marker, at

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 == self.at and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os.kill(self.driver_pid, signal.SIGINT)
            time.sleep(3)  # Ray stops the run meanwhile; epoch `at` may or may not be reported


def custom_objective_class(kt: Any) -> type:
    """KerasTuner's custom-objective guide: fit trains through model.fit(**kwargs), then returns a float.

    With no objective given, KerasTuner minimizes what fit returns ("default_objective")."""

    class ReturnsItsScore(kt.HyperModel):
        def build(self, hp: Any) -> keras.Model:
            model = keras.Sequential([
                keras.Input(shape=(8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 16, 48, step=16), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model

        def fit(self, hp: Any, model: keras.Model, x: Any, y: Any, validation_data: Any = None,
                **kwargs: Any) -> float:
            model.fit(x, y, **kwargs)
            x_val, y_val = validation_data
            predicted = model.predict(x_val, verbose=0).argmax(axis=1)
            return float((predicted != y_val).mean())  # the error rate: lower is better

    return ReturnsItsScore
