"""A trial's hyperparameters -> an uncompiled Keras model, for the built-in families or the user's.

Every hyperparameter has a default (the *_DEFAULTS dicts), so a search space may tune any
subset. Keras is imported inside functions: the Ray worker must configure TensorFlow first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable, Mapping

from tunelab.trainables import _config

if TYPE_CHECKING:
    import keras

FAMILIES = ("mlp", "cnn")
ACTIVATIONS = ("relu", "tanh", "elu", "gelu", "selu")
REGULARIZATIONS = ("none", "l1", "l2", "l1_l2")
PADDINGS = ("same", "valid")

_SHARED_DEFAULTS: dict[str, Any] = {
    "activation": "relu",
    "dropout": 0.0,  # after each hidden Dense layer, and after the cnn's conv stack
    "regularization": "none",  # on every Conv and Dense kernel
    "regularization_strength": 1e-4,
}
MLP_DEFAULTS: dict[str, Any] = {
    **_SHARED_DEFAULTS,
    "num_layers": 2,
    "units": 64,  # for each of units_1 .. units_{num_layers} the config leaves out
}
CNN_DEFAULTS: dict[str, Any] = {
    **_SHARED_DEFAULTS,
    "num_conv_layers": 2,
    "filters": 32,  # for each of filters_1 .. filters_{num_conv_layers} the config leaves out
    "kernel_size": 3,
    "stride": 1,
    "padding": "same",
    "dense_units": 64,
}

ModelFunction = Callable[[Mapping[str, Any], tuple[int, ...], int], "keras.Model"]


def build_model(
    config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int, family: str
) -> keras.Model:
    """An uncompiled model with a softmax over `num_classes`, built by `family`.

    `family` is one of FAMILIES or "package.module:function" naming a user function
    `fn(config, input_shape, num_classes) -> keras.Model`.
    """
    import keras

    if family == "mlp":
        return _mlp(config, tuple(input_shape), num_classes)
    if family == "cnn":
        return _cnn(config, tuple(input_shape), num_classes)
    model = resolve_model_function(family)(config, tuple(input_shape), num_classes)
    if not isinstance(model, keras.Model):
        raise ValueError(f"model {family!r} must return a keras.Model; got {type(model).__name__}")
    return model


def resolve_model_function(family: str) -> ModelFunction:
    """The user function a "package.module:function" family names, imported."""
    module_name, _, function_name = family.rpartition(":")
    if not module_name or not function_name:
        raise ValueError(
            f"model must be one of {', '.join(FAMILIES)} or 'package.module:function'; "
            f"got {family!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"model {family!r}: cannot import module {module_name!r} ({e})") from e
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(
            f"model {family!r}: module {module_name!r} has no callable {function_name!r}"
        )
    return function


def _mlp(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    import keras

    shared = _Shared(config, MLP_DEFAULTS)
    num_layers = _config.integer(config, "num_layers", MLP_DEFAULTS["num_layers"])
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for k in range(1, num_layers + 1):
        units = _config.integer(config, f"units_{k}", MLP_DEFAULTS["units"])
        x = shared.dense(units, f"dense_{k}")(x)
        x = shared.dropout(x, f"dropout_{k}")
    return keras.Model(inputs, shared.output(num_classes)(x), name="mlp")


def _cnn(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    import keras

    if len(input_shape) != 3:
        raise ValueError(
            f"model 'cnn' needs image input (height, width, channels); got input_shape "
            f"{input_shape}; use model 'mlp' for tabular data"
        )
    shared = _Shared(config, CNN_DEFAULTS)
    num_conv_layers = _config.integer(config, "num_conv_layers", CNN_DEFAULTS["num_conv_layers"])
    kernel_size = _config.integer(config, "kernel_size", CNN_DEFAULTS["kernel_size"])
    stride = _config.integer(config, "stride", CNN_DEFAULTS["stride"])
    padding = _config.choice(config, "padding", CNN_DEFAULTS["padding"], PADDINGS)
    dense_units = _config.integer(config, "dense_units", CNN_DEFAULTS["dense_units"])

    inputs = keras.Input(shape=input_shape)
    x = inputs
    height, width = input_shape[:2]
    for k in range(1, num_conv_layers + 1):
        filters = _config.integer(config, f"filters_{k}", CNN_DEFAULTS["filters"])
        if padding == "valid" and min(height, width) < kernel_size:
            raise ValueError(
                f"cnn conv layer {k} gets a {height}x{width} input, smaller than "
                f"kernel_size={kernel_size} with padding 'valid'; use padding 'same', "
                f"a smaller kernel_size or fewer conv layers"
            )
        height = _conv_output(height, kernel_size, stride, padding)
        width = _conv_output(width, kernel_size, stride, padding)
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=stride,
            padding=padding,
            activation=shared.activation,
            kernel_regularizer=shared.regularizer(),
            name=f"conv_{k}",
        )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = shared.dropout(x, "dropout_conv")
    x = shared.dense(dense_units, "dense")(x)
    x = shared.dropout(x, "dropout_dense")
    return keras.Model(inputs, shared.output(num_classes)(x), name="cnn")


def _conv_output(size: int, kernel_size: int, stride: int, padding: str) -> int:
    """Spatial size after one convolution (Keras' own arithmetic)."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel_size) // stride + 1


class _Shared:
    """The hyperparameters both families share, read and checked once per build."""

    def __init__(self, config: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        self.activation = _config.choice(config, "activation", defaults["activation"], ACTIVATIONS)
        self.dropout_rate = _config.number(
            config, "dropout", defaults["dropout"], low=0.0, high=1.0
        )
        self.regularization = _config.choice(
            config, "regularization", defaults["regularization"], REGULARIZATIONS
        )
        self.strength = (
            0.0
            if self.regularization == "none"
            else _config.number(
                config, "regularization_strength", defaults["regularization_strength"], low=0.0
            )
        )

    def regularizer(self) -> keras.regularizers.Regularizer | None:
        import keras

        if self.regularization == "l1":
            return keras.regularizers.L1(self.strength)
        if self.regularization == "l2":
            return keras.regularizers.L2(self.strength)
        if self.regularization == "l1_l2":
            return keras.regularizers.L1L2(l1=self.strength, l2=self.strength)
        return None

    def dense(self, units: int, name: str) -> keras.layers.Dense:
        import keras

        return keras.layers.Dense(
            units, activation=self.activation, kernel_regularizer=self.regularizer(), name=name
        )

    def dropout(self, x: keras.KerasTensor, name: str) -> keras.KerasTensor:
        import keras

        return keras.layers.Dropout(self.dropout_rate, name=name)(x) if self.dropout_rate else x

    def output(self, num_classes: int) -> keras.layers.Dense:
        import keras

        return keras.layers.Dense(
            num_classes, activation="softmax", kernel_regularizer=self.regularizer(), name="output"
        )
