"""Space: conditions, sampling, exact grids, config checks, encode/decode."""
from __future__ import annotations

import random

import pytest

from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, OneOf, SpaceError
from tunelab.searchspaces.space import Space, per_layer


def optimizer_space() -> Space:
    return Space(
        {
            "optimizer": Choice(["adam", "sgd"]),
            "momentum": Float(0.0, 0.95, grid=[0.0, 0.9], when={"optimizer": "sgd"}),
        }
    )


def layers_space() -> Space:
    return Space(
        {
            "num_layers": Int(1, 3),
            **per_layer(Int(16, 256, log=True, grid=[32, 128]), count="num_layers", max_count=3, prefix="units"),
        }
    )


def nested_space() -> Space:
    """regularization -> kind of penalty -> its strength: a grandchild under a child."""
    return Space(
        {
            "regularize": Bool(),
            "penalty": Choice(["l1", "l2"], when={"regularize": True}),
            "strength": Float(1e-6, 1e-2, log=True, grid=[1e-5, 1e-3], when={"penalty": "l2"}),
        }
    )


def mixed_space() -> Space:
    """Every type, an Above and a OneOf condition, a nested condition and a fixed value."""
    return Space(
        {
            "epochs": 5,
            "num_layers": Int(1, 3),
            **per_layer(Int(8, 64, step=8), count="num_layers", max_count=3, prefix="units"),
            "activation": Choice(["relu", "tanh"]),
            "optimizer": Choice(["adam", "sgd", "rmsprop"]),
            "learning_rate": Float(1e-4, 1e-1, log=True, grid=[1e-3, 1e-2]),
            "momentum": Float(0.0, 0.9, grid=[0.0, 0.9], when={"optimizer": ["sgd", "rmsprop"]}),
            "nesterov": Bool(when={"optimizer": "sgd", "momentum": Above(0.5)}),
            "dropout": Float(0.0, 0.5, step=0.1),
        }
    )


# --- construction ---------------------------------------------------------------------------


def test_space_is_an_ordered_immutable_mapping() -> None:
    space = optimizer_space()
    assert list(space) == ["optimizer", "momentum"]
    assert len(space) == 2
    assert space["optimizer"] == Choice(["adam", "sgd"])
    assert "momentum" in space and "lr" not in space
    with pytest.raises(TypeError):
        space["lr"] = Float(0.0, 1.0)  # type: ignore[index]
    assert repr(space) == "Space(optimizer: choice adam, sgd, momentum: float [0, 0.95])"


def test_raw_scalars_become_fixed() -> None:
    space = Space({"epochs": 5, "optimizer": "adam", "shuffle": True, "seed": None})
    assert dict(space) == {"epochs": Fixed(5), "optimizer": Fixed("adam"), "shuffle": Fixed(True), "seed": Fixed(None)}
    assert space.sample(random.Random(0)) == {"epochs": 5, "optimizer": "adam", "shuffle": True, "seed": None}
    assert space.grid() == [{"epochs": 5, "optimizer": "adam", "shuffle": True, "seed": None}]


def test_raw_non_scalar_is_rejected_with_its_name() -> None:
    with pytest.raises(SpaceError, match="^layers: Fixed: value must be"):
        Space({"layers": [32, 64]})


@pytest.mark.parametrize("params", [{}, None, [("a", Int(1, 3))]])
def test_empty_or_non_mapping_space_is_rejected(params) -> None:
    with pytest.raises(SpaceError, match="at least one parameter"):
        Space(params)


@pytest.mark.parametrize("name", ["1layer", "learning-rate", "learning rate", "", "units.1", 3, None])
def test_non_identifier_names_are_rejected(name) -> None:
    with pytest.raises(SpaceError, match="must be identifiers") as raised:
        Space({name: Int(1, 3)})
    assert repr(name) in str(raised.value)


