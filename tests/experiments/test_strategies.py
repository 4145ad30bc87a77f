"""Strategy registry: each plan hands Ray exactly the configurations the space defines."""
from __future__ import annotations

import pytest

from experiments.errors import SpecError
from experiments.strategies import STRATEGIES, Budget, check_options, plan_strategy
from searchspaces import Choice, Float, Int, Space, SpaceError
from searchspaces.ray_adapter import ConfigSequenceSearcher

SPACE = Space({
    "optimizer": Choice(["adam", "sgd"]),
    "momentum": Float(0.0, 0.9, grid=[0.0, 0.9], when={"optimizer": "sgd"}),
    "units": Int(8, 32, step=8),
})
BUDGET = Budget("val_accuracy", "max", epochs=3)


def drain(searcher: ConfigSequenceSearcher) -> list[dict]:
    configs = []
    while (config := searcher.suggest(f"t{len(configs)}")) != "FINISHED":
        configs.append(config)
    return configs


def test_every_strategy_documents_when_to_use_it():
    for strategy in STRATEGIES.values():
        assert strategy.when and strategy.name


def test_grid_plan_counts_trials_and_epochs():
    plan = plan_strategy(SPACE, "grid", check_options("grid", {}), BUDGET)
    configs = drain(plan.searcher)
    assert plan.num_samples == len(configs) == 3 * 4  # (adam + 2 sgd momenta) x 4 unit values
    assert plan.max_epochs == 12 * 3
    assert all("momentum" not in c for c in configs if c["optimizer"] == "adam")
    assert plan.scheduler is None


def test_grid_refuses_more_than_max_trials():
    with pytest.raises(SpaceError, match="more than 5"):
        plan_strategy(SPACE, "grid", check_options("grid", {"max_trials": 5}), BUDGET)


def test_grid_over_a_float_without_points_is_refused():
    space = Space({"lr": Float(0.001, 0.1, log=True)})
    with pytest.raises(SpaceError, match="lr: .*grid points"):
        plan_strategy(space, "grid", check_options("grid", {}), BUDGET)


def test_random_plan_is_seeded():
    options = check_options("random", {"num_samples": 6, "seed": 4})
    first = drain(plan_strategy(SPACE, "random", options, BUDGET).searcher)
    second = drain(plan_strategy(SPACE, "random", options, BUDGET).searcher)
    other = drain(plan_strategy(SPACE, "random", {**options, "seed": 5}, BUDGET).searcher)
    assert first == second and first != other and len(first) == 6


def test_check_options_fills_defaults_and_rejects_unknown():
    assert check_options("random", {}) == {"num_samples": 10, "seed": 0}
    with pytest.raises(SpecError, match="did you mean 'seed'"):
        check_options("random", {"sed": 1})
