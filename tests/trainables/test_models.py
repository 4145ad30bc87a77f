"""Built-in model families read every hyperparameter, default the rest, and reject bad values."""

from __future__ import annotations

import keras
import pytest

from tunelab.trainables import build_model
from tunelab.trainables.models import CNN_PARAMS, MLP_PARAMS

MLP_DEFAULTS = {item.name: item.default for item in MLP_PARAMS}
CNN_DEFAULTS = {item.name: item.default for item in CNN_PARAMS}

IMAGES = (8, 8, 1)


def _layers(model: keras.Model, kind: type) -> list:
    return [layer for layer in model.layers if type(layer) is kind]


def test_mlp_builds_one_hidden_layer_per_units_key():
    config = {"num_layers": 3, "units_1": 7, "units_2": 5, "units_3": 3, "units_4": 99}
    model = build_model(config, IMAGES, 10, "mlp")

    dense = _layers(model, keras.layers.Dense)
    assert [layer.units for layer in dense] == [7, 5, 3, 10]  # units_4 is beyond num_layers
    assert dense[-1].get_config()["activation"] == "softmax"
    assert model.output_shape == (None, 10)


def test_mlp_defaults_apply_to_keys_a_space_does_not_tune():
    model = build_model({"units_2": 9}, (20,), 3, "mlp")

    dense = _layers(model, keras.layers.Dense)
    assert [layer.units for layer in dense] == [MLP_DEFAULTS["units"], 9, 3]
    assert dense[0].get_config()["activation"] == MLP_DEFAULTS["activation"]
    assert not _layers(model, keras.layers.Flatten) and not _layers(model, keras.layers.Dropout)


def test_cnn_honours_its_conv_hyperparameters():
    config = {
        "num_conv_layers": 2,
        "filters_1": 4,
        "filters_2": 6,
        "kernel_size": 2,
        "stride": 2,
        "padding": "valid",
        "dense_units": 12,
        "activation": "elu",
    }
    model = build_model(config, IMAGES, 10, "cnn")

    convs = [layer.get_config() for layer in _layers(model, keras.layers.Conv2D)]
    assert [c["filters"] for c in convs] == [4, 6]
    assert {(c["kernel_size"], c["strides"], c["padding"], c["activation"]) for c in convs} == {
        ((2, 2), (2, 2), "valid", "elu")
    }
    assert model.get_layer("conv_2").output.shape == (None, 2, 2, 6)  # 8 -> 4 -> 2
    assert [layer.units for layer in _layers(model, keras.layers.Dense)] == [12, 10]


def test_cnn_defaults():
    model = build_model({}, IMAGES, 10, "cnn")

    convs = [layer.get_config() for layer in _layers(model, keras.layers.Conv2D)]
    assert [c["filters"] for c in convs] == [CNN_DEFAULTS["filters"]] * 2
    assert convs[0]["padding"] == "same" and convs[0]["kernel_size"] == (3, 3)


@pytest.mark.parametrize(
    "regularization, expected",
    [
        ("l1", keras.regularizers.L1),
        ("l2", keras.regularizers.L2),
        ("l1_l2", keras.regularizers.L1L2),
    ],
)
@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_regularization_is_set_on_every_kernel(family, regularization, expected):
    config = {"regularization": regularization, "regularization_strength": 0.01}
    model = build_model(config, IMAGES, 10, family)

    kernels = _layers(model, keras.layers.Dense) + _layers(model, keras.layers.Conv2D)
    assert kernels and all(type(layer.kernel_regularizer) is expected for layer in kernels)
    strengths = {"l1": {"l1": 0.01}, "l2": {"l2": 0.01}, "l1_l2": {"l1": 0.01, "l2": 0.01}}
    assert kernels[0].kernel_regularizer.get_config() == pytest.approx(strengths[regularization])
    assert len(model.losses) == len(kernels)


def test_no_regularization_by_default():
    model = build_model({"regularization_strength": 0.5}, IMAGES, 10, "mlp")
    assert all(layer.kernel_regularizer is None for layer in _layers(model, keras.layers.Dense))


def test_dropout_follows_each_hidden_dense_layer():
    mlp = build_model({"num_layers": 2, "dropout": 0.3}, IMAGES, 10, "mlp")
    cnn = build_model({"dropout": 0.3}, IMAGES, 10, "cnn")

    assert [layer.name for layer in mlp.layers[2:]] == [
        "dense_1", "dropout_1", "dense_2", "dropout_2", "output"
    ]
    assert [layer.name for layer in cnn.layers[3:]] == [
        "flatten", "dropout_conv", "dense", "dropout_dense", "output"
    ]
    assert {layer.rate for layer in _layers(cnn, keras.layers.Dropout)} == {0.3}


def test_valid_padding_that_would_collapse_the_image_is_refused():
    config = {"num_conv_layers": 4, "kernel_size": 3, "padding": "valid"}
    with pytest.raises(ValueError, match=r"cnn conv layer 4 gets a 2x2 input.*padding 'same'"):
        build_model(config, IMAGES, 10, "cnn")


def test_cnn_refuses_tabular_input():
    with pytest.raises(ValueError, match=r"model cnn needs image input.*\(64,\)"):
        build_model({}, (64,), 10, "cnn")


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"activation": "foo"}, "activation must be one of relu, tanh, elu, gelu, selu; got 'foo'"),
        ({"regularization": "l3"}, "regularization must be one of none, l1, l2, l1_l2"),
        ({"dropout": 1.0}, r"dropout must be a number >= 0 and < 1; got 1.0"),
        ({"num_layers": 0}, "num_layers must be an integer >= 1; got 0"),
        ({"units_1": 2.5}, "units_1 must be an integer >= 1; got 2.5"),
        ({"padding": "full"}, "padding must be one of same, valid"),
        ({"regularization": "l2", "regularization_strength": -1}, "regularization_strength"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(config, expected):
    family = "cnn" if "padding" in config else "mlp"
    with pytest.raises(ValueError, match=expected):
        build_model(config, IMAGES, 10, family)


def test_integral_floats_from_a_search_algorithm_are_accepted():
    model = build_model({"num_layers": 1.0, "units_1": 5.0}, IMAGES, 10, "mlp")
    assert [layer.units for layer in _layers(model, keras.layers.Dense)] == [5, 10]


def test_user_model_function_by_import_path():
    model = build_model({"width": 6}, IMAGES, 4, "tests.trainables.helpers:tiny_mlp")
    assert model.get_layer("hidden").units == 6 and model.output_shape == (None, 4)


@pytest.mark.parametrize(
    "family, expected",
    [
        ("no_such_package.models:build", "cannot import module 'no_such_package.models'"),
        ("tests.trainables.helpers:missing", "has no callable 'missing'"),
        ("tests.trainables.helpers:NOT_CALLABLE", "has no callable 'NOT_CALLABLE'"),
        ("tests.trainables.helpers:not_a_model", "must return a keras.Model; got str"),
        ("transformer", "trainable: must be one of mlp, cnn or 'package.module:function'"),
    ],
)
def test_bad_model_family(family, expected):
    with pytest.raises(ValueError, match=expected):
        build_model({}, IMAGES, 10, family)
