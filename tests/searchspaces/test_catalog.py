"""The ready-made spaces: they cover the course's hyperparameters and every combination is usable."""
from __future__ import annotations

import importlib
import itertools
import math

import pytest

from tunelab.searchspaces.catalog import CATALOG
from tunelab.searchspaces.catalog import cnn, mlp
from tunelab.searchspaces.params import Above, Choice, Float, Int
from tunelab.searchspaces.space import Space

SPACES = {name: importlib.import_module(f"tunelab.searchspaces.catalog.{name}").SPACE for name in CATALOG}

COURSE_HYPERPARAMETERS = [
    "num_layers", "num_conv_layers", "units_1", "filters_1", "kernel_size", "stride", "padding", "activation",
    "optimizer", "learning_rate", "lr_schedule", "loss", "dropout", "regularization", "regularization_strength",
]


def _union() -> dict:
    params: dict = {}
    for space in SPACES.values():
        params.update(space)
    return params


@pytest.mark.parametrize("name", CATALOG)
def test_every_catalog_module_exports_a_space(name) -> None:
    assert isinstance(SPACES[name], Space)


@pytest.mark.parametrize("hyperparameter", COURSE_HYPERPARAMETERS)
def test_the_catalog_covers_every_course_hyperparameter(hyperparameter) -> None:
    assert hyperparameter in _union()


def test_per_layer_params_follow_their_count() -> None:
    for space, count, prefix, layers in [
        (mlp.SPACE, "num_layers", "units", mlp.MAX_LAYERS),
        (cnn.SPACE, "num_conv_layers", "filters", cnn.MAX_CONV_LAYERS),
    ]:
        assert space[count].high == layers
        names = [name for name in space if name.startswith(f"{prefix}_")]
        assert names == [f"{prefix}_{k}" for k in range(1, layers + 1)]
        for k, name in enumerate(names, start=1):
            assert space[name].conditions == ((count, Above(k - 1)),)


def test_learning_hyperparameters_have_the_expected_values() -> None:
    params = _union()
    assert isinstance(params["learning_rate"], Float) and params["learning_rate"].log
    assert params["learning_rate"].low > 0
    assert {"adam", "sgd"} <= set(params["optimizer"].values)
    assert {"l1", "l2"} <= set(params["regularization"].values)
    assert len(params["lr_schedule"].values) > 1 and "constant" in params["lr_schedule"].values
    assert len(params["loss"].values) > 1
    assert params["regularization_strength"].log
    assert {parent for parent, _ in params["regularization_strength"].conditions} == {"regularization"}
    assert {parent for parent, _ in params["momentum"].conditions} == {"optimizer"}
    assert 0.0 <= params["dropout"].low and params["dropout"].high < 1.0
    assert set(params["padding"].values) == {"same", "valid"}


@pytest.mark.parametrize("name", CATALOG)
def test_every_param_can_be_grid_searched(name) -> None:
    for param_name, param in SPACES[name].items():
        assert len(param.grid_values()) >= 1, param_name


@pytest.mark.parametrize("name", CATALOG)
def test_samples_pass_check_config(name) -> None:
    space = SPACES[name]
    samples = space.sample_many(1000, seed=0)
    for config in samples:
        space.check_config(config)
    # conditions fire both ways across 1000 samples
    assert any("momentum" in config for config in samples) and any("momentum" not in config for config in samples)


@pytest.mark.parametrize("name", CATALOG)
def test_decoded_unit_points_pass_check_config(name) -> None:
    space = SPACES[name]
    for config in space.sample_many(200, seed=1):
        space.check_config(space.decode(space.encode(config)))


def _conv_output(size: int, kernel_size: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel_size) // stride + 1


def _spatial_size(config: dict, size: int = 8) -> int:
    for _ in range(config["num_conv_layers"]):
        size = _conv_output(size, config["kernel_size"], config["stride"], config["padding"])
    return size


def test_conv_output_formula() -> None:
    assert _conv_output(8, 3, 2, "valid") == 3
    assert _conv_output(3, 3, 2, "valid") == 1
    assert _conv_output(8, 3, 2, "same") == 4
    assert _conv_output(7, 2, 2, "same") == 4
    assert _conv_output(2, 3, 1, "valid") == 0


def test_every_sampled_cnn_keeps_a_spatial_size_on_8x8_inputs() -> None:
    for config in cnn.SPACE.sample_many(1000, seed=0):
        assert _spatial_size(config) >= 1, config


def test_every_cnn_architecture_keeps_a_spatial_size_on_8x8_inputs() -> None:
    space = cnn.SPACE
    structural = ["num_conv_layers", "kernel_size", "stride", "padding"]
    assert all(isinstance(space[name], (Int, Choice)) for name in structural)
    for values in itertools.product(*(space[name].grid_values() for name in structural)):
        config = dict(zip(structural, values))
        assert _spatial_size(config) >= 1, config
