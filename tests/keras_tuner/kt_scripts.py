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


def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's breast cancer data (binary, 30 features), standardised: 426 to train, 143 to validate."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    x, x_val, y, y_val = train_test_split(data.data, data.target, test_size=0.25, random_state=0,
                                          stratify=data.target)
    mean, std = x.mean(axis=0), x.std(axis=0)
    return (((x - mean) / std).astype("float32"), y.astype("float32"),
            ((x_val - mean) / std).astype("float32"), y_val.astype("float32"))


def build_binary(hp: Any) -> keras.Model:
    """A sigmoid classifier compiled with an AUC named `auc`: fit reports auc and val_auc."""
    model = keras.Sequential([
        keras.Input(shape=(30,)),
        keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc")])
    return model


class Batches(keras.utils.PyDataset):
    """A keras.utils.PyDataset over arrays, as KerasTuner users write one: batch `i` by __getitem__."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]


# A user's KerasTuner script, run from a folder outside the repository: batched tf.data datasets for
# training and validation, an AUC metric and the objective on it. It prints what the test checks.
TF_DATA_SCRIPT = '''
import json

import keras
import tensorflow as tf
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tunelab.keras_tuner as kt  # was: import keras_tuner as kt

data = load_breast_cancer()
x, x_val, y, y_val = train_test_split(data.data, data.target, test_size=0.25, random_state=0, stratify=data.target)
mean, std = x.mean(axis=0), x.std(axis=0)
x, x_val = ((x - mean) / std).astype("float32"), ((x_val - mean) / std).astype("float32")
train_ds = tf.data.Dataset.from_tensor_slices((x, y.astype("float32"))).shuffle(512, seed=0).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val.astype("float32"))).batch(64)


def build_model(hp):
    model = keras.Sequential([
        keras.Input(shape=(30,)),
        keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
        keras.layers.Dropout(hp.Float("dropout", 0.0, 0.3, step=0.1)),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-2, sampling="log")),
                  loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    return model


tuner = kt.RandomSearch(build_model, objective=kt.Objective("val_auc", direction="max"), max_trials=3, seed=0,
                        directory="kt_out", project_name="breast_cancer")
tuner.search(train_ds, validation_data=val_ds, epochs=3)

best_model = tuner.get_best_models(1)[0]
trials, history = tuner.results.trials, tuner.results.history
print(json.dumps({
    "stop_reasons": sorted(trials["stop_reason"]),
    "val_auc_best": trials["val_auc_best"].tolist(),
    "history_val_auc": history["val_auc"].tolist(),
    "best_val_auc": float(tuner.oracle.get_best_trials(1)[0].score),
    "evaluated_val_auc": best_model.evaluate(val_ds, verbose=0, return_dict=True)["auc"],
    "mode": tuner.results.mode,
    "data": tuner.results.experiments[0].spec["data"],
}))
'''
