"""Hyperparameters a model restored from a checkpoint takes on without being rebuilt.

Population based training copies a better trial's checkpoint into a worse one and changes some
of its hyperparameters; the restored model must train on with the new values. Each is set on the
restored model before `fit` traces a step: the learning rate is the optimizer's variable,
momentum an attribute its update reads, dropout the rate of every Dropout layer, regularization
strength the factor of every kernel regularizer. Nothing that shapes the model is among them, so
the copied weights always fit. No Keras at import: the driver checks a strategy against this list.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from tunelab.trainables.compile import learning_params
from tunelab.trainables.model_params import family_params
from tunelab.trainables.models import FAMILY_PARAMS

if TYPE_CHECKING:
    import keras

LEARNING_ADJUSTABLE = ("learning_rate", "momentum")  # the optimizer's: any model a trainable compiles
MODEL_ADJUSTABLE = ("dropout", "regularization_strength")  # the built-in families' layers
# A built-in model leaves out Dropout at rate 0, and Keras cannot give a built Dropout layer the
# random state a rate above 0 needs (nor does a reloaded one have it at rate 0): a model without
# dropout keeps none.
KEPT_AT_ZERO = ("dropout",)


def adjustable_params(trainable: str | None) -> tuple[str, ...]:
    """What a restored model of `trainable` can change; a user's model function's layers are its own."""
    return LEARNING_ADJUSTABLE + (MODEL_ADJUSTABLE if trainable in FAMILY_PARAMS else ())


def apply_adjustable(model: keras.Model, config: Mapping[str, Any], trainable: str,
                     task: str = "classification") -> None:
    """Gives a restored, compiled `model` the adjustable values of `config`.

    A restore that resumes the same trial sets the values it already has. The learning rate is
    left to a decaying schedule, which computes it from the step (PBT then perturbs no rate).
    """
    learning = family_params(learning_params(task), family="learning").parse(config)
    set_optimizer_values(model, {"momentum": learning["momentum"]} if learning["lr_schedule"] != "constant" else
                         {"learning_rate": learning["learning_rate"], "momentum": learning["momentum"]})
    if trainable not in FAMILY_PARAMS:
        return
    import keras

    values = family_params(FAMILY_PARAMS[trainable], family=trainable).parse(config)
    strength = 0.0 if values["regularization"] == "none" else values["regularization_strength"]
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = values["dropout"]
        regularizer = getattr(layer, "kernel_regularizer", None)
        for factor in ("l1", "l2"):
            if hasattr(regularizer, factor):
                setattr(regularizer, factor, strength)


def optimizer_values(model: keras.Model) -> dict[str, float]:
    """The learning rate (unless a schedule computes it) and momentum of a compiled model's optimizer.

    Read from a user's compiled model as its function built it from the trial's config: the checkpoint's
    optimizer state holds the rate it trained with, and the config's is the one to train on.
    """
    optimizer = model.optimizer
    values = {}
    if isinstance(optimizer.get_config().get("learning_rate"), (int, float)):  # a schedule's is its config
        values["learning_rate"] = float(optimizer.learning_rate)
    if hasattr(optimizer, "momentum"):
        values["momentum"] = float(optimizer.momentum)
    return values


def set_optimizer_values(model: keras.Model, values: Mapping[str, float]) -> None:
    """Sets what `optimizer_values` reads on a restored model; an optimizer without momentum (adam) keeps none."""
    optimizer = model.optimizer
    if "learning_rate" in values:
        optimizer.learning_rate = values["learning_rate"]
    if "momentum" in values and hasattr(optimizer, "momentum"):  # sgd and rmsprop; adam has none
        optimizer.momentum = values["momentum"]
