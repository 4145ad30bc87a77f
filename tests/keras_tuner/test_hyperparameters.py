"""KerasTuner's `hp` without Keras: values and scopes as KerasTuner answers them, and discovery of a Space."""
from __future__ import annotations

import math

import pytest

from tunelab.keras_tuner.discovery import discover, space_as_dict
from tunelab.keras_tuner.hyperparameters import HyperParameters
from tunelab.searchspaces import Above, Bool, Choice, Fixed, Float, Int, OneOf, SpaceError
from tunelab.searchspaces.inline import space_from_dict


def conditions(space, name):
    return dict(space[name].conditions)


# --- the hp object, as KerasTuner answers ---------------------------------------------------


def test_declarations_return_defaults_and_fill_values():
    hp = HyperParameters()
    assert hp.Int("units", 32, 256, step=32) == 32
    assert hp.Int("layers", 1, 4, default=2) == 2
    assert hp.Float("lr", 1e-4, 1e-2, sampling="log") == 1e-4
    assert hp.Choice("act", ["relu", "tanh"]) == "relu"
    assert hp.Choice("act2", ["relu", "tanh"], default="tanh") == "tanh"
    assert hp.Boolean("bn") is False
    assert hp.Fixed("seed", 7) == 7
    assert hp.values == {"units": 32, "layers": 2, "lr": 1e-4, "act": "relu", "act2": "tanh", "bn": False, "seed": 7}
    assert hp.get("units") == hp["units"] == 32 and "units" in hp
    with pytest.raises(KeyError):
        hp.get("missing")


def test_values_already_set_win_over_defaults():
    hp = HyperParameters()
    hp.values = {"units": 96, "layers": 3.0}
    assert hp.Int("units", 32, 256, step=32) == 96
    assert hp.Int("layers", 1, 4) == 3 and isinstance(hp["layers"], int)  # BayesOpt's 3.0 is an int again


def test_conditional_scope_returns_none_while_inactive():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["cnn"]):
        assert hp.Int("filters", 8, 64) is None
    with hp.conditional_scope("model", "mlp"):
        assert hp.Int("units", 8, 64) == 8
    assert hp.Int("kernel", 3, 5, parent_name="model", parent_values=["cnn"]) is None
    assert "filters" not in hp.values and "units" in hp.values
    with pytest.raises(ValueError, match="inactive"):
        hp.get("filters")
    with pytest.raises(ValueError, match="not defined"):
        with hp.conditional_scope("nope", [1]):
            pass


def test_name_scope_prefixes_names():
    hp = HyperParameters()
    with hp.name_scope("block1"):
        hp.Int("units", 1, 3)
        assert hp.get("units") == 1
    assert hp.values == {"block1/units": 1}


def test_keras_tuner_argument_errors():
    hp = HyperParameters()
    with pytest.raises(ValueError, match="greater than"):
        hp.Int("a", 5, 1)
    with pytest.raises(ValueError, match="min_value > 0"):
        hp.Float("b", 0.0, 1.0, sampling="log")
    with pytest.raises(TypeError, match="one type"):
        hp.Choice("c", [1, "a"])
    with pytest.raises(ValueError, match="default"):
        hp.Choice("d", ["x", "y"], default="z")
    with pytest.raises(ValueError, match="must be an int"):
        hp.Int("e", 1.5, 3)


# --- declarations -> tunelab parameters ------------------------------------------------------------


def declaration(call):
    hp = HyperParameters()
    call(hp)
    return hp.space[0]


