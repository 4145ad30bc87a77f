"""Optimizer, learning-rate schedule and loss from a trial's hyperparameters.

Schedules are Keras' own serializable ones, so a checkpointed model reloads with its optimizer
state and its position in the schedule intact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from tunelab.trainables.model_params import Among, Declared, Number, family_params

if TYPE_CHECKING:
    import keras

OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "exponential", "cosine", "step")
LOSSES = (
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "mean_squared_error",
)
LEARNING_PARAMS: tuple[Declared, ...] = (
    Declared("optimizer", Among(OPTIMIZERS), "adam"),
    Declared("learning_rate", Number(0.0, low_open=True), 1e-3),
    Declared("momentum", Number(0.0, 1.0), 0.0),  # used by sgd and rmsprop
    Declared("lr_schedule", Among(LR_SCHEDULES), "constant"),
    Declared("loss", Among(LOSSES), "categorical_crossentropy"),
)
REPORTED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")  # what fit reports with metrics=["accuracy"]


def compile_model(
    model: keras.Model, config: Mapping[str, Any], *, steps_per_epoch: int, epochs: int
) -> None:
    """Compile `model` for one-hot targets with metric "accuracy".

    `steps_per_epoch` and `epochs` give the length of the whole run, which the decaying
    schedules span.
    """
    import keras

    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(
            f"steps_per_epoch and epochs must be >= 1; got {steps_per_epoch} and {epochs}"
        )
    values = family_params(LEARNING_PARAMS, family="learning").parse(config)
    learning_rate = _schedule(values, total_steps=steps_per_epoch * epochs)
    if values["optimizer"] == "adam":
        optimizer = keras.optimizers.Adam(learning_rate)
    else:
        optimizer_class = keras.optimizers.SGD if values["optimizer"] == "sgd" else keras.optimizers.RMSprop
        optimizer = optimizer_class(learning_rate, momentum=values["momentum"])
    model.compile(optimizer=optimizer, loss=values["loss"], metrics=["accuracy"])


def _schedule(
    values: Mapping[str, Any], *, total_steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    import keras

    rate, kind = values["learning_rate"], values["lr_schedule"]
    schedules = keras.optimizers.schedules
    if kind == "exponential":  # down to 10% of the initial rate at the end of the run
        return schedules.ExponentialDecay(rate, decay_steps=total_steps, decay_rate=0.1)
    if kind == "cosine":
        return schedules.CosineDecay(rate, decay_steps=total_steps)
    if kind == "step":  # halved at 50% and again at 75% of the run
        return schedules.PiecewiseConstantDecay(
            boundaries=[total_steps // 2, total_steps * 3 // 4],
            values=[rate, rate / 2, rate / 4],
        )
    return rate