@pytest.mark.parametrize(
    "params, fragments",
    [
        (  # unknown parent
            {"momentum": Float(0.0, 0.9, when={"optimizer": "sgd"})},
            ["momentum", "'optimizer'", "not declared before it", "none"],
        ),
        (  # parent declared later
            {"momentum": Float(0.0, 0.9, when={"optimizer": "sgd"}), "optimizer": Choice(["adam", "sgd"])},
            ["momentum", "'optimizer'", "not declared before it"],
        ),
        (  # misspelled parent: the message lists what was declared
            {"optimizer": Choice(["adam", "sgd"]), "momentum": Float(0.0, 0.9, when={"optimiser": "sgd"})},
            ["momentum", "'optimiser'", "declared so far: optimizer"],
        ),
        (  # itself
            {"momentum": Float(0.0, 0.9, when={"momentum": 0.5})},
            ["momentum", "conditional on itself"],
        ),
        (  # above on a choice
            {"optimizer": Choice(["adam", "sgd"]), "units_2": Int(1, 3, when={"optimizer": Above(1)})},
            ["units_2", "'above' needs a numeric parent", "optimizer is choice adam, sgd"],
        ),
        (  # above on a fixed string
            {"family": "cnn", "units_2": Int(1, 3, when={"family": Above(1)})},
            ["units_2", "'above' needs a numeric parent", "family is fixed 'cnn'"],
        ),
        (  # above on a fixed bool
            {"flag": True, "units_2": Int(1, 3, when={"flag": Above(0)})},
            ["units_2", "'above' needs a numeric parent"],
        ),
        (  # above a threshold the parent never exceeds
            {"num_layers": Int(1, 3), "units_4": Int(1, 3, when={"num_layers": Above(3)})},
            ["units_4", "num_layers > 3", "can never hold", "int [1, 3]"],
        ),
        (  # OneOf value the parent cannot take
            {"optimizer": Choice(["adam", "sgd"]), "momentum": Float(0.0, 0.9, when={"optimizer": ["sgd", "adagrad"]})},
            ["momentum", "optimizer = 'adagrad'", "can never hold", "choice adam, sgd"],
        ),
        (  # 1 is not True: a Bool parent never equals 1
            {"flag": Bool(), "x": Int(1, 3, when={"flag": 1})},
            ["x", "flag = 1", "can never hold"],
        ),
        (  # a fixed parent
            {"optimizer": "adam", "momentum": Float(0.0, 0.9, when={"optimizer": "sgd"})},
            ["momentum", "optimizer = 'sgd'", "can never hold"],
        ),
        (  # int parent, value outside its range
            {"num_layers": Int(1, 3), "x": Int(1, 3, when={"num_layers": 4})},
            ["x", "num_layers = 4", "can never hold"],
        ),
    ],
)
def test_invalid_conditions_name_the_param_and_its_parent(params, fragments) -> None:
    with pytest.raises(SpaceError) as raised:
        Space(params)
    message = str(raised.value)
    assert message.startswith(f"{fragments[0]}: ")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_valid_conditions() -> None:
    space = Space(
        {
            "flag": Bool(),
            "x": Int(1, 3, when={"flag": True}),
            "n": Fixed(2),
            "y": Int(1, 3, when={"n": Above(1)}),
            "rate": Float(0.0, 1.0),
            "z": Int(1, 3, when={"rate": Above(0.5), "x": [2, 3]}),
        }
    )
    assert space["z"].conditions == (("rate", Above(0.5)), ("x", OneOf((2, 3))))


# --- per_layer --------------------------------------------------------------------------


def test_per_layer_adds_one_param_per_layer_with_above_conditions() -> None:
    layers = per_layer(Int(16, 64), count="num_layers", max_count=3, prefix="units")
    assert list(layers) == ["units_1", "units_2", "units_3"]
    assert [p.conditions for p in layers.values()] == [
        (("num_layers", Above(0)),),
        (("num_layers", Above(1)),),
        (("num_layers", Above(2)),),
    ]
    assert all((p.low, p.high) == (16, 64) for p in layers.values())


def test_per_layer_keeps_the_params_own_conditions() -> None:
    layers = per_layer(Int(16, 64, when={"family": "mlp"}), count="num_layers", max_count=2, prefix="units")
    assert layers["units_2"].conditions == (("family", OneOf(("mlp",))), ("num_layers", Above(1)))


@pytest.mark.parametrize("max_count", [0, -1, 2.0, None])
def test_per_layer_rejects_a_bad_max_count(max_count) -> None:
    with pytest.raises(SpaceError, match="units: max_count must be a positive integer"):
        per_layer(Int(16, 64), count="num_layers", max_count=max_count, prefix="units")


# --- sampling -----------------------------------------------------------------------------


def test_inactive_params_are_absent_from_samples() -> None:
    space = optimizer_space()
    samples = space.sample_many(300, seed=0)
    assert {sample["optimizer"] for sample in samples} == {"adam", "sgd"}
    for sample in samples:
        assert ("momentum" in sample) == (sample["optimizer"] == "sgd")
        assert None not in sample.values()


def test_per_layer_samples_have_exactly_num_layers_units() -> None:
    samples = layers_space().sample_many(300, seed=1)
    assert {sample["num_layers"] for sample in samples} == {1, 2, 3}
    for sample in samples:
        assert [key for key in sample if key.startswith("units_")] == [
            f"units_{k}" for k in range(1, sample["num_layers"] + 1)
        ]


