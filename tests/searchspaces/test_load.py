"""load_space resolves catalog names, modules, files and inline mappings; fix_params pins values."""
from __future__ import annotations

import uuid

import pytest

from tunelab.searchspaces.catalog import CATALOG
from tunelab.searchspaces.catalog import cnn, mlp
from tunelab.searchspaces.load import fix_params, load_space
from tunelab.searchspaces.params import Above, Choice, Fixed, Float, Int, OneOf, SpaceError
from tunelab.searchspaces.space import Space

SPACE_FILE = """
from tunelab.searchspaces import Choice, Float, Space

SPACE = Space({"optimizer": Choice(["adam", "sgd"]), "learning_rate": Float(1e-4, 1e-1, log=True)})
"""


# --- load_space ---------------------------------------------------------------------------


def test_catalog_names_load_the_catalog_spaces() -> None:
    assert load_space("cnn") is cnn.SPACE
    assert load_space("mlp") is mlp.SPACE
    assert set(CATALOG) == {"cnn", "mlp"}


def test_misspelled_catalog_name_suggests_the_closest() -> None:
    with pytest.raises(SpaceError) as raised:
        load_space("cnnn")
    message = str(raised.value)
    assert message.startswith("space: 'cnnn' is not a catalog space (mlp, cnn)")
    assert "did you mean 'cnn'?" in message
    assert "module path" in message and ".py file" in message


def test_where_names_the_key() -> None:
    with pytest.raises(SpaceError, match="^experiment.space: 'mpl' is not a catalog space"):
        load_space("mpl", where="experiment.space")


@pytest.mark.parametrize("ref", ["", 3, None, ["cnn"]])
def test_bad_references(ref) -> None:
    with pytest.raises(SpaceError, match="^space: must be a catalog name"):
        load_space(ref)


def test_python_file_exporting_space(tmp_path) -> None:
    path = tmp_path / "my_spaces.py"
    path.write_text(SPACE_FILE)
    space = load_space(str(path))
    assert isinstance(space, Space)
    assert list(space) == ["optimizer", "learning_rate"]
    assert space["learning_rate"] == Float(1e-4, 1e-1, log=True)


def test_python_file_without_space(tmp_path) -> None:
    path = tmp_path / "no_space.py"
    path.write_text("SPACES = {}\n")
    with pytest.raises(SpaceError, match=f"^space: {path} must export SPACE, a tunelab.searchspaces.Space"):
        load_space(str(path))


def test_python_file_whose_space_is_not_a_space(tmp_path) -> None:
    path = tmp_path / "dict_space.py"
    path.write_text("SPACE = {'optimizer': 'adam'}\n")
    with pytest.raises(SpaceError, match="must export SPACE"):
        load_space(str(path))


def test_missing_python_file(tmp_path) -> None:
    path = tmp_path / "missing.py"
    with pytest.raises(SpaceError, match=f"^space: file {path} does not exist"):
        load_space(str(path))


def test_importable_dotted_module(tmp_path, monkeypatch) -> None:
    package = f"user_spaces_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "vision.py").write_text(SPACE_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    space = load_space(f"{package}.vision")
    assert list(space) == ["optimizer", "learning_rate"]


def test_catalog_module_by_its_dotted_path() -> None:
    assert load_space("tunelab.searchspaces.catalog.mlp") is mlp.SPACE


def test_dotted_module_that_cannot_be_imported() -> None:
    with pytest.raises(SpaceError, match="^space: cannot import module 'no_such_pkg.spaces'"):
        load_space("no_such_pkg.spaces")


def test_dotted_module_without_space() -> None:
    with pytest.raises(SpaceError, match="^space: tunelab.searchspaces.params must export SPACE"):
        load_space("tunelab.searchspaces.params")


def test_inline_mapping() -> None:
    space = load_space({"optimizer": {"type": "choice", "values": ["adam", "sgd"]}, "epochs": 3})
    assert dict(space) == {"optimizer": Choice(["adam", "sgd"]), "epochs": Fixed(3)}
    with pytest.raises(SpaceError, match=r"^experiment\.space\.lr\.type: "):
        load_space({"lr": {"type": "flaot"}}, where="experiment.space")


# --- fix_params ----------------------------------------------------------------------------


def small_space() -> Space:
    return Space(
        {
            "num_layers": Int(1, 3),
            "units_1": Int(16, 64, grid=[16, 64], when={"num_layers": Above(0)}),
            "units_2": Int(16, 64, grid=[16, 64], when={"num_layers": Above(1)}),
            "units_3": Int(16, 64, grid=[16, 64], when={"num_layers": Above(2)}),
            "optimizer": Choice(["adam", "sgd", "rmsprop"]),
            "momentum": Float(0.0, 0.9, grid=[0.0, 0.9], when={"optimizer": ["sgd", "rmsprop"]}),
            "nesterov": Choice([False, True], when={"momentum": Above(0.5)}),
        }
    )


