"""A trial's hyperparameters -> a Keras model, for the built-in families or the user's.

Each family declares every hyperparameter it reads (MLP_PARAMS, CNN_PARAMS: domain and default),
so a search space may tune any subset, the driver checks a space against the declaration before
Ray starts, and a trial builds from the values parsed through it. The head is the task's: a softmax
over the classes, or a linear Dense with one output per regression target. A user's function may
return its model compiled (`is_compiled`): tunelab then keeps its loss, metrics and optimizer. Keras
is imported inside functions: the Ray worker must configure TensorFlow first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from tunelab.core.user_code import import_module
from tunelab.trainables.model_params import Among, Declared, Integer, Number, TrainableError

if TYPE_CHECKING:
    import keras

ACTIVATIONS = ("relu", "tanh", "elu", "gelu", "selu")
REGULARIZATIONS = ("none", "l1", "l2", "l1_l2")
PADDINGS = ("same", "valid")

_SHARED = (
    Declared("activation", Among(ACTIVATIONS), "relu"),
    Declared("dropout", Number(0.0, 1.0), 0.0),  # after each hidden Dense layer, and after the cnn's conv stack
    Declared("regularization", Among(REGULARIZATIONS), "none"),  # on every Conv and Dense kernel
    Declared("regularization_strength", Number(0.0), 1e-4),
)
MLP_PARAMS: tuple[Declared, ...] = (
    Declared("num_layers", Integer(1), 2),
    Declared("units", Integer(1), 64, per_layer="num_layers"),  # units_1 .. units_{num_layers}
    *_SHARED,
)
CNN_PARAMS: tuple[Declared, ...] = (
    Declared("num_conv_layers", Integer(1), 2),
    Declared("filters", Integer(1), 32, per_layer="num_conv_layers"),  # filters_1 .. filters_{num_conv_layers}
    Declared("kernel_size", Integer(1), 3),
    Declared("stride", Integer(1), 1),
    Declared("padding", Among(PADDINGS), "same"),
    Declared("dense_units", Integer(1), 64),
    *_SHARED,
)
ModelFunction = Callable[[Mapping[str, Any], tuple[int, ...], int], "keras.Model"]


def build_model(
    config: Mapping[str, Any], input_shape: tuple[int, ...], num_outputs: int, family: str,
    task: str = "classification",
) -> keras.Model:
    """A model with `num_outputs` outputs for `task` (a softmax over the classes, or linear), built by `family`.

    `family` is one of FAMILIES or "package.module:function" naming a user function
    `fn(config, input_shape, num_outputs) -> keras.Model`, compiled or not; a family's model is uncompiled.
    """
    import keras

    from tunelab.trainables.model_params import family_params

    if family in FAMILY_PARAMS:
        values = family_params(FAMILY_PARAMS[family], family=family).parse(config)
        check_input_shape(family, tuple(input_shape))
        return MODEL_FAMILIES[family].build(values, tuple(input_shape), _Head(num_outputs, task))
    model = resolve_model_function(family)(config, tuple(input_shape), num_outputs)
    if not isinstance(model, keras.Model):
        raise TrainableError(f"trainable: {family} must return a keras.Model; got {type(model).__name__}")
    return model


def is_compiled(model: keras.Model) -> bool:
    """Whether the user's function compiled `model`: its loss, metrics and optimizer are then its own."""
    return bool(getattr(model, "compiled", False)) or getattr(model, "optimizer", None) is not None


def check_input_shape(family: str, input_shape: tuple[int, ...]) -> None:
    """The cnn convolves images; tabular rows have no height and width."""
    if family in MODEL_FAMILIES and MODEL_FAMILIES[family].images_only and len(input_shape) != 3:
        raise TrainableError(
            f"trainable: model {family} needs image input (height, width, channels); the data has rows of shape "
            f"{input_shape}; use trainable mlp for tabular data"
        )


def resolve_model_function(family: str) -> ModelFunction:
    """The user function a "package.module:function" family names, imported."""
    module_name, _, function_name = family.rpartition(":")
    if not module_name or not function_name:
        raise TrainableError(
            f"trainable: must be one of {', '.join(FAMILIES)} or 'package.module:function'; got {family!r}"
        )
    module = import_module(module_name, "trainable", TrainableError)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise TrainableError(f"trainable: module {module_name!r} has no callable {function_name!r}")
    return function


def _mlp(values: Mapping[str, Any], input_shape: tuple[int, ...], head: _Head) -> keras.Model:
    import keras

    shared = _Shared(values)
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for k, units in enumerate(values["units"], start=1):
        x = shared.dense(units, f"dense_{k}")(x)
        x = shared.dropout(x, f"dropout_{k}")
    return keras.Model(inputs, shared.output(head)(x), name="mlp")


def _cnn(values: Mapping[str, Any], input_shape: tuple[int, ...], head: _Head) -> keras.Model:
    import keras

    shared = _Shared(values)
    kernel_size, stride, padding = values["kernel_size"], values["stride"], values["padding"]
    inputs = keras.Input(shape=input_shape)
    x = inputs
    height, width = input_shape[:2]
    for k, filters in enumerate(values["filters"], start=1):
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
    x = shared.dense(values["dense_units"], "dense")(x)
    x = shared.dropout(x, "dropout_dense")
    return keras.Model(inputs, shared.output(head)(x), name="cnn")


def _conv_output(size: int, kernel_size: int, stride: int, padding: str) -> int:
    """Spatial size after one convolution (Keras' own arithmetic)."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel_size) // stride + 1


@dataclass(frozen=True)
class _Head:
    """The output layer a task needs: a softmax over `outputs` classes, or `outputs` linear regression targets."""

    outputs: int
    task: str

    @property
    def activation(self) -> str:
        return "softmax" if self.task == "classification" else "linear"


class _Shared:
    """The hyperparameters both families share, from the parsed values."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.activation = values["activation"]
        self.dropout_rate = values["dropout"]
        self.regularization = values["regularization"]
        self.strength = 0.0 if self.regularization == "none" else values["regularization_strength"]

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

    def output(self, head: _Head) -> keras.layers.Dense:
        import keras

        return keras.layers.Dense(
            head.outputs, activation=head.activation, kernel_regularizer=self.regularizer(), name="output"
        )


@dataclass(frozen=True)
class ModelFamily:
    """A built-in family: every hyperparameter it reads, and the function that builds it from them."""

    params: tuple[Declared, ...]
    build: Callable[[Mapping[str, Any], tuple[int, ...], _Head], "keras.Model"]
    images_only: bool = False  # convolves images: rows of tabular data are refused before Ray starts


# The built-in families: adding one is its declared parameters, a builder above, an entry here,
# and a search space in searchspaces/catalog/.
MODEL_FAMILIES: dict[str, ModelFamily] = {
    "mlp": ModelFamily(MLP_PARAMS, _mlp),
    "cnn": ModelFamily(CNN_PARAMS, _cnn, images_only=True),
}
FAMILIES = tuple(MODEL_FAMILIES)
FAMILY_PARAMS = {name: family.params for name, family in MODEL_FAMILIES.items()}