def test_sample_many_is_reproducible() -> None:
    space = mixed_space()
    assert space.sample_many(50, seed=3) == space.sample_many(50, seed=3)
    assert space.sample_many(50, seed=3) != space.sample_many(50, seed=4)
    assert space.sample_many(0, seed=3) == []
    assert len(space.sample_many(7, seed=3)) == 7


def test_sample_uses_only_the_given_rng() -> None:
    space = mixed_space()
    random.seed(0)
    first = space.sample(random.Random(5))
    random.seed(1)
    assert space.sample(random.Random(5)) == first


# --- grid ---------------------------------------------------------------------------------


def test_grid_with_a_choice_condition() -> None:
    assert optimizer_space().grid() == [
        {"optimizer": "adam"},
        {"optimizer": "sgd", "momentum": 0.0},
        {"optimizer": "sgd", "momentum": 0.9},
    ]


def test_grid_with_per_layer_units() -> None:
    grid = layers_space().grid()
    assert len(grid) == 2 + 4 + 8
    counts = {n: sum(config["num_layers"] == n for config in grid) for n in (1, 2, 3)}
    assert counts == {1: 2, 2: 4, 3: 8}
    assert {"num_layers": 2, "units_1": 128, "units_2": 32} in grid
    assert len({tuple(sorted(config.items())) for config in grid}) == len(grid)


def test_conditional_param_never_multiplies_the_grid_where_inactive() -> None:
    space = Space(
        {
            "a": Choice(["x", "y"]),
            "b": Int(1, 3, when={"a": "y"}),
            "c": Choice(["p", "q"]),
        }
    )
    grid = space.grid()
    # a=x: 1 * 2, a=y: 3 * 2
    assert len(grid) == 8
    assert sum(config["a"] == "x" for config in grid) == 2
    assert all("b" not in config for config in grid if config["a"] == "x")


def test_grid_of_nested_conditions() -> None:
    assert nested_space().grid() == [
        {"regularize": False},
        {"regularize": True, "penalty": "l1"},
        {"regularize": True, "penalty": "l2", "strength": 1e-5},
        {"regularize": True, "penalty": "l2", "strength": 1e-3},
    ]


def test_grid_count_of_the_mixed_space() -> None:
    units = 8 + 8**2 + 8**3  # 8 values (8..64 step 8) per active layer
    # optimizer: adam -> 1; sgd -> momentum 0.0 (1) or 0.9 (nesterov 2); rmsprop -> 2
    optimizer = 1 + (1 + 2) + 2
    assert len(mixed_space().grid()) == units * 2 * optimizer * 2 * 6


def test_grid_names_a_float_without_grid_points() -> None:
    with pytest.raises(SpaceError, match="^lr: float .* grid points .* or a step"):
        Space({"optimizer": Choice(["adam"]), "lr": Float(1e-4, 1e-1, log=True)}).grid()


# --- is_active and check_config -----------------------------------------------------------


def test_is_active_follows_conditions_and_ancestors() -> None:
    space = nested_space()
    assert space.is_active("regularize", {})
    assert not space.is_active("penalty", {"regularize": False})
    assert space.is_active("penalty", {"regularize": True})
    # the grandchild is inactive whenever its parent is absent, whatever else holds
    assert not space.is_active("strength", {"regularize": False})
    assert not space.is_active("strength", {"regularize": True, "penalty": "l1"})
    assert space.is_active("strength", {"regularize": True, "penalty": "l2"})


def test_grandchild_of_an_inactive_child_is_absent_from_samples() -> None:
    for sample in nested_space().sample_many(300, seed=0):
        if not sample["regularize"]:
            assert sample == {"regularize": False}
        elif sample["penalty"] == "l1":
            assert "strength" not in sample
        else:
            assert "strength" in sample


@pytest.mark.parametrize("space_fn", [optimizer_space, layers_space, nested_space, mixed_space])
def test_check_config_accepts_every_sample_and_grid_config(space_fn) -> None:
    space = space_fn()
    for config in space.sample_many(300, seed=0):
        space.check_config(config)
    for config in space.grid()[:2000]:
        space.check_config(config)


