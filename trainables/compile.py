"""Optimizer, learning-rate schedule and loss from a trial's hyperparameters.

Schedules are Keras' own serializable ones, so a checkpointed model reloads with its optimizer
state and its position in the schedule intact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from tunelab.trainables import _config

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
LEARNING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "momentum": 0.0,  # used by sgd and rmsprop
    "lr_schedule": "constant",
    "loss": "categorical_crossentropy",
}


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
    name = _config.choice(config, "optimizer", LEARNING_DEFAULTS["optimizer"], OPTIMIZERS)
    learning_rate = _schedule(config, total_steps=steps_per_epoch * epochs)
    if name == "adam":
        optimizer = keras.optimizers.Adam(learning_rate)
    else:
        momentum = _config.number(
            config, "momentum", LEARNING_DEFAULTS["momentum"], low=0.0, high=1.0
        )
        optimizer_class = keras.optimizers.SGD if name == "sgd" else keras.optimizers.RMSprop
        optimizer = optimizer_class(learning_rate, momentum=momentum)
    loss = _config.choice(config, "loss", LEARNING_DEFAULTS["loss"], LOSSES)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def _schedule(
    config: Mapping[str, Any], *, total_steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    import keras

    rate = _config.number(
        config, "learning_rate", LEARNING_DEFAULTS["learning_rate"], low=0.0, low_open=True
    )
    kind = _config.choice(config, "lr_schedule", LEARNING_DEFAULTS["lr_schedule"], LR_SCHEDULES)
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
