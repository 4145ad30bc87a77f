"""The YAML form of a space: what it builds, and errors that name the offending key path."""
from __future__ import annotations

import pytest

from tunelab.core.checks import did_you_mean
from tunelab.searchspaces.inline import space_from_dict
from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, OneOf, SpaceError
from tunelab.searchspaces.space import Space

DOCSTRING_EXAMPLE = {
    "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
    "momentum": {"type": "float", "low": 0.0, "high": 0.95, "when": {"optimizer": "sgd"}},
    "num_layers": {"type": "int", "low": 1, "high": 3},
    "units": {"type": "int", "low": 16, "high": 256, "log": True, "per_layer": "num_layers"},
    "learning_rate": {"type": "float", "low": 1.0e-4, "high": 0.1, "log": True},
}


def test_docstring_example_builds_the_expected_space() -> None:
    space = space_from_dict(DOCSTRING_EXAMPLE)
    expected = Space(
        {
            "optimizer": Choice(["adam", "sgd"]),
            "momentum": Float(0.0, 0.95, when={"optimizer": "sgd"}),
            "num_layers": Int(1, 3),
            "units_1": Int(16, 256, log=True, when={"num_layers": Above(0)}),
            "units_2": Int(16, 256, log=True, when={"num_layers": Above(1)}),
            "units_3": Int(16, 256, log=True, when={"num_layers": Above(2)}),
            "learning_rate": Float(1e-4, 0.1, log=True),
        }
    )
    assert list(space) == list(expected)
    assert dict(space) == dict(expected)


def test_per_layer_expands_to_the_count_params_high() -> None:
    space = space_from_dict(
        {
            "num_conv_layers": {"type": "int", "low": 2, "high": 5},
            "filters": {"type": "int", "low": 8, "high": 64, "grid": [16, 32], "per_layer": "num_conv_layers"},
        }
    )
    assert list(space) == ["num_conv_layers"] + [f"filters_{k}" for k in range(1, 6)]
    assert space["filters_4"].conditions == (("num_conv_layers", Above(3)),)
    assert space["filters_4"].grid == (16, 32)
    assert len(space.grid()) == 2**2 + 2**3 + 2**4 + 2**5


def test_per_layer_merges_the_entrys_own_when() -> None:
    space = space_from_dict(
        {
            "family": {"type": "choice", "values": ["mlp", "cnn"]},
            "num_layers": {"type": "int", "low": 1, "high": 2},
            "units": {"type": "int", "low": 8, "high": 16, "per_layer": "num_layers", "when": {"family": "mlp"}},
        }
    )
    assert space["units_2"].conditions == (("family", OneOf(("mlp",))), ("num_layers", Above(1)))


def test_when_forms() -> None:
    space = space_from_dict(
        {
            "num_layers": {"type": "int", "low": 1, "high": 4},
            "optimizer": {"type": "choice", "values": ["adam", "sgd", "rmsprop"]},
            "deep_only": {"type": "bool", "when": {"num_layers": {"above": 2}}},
            "momentum": {
                "type": "float", "low": 0.0, "high": 0.9, "grid": [0.0, 0.9], "when": {"optimizer": ["sgd", "rmsprop"]}
            },
            "nesterov": {"type": "bool", "when": {"optimizer": "sgd", "momentum": {"above": 0.5}}},
        }
    )
    assert space["deep_only"] == Bool(when={"num_layers": Above(2)})
    assert space["momentum"].conditions == (("optimizer", OneOf(("sgd", "rmsprop"))),)
    assert space["nesterov"].conditions == (("optimizer", OneOf(("sgd",))), ("momentum", Above(0.5)))
    for sample in space.sample_many(200, seed=0):
        assert ("deep_only" in sample) == (sample["num_layers"] > 2)
        space.check_config(sample)