@pytest.mark.parametrize(
    "config, fragments",
    [
        ({"optimizer": "adam", "lr": 0.1}, ["lr: not a parameter of this space", "optimizer, momentum"]),
        ({"optimizer": "sgd"}, ["momentum: missing, and it is active"]),
        ({}, ["optimizer: missing"]),
        ({"optimizer": "adam", "momentum": 0.5}, ["momentum: set, but its condition does not hold"]),
        ({"optimizer": "sgd", "momentum": 0.99}, ["momentum: 0.99 is outside float [0, 0.95]"]),
        ({"optimizer": "sgd", "momentum": "0.5"}, ["momentum: '0.5' is outside"]),
        ({"optimizer": "adagrad"}, ["optimizer: 'adagrad' is outside choice adam, sgd"]),
    ],
)
def test_check_config_rejects(config, fragments) -> None:
    with pytest.raises(SpaceError) as raised:
        optimizer_space().check_config(config)
    for fragment in fragments:
        assert fragment in str(raised.value)


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"num_layers": 2, "units_1": 32}, "units_2: missing"),
        ({"num_layers": 1, "units_1": 32, "units_2": 32}, "units_2: set, but"),
        ({"num_layers": 4, "units_1": 32, "units_2": 32, "units_3": 32}, "num_layers: 4 is outside int [1, 3]"),
        ({"num_layers": 1, "units_1": 8}, "units_1: 8 is outside int [16, 256], log"),
        ({"num_layers": 1, "units_1": 32.0}, "units_1: 32.0 is outside"),
        ({"num_layers": True, "units_1": 32}, "num_layers: True is outside"),
    ],
)
def test_check_config_rejects_per_layer_mismatches(config, fragment) -> None:
    with pytest.raises(SpaceError, match="^" + fragment.replace("[", r"\[").replace("]", r"\]")):
        layers_space().check_config(config)


def test_check_config_rejects_a_grandchild_without_its_parent() -> None:
    with pytest.raises(SpaceError, match="^strength: set, but"):
        nested_space().check_config({"regularize": False, "strength": 1e-3})


# --- encode / decode ------------------------------------------------------------------------


def _assert_same_config(actual: dict, expected: dict) -> None:
    assert list(actual) == list(expected)
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
        else:
            assert actual[key] == value and type(actual[key]) is type(value), key


@pytest.mark.parametrize("space_fn", [optimizer_space, layers_space, nested_space, mixed_space])
def test_decode_of_encode_is_the_identity_on_grid_configs(space_fn) -> None:
    space = space_fn()
    for config in space.grid()[:3000]:
        point = space.encode(config)
        assert len(point) == len(space)
        assert all(0.0 <= u <= 1.0 for u in point)
        _assert_same_config(space.decode(point), config)


@pytest.mark.parametrize("space_fn", [optimizer_space, layers_space, nested_space, mixed_space])
def test_decode_of_encode_is_the_identity_on_samples(space_fn) -> None:
    space = space_fn()
    for config in space.sample_many(300, seed=2):
        _assert_same_config(space.decode(space.encode(config)), config)


def test_inactive_params_encode_to_the_centre() -> None:
    assert optimizer_space().encode({"optimizer": "adam"}) == [0.25, 0.5]


@pytest.mark.parametrize("space_fn", [optimizer_space, layers_space, nested_space, mixed_space])
def test_decode_of_any_unit_point_passes_check_config(space_fn) -> None:
    space = space_fn()
    rng = random.Random(0)
    corners = [[0.0] * len(space), [1.0] * len(space)]
    for point in corners + [[rng.random() for _ in space] for _ in range(500)]:
        space.check_config(space.decode(point))


def test_decode_needs_one_coordinate_per_param() -> None:
    with pytest.raises(ValueError):
        optimizer_space().decode([0.5])


def test_sample_many_never_repeats_a_configuration_and_stops_when_the_space_is_used_up():
    small = Space({"optimizer": Choice(("adam", "sgd")), "layers": Int(1, 2)})  # 4 configurations
    drawn = small.sample_many(3, seed=0)
    assert len({tuple(sorted(c.items())) for c in drawn}) == 3
    everything = small.sample_many(10, seed=0)
    assert sorted(tuple(sorted(c.items())) for c in everything) == sorted(
        tuple(sorted(c.items())) for c in small.grid())  # each of the 4 once, not 10 draws
    assert small.sample_many(10, seed=0) == everything  # seeded
    assert small.all_configs(limit=3) is None and len(small.all_configs(limit=4)) == 4
    continuous = Space({"lr": Float(1e-4, 1e-1, log=True)})
    assert continuous.all_configs(limit=10**6) is None and len(continuous.sample_many(50, seed=1)) == 50


def test_a_huge_integer_range_is_sampled_without_listing_it():
    space = Space({"seed": Int(0, 2**31), "optimizer": Choice(("adam", "sgd"))})
    assert space.all_configs(limit=10_000) is None
    assert len(space.sample_many(10, seed=0)) == 10
    stepped = Space({"rate": Float(0.0, 1.0, step=1e-7)})
    assert stepped.all_configs(limit=10_000) is None