@pytest.mark.parametrize(("call", "expected"), [
    (lambda hp: hp.Int("x", 1, 3), Int(1, 3)),
    (lambda hp: hp.Int("x", 6, 13, step=3), Int(6, 12, step=3)),           # KerasTuner: 6, 9, 12
    (lambda hp: hp.Int("x", 8, 256, sampling="log"), Int(8, 256, log=True)),
    (lambda hp: hp.Int("x", 2, 32, step=2, sampling="log"), Choice((2, 4, 8, 16, 32))),
    (lambda hp: hp.Float("x", 0.0, 1.0), Float(0.0, 1.0)),
    (lambda hp: hp.Float("x", 0.0, 1.0, step=0.25), Float(0.0, 1.0, step=0.25)),
    (lambda hp: hp.Float("x", 1e-4, 1e-1, sampling="log"), Float(1e-4, 1e-1, log=True)),
    (lambda hp: hp.Float("x", 0.001, 10, step=10, sampling="log"), Choice((0.001, 0.01, 0.1, 1.0, 10.0))),
    (lambda hp: hp.Choice("x", [3, 5, 7]), Choice((3, 5, 7))),
    (lambda hp: hp.Boolean("x"), Bool()),
    (lambda hp: hp.Fixed("x", "adam"), Fixed("adam")),
    (lambda hp: hp.Int("x", 4, 4), Fixed(4)),
])
def test_each_declaration_becomes_the_matching_param(call, expected):
    param = declaration(call).param()
    if isinstance(expected, Choice) and isinstance(expected.values[0], float):
        assert type(param) is Choice and all(math.isclose(a, b) for a, b in zip(param.values, expected.values))
    else:
        assert param == expected


def test_reverse_log_is_refused_by_name():
    with pytest.raises(SpaceError, match="x: sampling='reverse_log'"):
        declaration(lambda hp: hp.Float("x", 1.0, 10.0, sampling="reverse_log")).param()


def test_grid_points_are_keras_tuners_ten_samples_plus_the_default():
    param = declaration(lambda hp: hp.Float("x", 0.0, 1.0)).param(grid_points=True)
    assert param.grid_values() == pytest.approx((0.0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95))
    with pytest.raises(SpaceError, match="grid"):
        declaration(lambda hp: hp.Float("x", 0.0, 1.0)).param().grid_values()


# --- discovery --------------------------------------------------------------------------------


def layered(hp):
    """A build_model without Keras: a branch chosen by a scope, a loop, a Boolean branch."""
    hp.Int("filters", 8, 32, step=8)
    kind = hp.Choice("head", ["dense", "linear"])
    with hp.conditional_scope("head", ["dense"]):
        if kind == "dense":
            for i in range(hp.Int("num_layers", 1, 3)):
                hp.Int(f"units_{i}", 16, 64, step=16)
    if hp.Boolean("dropout"):
        hp.Float("rate", 0.1, 0.5)
    hp.Float("lr", 1e-3, 1e-2, sampling="log")


def test_discovery_finds_every_branch_and_loop_count():
    found = discover(layered)
    space = found.space
    assert list(space) == ["filters", "head", "num_layers", "units_0", "units_1", "units_2", "dropout", "rate", "lr"]
    assert conditions(space, "num_layers") == {"head": OneOf(("dense",))}
    assert conditions(space, "units_0") == {"head": OneOf(("dense",))}
    assert conditions(space, "units_1") == {"head": OneOf(("dense",)), "num_layers": Above(1)}
    assert conditions(space, "units_2") == {"head": OneOf(("dense",)), "num_layers": Above(2)}
    assert conditions(space, "rate") == {"dropout": OneOf((True,))}
    assert found.inferred == {"units_1": "num_layers > 1", "units_2": "num_layers > 2", "rate": "dropout in True"}
    assert found.notes == ()


def test_every_sampled_config_is_exactly_what_build_model_uses():
    found = discover(layered)
    for config in found.space.sample_many(50, seed=3):
        hp = found.hyperparameters(config)
        layered(hp)
        assert hp.values == config


def test_nested_loops_get_the_parent_they_depend_on():
    def blocks(hp):
        for i in range(hp.Int("blocks", 1, 2)):
            for j in range(hp.Int(f"convs_{i}", 1, 2)):
                hp.Choice(f"filters_{i}_{j}", [8, 16])

    found = discover(blocks)
    space = found.space
    assert conditions(space, "convs_1") == {"blocks": Above(1)}
    assert conditions(space, "filters_1_1") == {"convs_1": Above(1)}  # convs_1 itself needs blocks > 1
    assert conditions(space, "filters_0_1") == {"convs_0": Above(1)}
    for config in space.sample_many(30, seed=0):
        hp = found.hyperparameters(config)
        blocks(hp)
        assert hp.values == config