def test_every_type_and_scalar_entries() -> None:
    space = space_from_dict(
        {
            "epochs": 5,
            "dataset": "digits",
            "seed": {"type": "fixed", "value": None},  # a bare `seed:` is an empty value, refused
            "batch_size": {"type": "fixed", "value": 32},
            "use_bias": {"type": "bool"},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
            "units": {"type": "int", "low": 8, "high": 64, "step": 8, "grid": [8, 64]},
            "activation": {"type": "choice", "values": ["relu", "tanh"]},
        }
    )
    assert dict(space) == {
        "epochs": Fixed(5),
        "dataset": Fixed("digits"),
        "seed": Fixed(None),
        "batch_size": Fixed(32),
        "use_bias": Bool(),
        "dropout": Float(0.0, 0.5, step=0.1),
        "units": Int(8, 64, step=8, grid=[8, 64]),
        "activation": Choice(["relu", "tanh"]),
    }


ERRORS = [
    # bad values name the field
    ({"units": {"type": "int", "low": 300, "high": 256}}, ["space.units.low:", "low must be less than high"]),
    ({"units": {"type": "int", "low": 1.5, "high": 256}}, ["space.units.low:", "must be an integer", "1.5"]),
    ({"units": {"type": "int", "low": 1, "high": "many"}}, ["space.units.high:", "must be an integer"]),
    ({"units": {"type": "int", "low": 1, "high": 9, "step": 0}}, ["space.units.step:", "step must be >= 1"]),
    ({"units": {"type": "int", "low": 0, "high": 9, "log": True}}, ["space.units.log:", "needs low > 0"]),
    ({"units": {"type": "int", "low": 1, "high": 9, "grid": [10]}}, ["space.units.grid:", "outside [1, 9]"]),
    ({"lr": {"type": "float", "low": 0.0, "high": ".1"}}, ["space.lr.high:", "finite number"]),
    ({"act": {"type": "choice", "values": []}}, ["space.act:", "at least one value"]),
    ({"act": {"type": "choice", "values": ["relu", "relu"]}}, ["space.act.values:", "unique"]),
    ({"act": {"type": "choice", "values": "relu"}}, ["space.act.values:", "must be a list"]),
    ({"act": {"type": "fixed", "value": [1]}}, ["space.act.value:", "Fixed"]),
    ({"layers": [32, 64]}, ["space.layers:", "Fixed: value must be"]),
    # type
    ({"lr": {"type": "flaot", "low": 0.0, "high": 1.0}}, ["space.lr.type:", "'flaot' is not a parameter type",
                                                         "int, float, choice, bool, fixed", "did you mean 'float'?"]),
    ({"lr": {"low": 0.0, "high": 1.0}}, ["space.lr.type:", "None is not a parameter type"]),
    ({"lr": {"type": ["float"], "low": 0.0, "high": 1.0}}, ["space.lr.type:", "is not a parameter type"]),
    # keys
    ({"units": {"type": "int", "low": 1, "high": 9, "stpe": 2}},
     ["space.units.stpe:", "unknown key for a int parameter", "did you mean 'step'?"]),
    ({"act": {"type": "choice", "value": ["a"]}}, ["space.act.value:", "unknown key", "did you mean 'values'?"]),
    ({"flag": {"type": "bool", "values": [True, False]}}, ["space.flag.values:", "unknown key for a bool parameter"]),
    ({"act": {"type": "choice"}}, ["space.act:", "a choice parameter needs 'values'"]),
    ({"units": {"type": "int", "high": 9}}, ["space.units:", "needs 'low'"]),
    ({"c": {"type": "fixed"}}, ["space.c:", "needs 'value'"]),
    # per_layer
    ({"act": {"type": "choice", "values": ["relu"]},
      "units": {"type": "int", "low": 1, "high": 9, "per_layer": "act"}},
     ["space.units:", "per_layer", "'act' must be an int parameter declared before units"]),
    ({"units": {"type": "int", "low": 1, "high": 9, "per_layer": "num_layers"}},
     ["space.units:", "'num_layers' must be an int parameter declared before units"]),
    ({"units": {"type": "int", "low": 1, "high": 9, "per_layer": "num_layers"},
      "num_layers": {"type": "int", "low": 1, "high": 3}},
     ["space.units:", "'num_layers' must be an int parameter declared before units"]),
    ({"num_layers": {"type": "float", "low": 1, "high": 3},
      "units": {"type": "int", "low": 1, "high": 9, "per_layer": "num_layers"}},
     ["space.units:", "'num_layers' must be an int parameter"]),
    ({"units": {"type": "int", "low": 1, "high": 9, "per_layer": 3}},
     ["space.units.per_layer:", "must name an int parameter"]),
    ({"num_layers": {"type": "int", "low": 1, "high": 2},
      "units": {"type": "int", "low": 1, "high": 9, "per_layer": "num_layers"},
      "units_2": 16},
     ["space.units_2:", "already added by an earlier per_layer entry"]),
    ({"units_2": 16,
      "num_layers": {"type": "int", "low": 1, "high": 2},
      "units": {"type": "int", "low": 1, "high": 9, "per_layer": "num_layers"}},
     ["space.units:", "per_layer would add units_2, which is already declared"]),
    # when
    ({"momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sgd"}}},
     ["space.momentum:", "condition on 'optimizer'", "not declared before it"]),
    ({"optimizer": {"type": "choice", "values": ["adam", "sgd"]},
      "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sdg"}}},
     ["space.momentum:", "optimizer = 'sdg' can never hold"]),
    ({"optimizer": {"type": "choice", "values": ["adam", "sgd"]},
      "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": {"above": 1}}}},
     ["space.momentum:", "'above' needs a numeric parent"]),
    ({"n": {"type": "int", "low": 1, "high": 3}, "x": {"type": "bool", "when": {"n": {"below": 2}}}},
     ["space.x.when.n:", "must be {above: k}"]),
    ({"n": {"type": "int", "low": 1, "high": 3}, "x": {"type": "bool", "when": {"n": {"above": "2"}}}},
     ["space.x.when.n.above:", "must be a number", "'2'"]),
    ({"n": {"type": "int", "low": 1, "high": 3}, "x": {"type": "bool", "when": {"n": {"above": True}}}},
     ["space.x.when.n.above:", "must be a number"]),
    ({"n": {"type": "int", "low": 1, "high": 3}, "x": {"type": "bool", "when": "n"}},
     ["space.x.when:", "must map a parent name"]),
    ({"n": {"type": "int", "low": 1, "high": 3}, "x": {"type": "bool", "when": {}}},
     ["space.x.when:", "must map a parent name"]),
]


