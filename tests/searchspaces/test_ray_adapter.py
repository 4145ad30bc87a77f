"""Space -> Ray: the config-sequence searcher, and native domains resolved by Ray's own sampler.

No Ray cluster: `generate_variants` is the resolution BasicVariantGenerator runs for each trial.
"""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from ray.tune.search import Searcher
from ray.tune.search.variant_generator import generate_variants

from tunelab.searchspaces.catalog import cnn, mlp
from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int
from tunelab.searchspaces.ray_adapter import ConfigSequenceSearcher, to_param_space
from tunelab.searchspaces.space import Space, per_layer

CONFIGS = [{"optimizer": "adam"}, {"optimizer": "sgd", "momentum": 0.0}, {"optimizer": "sgd", "momentum": 0.9}]


# --- ConfigSequenceSearcher -----------------------------------------------------------------


def test_searcher_suggests_configs_in_order_then_finishes() -> None:
    searcher = ConfigSequenceSearcher(CONFIGS, metric="val_accuracy", mode="max")
    assert searcher.total == 3
    assert [searcher.suggest(f"trial_{i}") for i in range(3)] == CONFIGS
    assert searcher.suggest("trial_3") == Searcher.FINISHED
    assert searcher.suggest("trial_4") == Searcher.FINISHED


def test_searcher_of_nothing_finishes_at_once() -> None:
    assert ConfigSequenceSearcher([]).suggest("trial_0") == Searcher.FINISHED


def test_searcher_hands_out_copies() -> None:
    configs = [dict(config) for config in CONFIGS]
    searcher = ConfigSequenceSearcher(iter(configs))
    configs[0]["optimizer"] = "changed after construction"
    first = searcher.suggest("trial_0")
    first["optimizer"] = "changed by a trial"
    assert searcher.get_state()["configs"][0] == {"optimizer": "adam"}


def test_searcher_learns_nothing_from_results() -> None:
    searcher = ConfigSequenceSearcher(CONFIGS)
    searcher.suggest("trial_0")
    searcher.on_trial_complete("trial_0", {"val_accuracy": 0.9})
    searcher.on_trial_complete("trial_1", None, error=True)
    assert searcher.suggest("trial_1") == CONFIGS[1]


@pytest.mark.parametrize("roundtrip", [lambda state: state, copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))])
def test_searcher_resumes_at_the_cursor(roundtrip) -> None:
    searcher = ConfigSequenceSearcher(CONFIGS)
    searcher.suggest("trial_0")
    searcher.suggest("trial_1")
    state = roundtrip(searcher.get_state())
    resumed = ConfigSequenceSearcher([])
    resumed.set_state(state)
    assert resumed.total == 3
    assert resumed.suggest("trial_2") == CONFIGS[2]
    assert resumed.suggest("trial_3") == Searcher.FINISHED


# --- to_param_space, resolved by Ray --------------------------------------------------------


def _ray_samples(space: Space, count: int, seed: int = 0) -> list[dict]:
    param_space = to_param_space(space)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        for _, spec in generate_variants({"config": param_space}, random_state=rng):
            samples.append(spec["config"])
    return samples


@pytest.mark.parametrize(
    "param, expected",
    [
        (Int(1, 3), {1, 2, 3}),
        (Int(1, 4, log=True), {1, 2, 3, 4}),
        (Int(0, 10, step=5), {0, 5, 10}),
        (Int(1, 7, step=3), {1, 4, 7}),
        (Float(0.0, 0.5, step=0.1), {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}),
        (Float(0.05, 0.25, step=0.1), {0.05, 0.15, 0.25}),
        (Choice(["adam", "sgd", None]), {"adam", "sgd", None}),
        (Bool(), {False, True}),
        (Fixed("adam"), {"adam"}),
    ],
)
def test_ray_domains_reach_every_value_including_the_upper_bound(param, expected) -> None:
    values = [sample["x"] for sample in _ray_samples(Space({"x": param}), count=300)]
    assert set(values) == expected
    assert all(param.contains(value) for value in values)


def test_int_values_are_ints() -> None:
    values = [sample["x"] for sample in _ray_samples(Space({"x": Int(1, 3)}), count=50)]
    assert all(type(value) is int for value in values)


def test_ray_int_log_domain_is_inclusive_and_log_shaped() -> None:
    param = Int(1, 1000, log=True)
    values = [sample["x"] for sample in _ray_samples(Space({"x": param}), count=2000)]
    assert min(values) == 1 and max(values) >= 900
    assert all(param.contains(value) for value in values)
    assert 0.44 < sum(value < 32 for value in values) / len(values) < 0.57


@pytest.mark.parametrize("param", [Float(1e-4, 1e-1, log=True), Float(-1.0, 1.0)])
def test_ray_float_domains_stay_in_bounds(param) -> None:
    values = [sample["x"] for sample in _ray_samples(Space({"x": param}), count=500)]
    assert all(param.contains(value) for value in values)
    if param.log:
        assert min(values) < 1e-3 and max(values) > 1e-2


def test_ray_sampling_is_reproducible_with_a_seeded_random_state() -> None:
    space = Space({"a": Int(1, 100), "b": Float(1e-4, 1e-1, log=True), "c": Choice(["x", "y", "z"])})
    assert _ray_samples(space, 20, seed=1) == _ray_samples(space, 20, seed=1)
    assert _ray_samples(space, 20, seed=1) != _ray_samples(space, 20, seed=2)


def conditional_space() -> Space:
    return Space(
        {
            "epochs": 3,
            "num_layers": Int(1, 3),
            **per_layer(Int(16, 64), count="num_layers", max_count=3, prefix="units"),
            "optimizer": Choice(["adam", "sgd", "rmsprop"]),
            "momentum": Float(0.0, 0.9, when={"optimizer": ["sgd", "rmsprop"]}),
            "nesterov": Bool(when={"momentum": Above(0.45)}),  # a grandchild of optimizer
            "schedule": Fixed("cosine", when={"optimizer": "sgd"}),
        }
    )


@pytest.mark.parametrize("space", [conditional_space(), mlp.SPACE, cnn.SPACE], ids=["conditional", "mlp", "cnn"])
def test_conditional_params_are_none_exactly_when_inactive(space) -> None:
    samples = _ray_samples(space, count=400)
    for sample in samples:
        assert list(sample) == list(space)
        present = {name: value for name, value in sample.items() if value is not None}
        for name in space:
            assert (sample[name] is None) == (not space.is_active(name, present)), (name, sample)
        space.check_config(present)
    # every param tunelab's own sampler sometimes leaves out is None in some of Ray's samples too
    optional = {name for config in space.sample_many(400, seed=0) for name in space if name not in config}
    assert optional
    for name in space:
        values = [sample[name] for sample in samples]
        assert (None in values) == (name in optional), name
        assert any(value is not None for value in values), name


def test_per_layer_units_follow_num_layers() -> None:
    for sample in _ray_samples(conditional_space(), count=300):
        units = [sample[f"units_{k}"] for k in (1, 2, 3)]
        assert [value is not None for value in units] == [k <= sample["num_layers"] for k in (1, 2, 3)]
        assert sample["epochs"] == 3


@pytest.mark.xfail(
    strict=True,
    reason="design gap: Ray calls sample_from functions without its random_state, so a conditional "
    "param's value comes from numpy's global RNG and a seeded run does not reproduce it",
)
def test_conditional_values_are_reproducible_with_a_seeded_random_state() -> None:
    assert _ray_samples(conditional_space(), 20, seed=1) == _ray_samples(conditional_space(), 20, seed=1)