def test_a_branch_on_a_choice_without_a_scope_is_inferred():
    def branches(hp):
        if hp.Choice("optimizer", ["adam", "sgd", "rmsprop"]) != "adam":
            hp.Float("momentum", 0.0, 0.9)

    space = discover(branches).space
    assert conditions(space, "momentum") == {"optimizer": OneOf(("sgd", "rmsprop"))}


def test_a_threshold_on_a_long_range_is_flagged_as_rough():
    def deep(hp):
        for i in range(hp.Int("layers", 1, 100)):
            if i == 50:
                hp.Int("late", 1, 2)

    found = discover(deep)
    threshold = conditions(found.space, "late")["layers"].threshold
    assert 50 <= threshold <= 53  # 32 of the 100 counts were tried
    assert found.notes == (f"late: layers > {threshold} comes from the few values of layers tried; "
                           "the true threshold may be lower",)


def test_build_model_failing_with_defaults_is_reported():
    def broken(hp):
        hp.Int("units", 1, 3)
        raise RuntimeError("no GPU here")

    with pytest.raises(SpaceError, match="default hyperparameter values: RuntimeError: no GPU here"):
        discover(broken)


def test_a_failing_branch_is_noted_and_the_rest_discovered():
    def fragile(hp):
        if hp.Choice("kind", ["a", "b"]) == "b":
            raise ValueError("b is broken")
        hp.Int("units", 1, 3)

    found = discover(fragile)
    assert list(found.space) == ["kind", "units"]
    assert any("b is broken" in note and "kind='b'" in note for note in found.notes)


def test_names_that_are_not_identifiers_get_keys_and_replay_by_name():
    def scoped(hp):
        with hp.name_scope("dense"):
            hp.Int("units", 1, 3)
        hp.Float("learning-rate", 0.1, 0.2)

    found = discover(scoped)
    assert list(found.space) == ["dense_units", "learning_rate"]
    hp = found.hyperparameters({"dense_units": 2, "learning_rate": 0.15})
    scoped(hp)
    assert hp.values == {"dense/units": 2, "learning-rate": 0.15}


def test_predeclared_hyperparameters_win_and_new_entries_can_be_pinned():
    declared = HyperParameters()
    declared.Choice("units", [4, 8])

    def model(hp):
        hp.Int("units", 1, 100)
        hp.Float("lr", 0.1, 0.2)

    space = discover(model, declared=declared).space
    assert space["units"] == Choice((4, 8)) and space["lr"] == Float(0.1, 0.2)
    pinned = discover(model, declared=declared, tune_new_entries=False).space
    assert pinned["lr"] == Fixed(0.1)
    with pytest.raises(SpaceError, match="lr, not in `hyperparameters`"):
        discover(model, declared=declared, allow_new_entries=False)


def test_discovery_stops_at_its_build_budget_and_says_so():
    def wide(hp):
        for i in range(20):
            hp.Choice(f"c{i}", ["a", "b", "c"])

    found = discover(wide, max_builds=5)
    assert found.builds == 5 and "discovery stopped after 5 builds" in found.notes[-1]


def test_names_never_seen_by_discovery_run_at_their_defaults():
    found = discover(lambda hp: hp.Int("units", 1, 3))
    hp = found.hyperparameters({"units": 2})
    hp.Int("units", 1, 3)
    assert hp.Float("late", 0.5, 1.0) == 0.5 and found.unknown(hp) == ["late"]


def test_the_record_form_reads_back_as_the_same_space():
    found = discover(layered)
    for space in (found.space, found.to_space(grid_points=True)):
        assert dict(space_from_dict(space_as_dict(space))) == dict(space)


def test_kerastuners_distribution_strategy_asks_for_its_replicas_as_gpus_per_trial():
    from types import SimpleNamespace

    from tunelab.keras_tuner.options import tuner_options

    two = SimpleNamespace(num_replicas_in_sync=2)  # what the option reads of a tf.distribute strategy
    assert tuner_options({"distribution_strategy": two}).resources_per_trial == {"cpu": 1, "gpu": 2}
    assert tuner_options({"distribution_strategy": SimpleNamespace(num_replicas_in_sync=1)}).gpus == 0
    with pytest.raises(ValueError, match="distribution_strategy has 2 replicas but resources_per_trial asks for 1"):
        tuner_options({"distribution_strategy": two, "resources_per_trial": {"gpu": 1}})