@pytest.mark.parametrize("entries, fragments", ERRORS)
def test_errors_name_the_key_path(entries, fragments) -> None:
    with pytest.raises(SpaceError) as raised:
        space_from_dict(entries)
    message = str(raised.value)
    assert message.startswith(fragments[0]), message
    for fragment in fragments[1:]:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize("entries", [{}, None, [1, 2], "cnn"])
def test_space_must_be_a_non_empty_mapping(entries) -> None:
    with pytest.raises(SpaceError, match="^space: must be a mapping"):
        space_from_dict(entries)


def test_where_prefixes_every_path() -> None:
    with pytest.raises(SpaceError, match=r"^experiment\.space\.units\.low: "):
        space_from_dict({"units": {"type": "int", "low": 9, "high": 1}}, where="experiment.space")


@pytest.mark.parametrize(
    "word, options, expected",
    [
        ("flaot", ["int", "float", "choice"], " (did you mean 'float'?)"),
        # difflib alone rates `type` as close as `step`; a swap of neighbours is one edit
        ("stpe", ["type", "when", "per_layer", "low", "high", "step", "log", "grid"], " (did you mean 'step'?)"),
        ("optimiser", ["optimizer", "momentum"], " (did you mean 'optimizer'?)"),
        ("cnnn", ("mlp", "cnn"), " (did you mean 'cnn'?)"),
        ("xyz", ["int", "float"], ""),
        (None, ["int"], ""),
    ],
)
def test_did_you_mean(word, options, expected) -> None:
    assert did_you_mean(word, options) == expected