def test_fix_params_pins_values() -> None:
    space = fix_params(small_space(), {"num_layers": 3, "units_2": 32})
    assert space["num_layers"] == Fixed(3)
    assert space["units_2"] == Fixed(32, when={"num_layers": Above(1)})
    assert space["units_1"] == small_space()["units_1"]
    for config in space.sample_many(100, seed=0):
        assert config["num_layers"] == 3 and config["units_2"] == 32


def test_fix_params_drops_params_whose_condition_can_no_longer_hold() -> None:
    space = fix_params(small_space(), {"optimizer": "adam", "num_layers": 2})
    assert list(space) == ["num_layers", "units_1", "units_2", "optimizer"]
    # dropped transitively: nesterov hangs on momentum
    assert "momentum" not in space and "nesterov" not in space and "units_3" not in space
    assert space.grid() == [
        {"num_layers": 2, "units_1": u1, "units_2": u2, "optimizer": "adam"} for u1 in (16, 64) for u2 in (16, 64)
    ]


def test_fix_params_narrows_a_condition_on_a_pinned_parent() -> None:
    space = fix_params(small_space(), {"optimizer": "sgd"})
    assert space["momentum"].conditions == (("optimizer", OneOf(("sgd",))),)
    assert "nesterov" in space
    for config in space.sample_many(100, seed=0):
        assert "momentum" in config
        small_space().check_config(config)


@pytest.mark.parametrize(
    "values, expected",
    [
        ({}, (2 + 4 + 8) * (1 + 3 + 3)),
        ({"num_layers": 1}, 2 * (1 + 3 + 3)),
        ({"num_layers": 2, "optimizer": "adam"}, 4),
        ({"num_layers": 2, "optimizer": "sgd"}, 4 * 3),
        ({"num_layers": 2, "optimizer": "sgd", "momentum": 0.9}, 4 * 2),
        ({"num_layers": 2, "optimizer": "sgd", "momentum": 0.0}, 4),
        ({"num_layers": 1, "units_1": 16, "optimizer": "rmsprop", "momentum": 0.9, "nesterov": True}, 1),
    ],
)
def test_fix_params_shrinks_the_grid(values, expected) -> None:
    space = fix_params(small_space(), values)
    grid = space.grid()
    assert len(grid) == expected
    for config in grid:
        small_space().check_config(config)
        assert all(config[name] == value for name, value in values.items() if name in config)


def test_fix_params_on_a_catalog_space() -> None:
    pinned = {
        "num_layers": 2, "activation": "relu", "lr_schedule": "constant", "loss": "categorical_crossentropy",
        "dropout": 0.0, "regularization": "none",
    }
    adam = fix_params(mlp.SPACE, {**pinned, "optimizer": "adam"})
    assert "momentum" not in adam and "units_3" not in adam and "regularization_strength" not in adam
    assert len(adam.grid()) == 4 * 2  # units_1 x units_2, learning_rate
    sgd = fix_params(mlp.SPACE, {**pinned, "optimizer": "sgd"})
    assert len(sgd.grid()) == 4 * 2 * 2  # ... x momentum
    for config in sgd.grid():
        mlp.SPACE.check_config(config)


@pytest.mark.parametrize(
    "values, fragments",
    [
        ({"optimiser": "adam"}, ["fix.optimiser: not a parameter of the space", "did you mean 'optimizer'?"]),
        ({"lr": 0.1}, ["fix.lr: not a parameter of the space"]),
        ({"num_layers": 4}, ["fix.num_layers: 4 is outside int [1, 3]"]),
        ({"optimizer": "adagrad"}, ["fix.optimizer: 'adagrad' is outside choice adam, sgd, rmsprop"]),
        ({"momentum": 0.95}, ["fix.momentum: 0.95 is outside float [0, 0.9]"]),
        ({"num_layers": 2.0}, ["fix.num_layers: 2.0 is outside"]),
    ],
)
def test_fix_params_rejects(values, fragments) -> None:
    with pytest.raises(SpaceError) as raised:
        fix_params(small_space(), values)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_fix_params_where_names_the_key() -> None:
    with pytest.raises(SpaceError, match=r"^ofat\.baseline\.optimiser: "):
        fix_params(small_space(), {"optimiser": "adam"}, where="ofat.baseline")


def test_fix_params_returns_a_new_space() -> None:
    space = small_space()
    fix_params(space, {"optimizer": "adam"})
    assert space == small_space()
