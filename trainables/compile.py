"""Optimizer, learning-rate schedule and loss from a trial's hyperparameters.

Schedules are Keras' own serializable ones, so a checkpointed model reloads with its optimizer
state and its position in the schedule intact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tunelab.trainables.model_params import Among, Declared, Number, family_params

if TYPE_CHECKING:
    import keras

OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "exponential", "cosine", "step")
LOSSES = {  # by task: classification losses take one-hot labels, regression losses the numbers
    "classification": (
        "categorical_crossentropy",
        "categorical_focal_crossentropy",
        "categorical_hinge",
        "mean_squared_error",
    ),
    "regression": ("mse", "mae", "huber"),
}
COMPILE_PARAMS = ("optimizer", "learning_rate", "momentum", "lr_schedule", "loss")  # what compile applies


def learning_params(task: str = "classification") -> tuple[Declared, ...]:
    """The hyperparameters compile reads; the losses, and so the default loss, are the task's."""
    losses = LOSSES[task]
    return (
        Declared("optimizer", Among(OPTIMIZERS), "adam"),
        Declared("learning_rate", Number(0.0, low_open=True), 1e-3),
        Declared("momentum", Number(0.0, 1.0), 0.0),  # used by sgd and rmsprop
        Declared("lr_schedule", Among(LR_SCHEDULES), "constant"),
        Declared("loss", Among(losses, f"task: {task}"), losses[0]),
    )


def compile_model(
    model: keras.Model, config: Mapping[str, Any], *, steps_per_epoch: int, epochs: int,
    task: str = "classification", metrics: Sequence[str] = (), num_classes: int = 0,
) -> None:
    """Compile `model` for `task`'s targets (one-hot classes, or numbers) with the task's default metrics and
    `metrics` (names of trainables.metrics; `num_classes` sizes auc).

    `steps_per_epoch` and `epochs` give the length of the whole run, which the decaying
    schedules span.
    """
    import keras

    from tunelab.trainables.metrics import compile_metrics

    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(
            f"steps_per_epoch and epochs must be >= 1; got {steps_per_epoch} and {epochs}"
        )
    values = family_params(learning_params(task), family="learning").parse(config)
    learning_rate = _schedule(values, total_steps=steps_per_epoch * epochs)
    if values["optimizer"] == "adam":
        optimizer = keras.optimizers.Adam(learning_rate)
    else:
        optimizer_class = keras.optimizers.SGD if values["optimizer"] == "sgd" else keras.optimizers.RMSprop
        optimizer = optimizer_class(learning_rate, momentum=values["momentum"])
    model.compile(optimizer=optimizer, loss=values["loss"], metrics=compile_metrics(metrics, task, num_classes))


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
