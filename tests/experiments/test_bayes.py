"""Bayesian optimization on the unit cube: valid configs, log scales in log space, no early stop.

Most tests drive the searcher by hand (suggest, then complete with a synthetic objective), so
they need no Ray cluster; the last one runs a real experiment on digits through the runner.
"""
from __future__ import annotations

import json
import math
from collections import deque
from pathlib import Path
from typing import Callable

import pytest

from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.searchers.bayes import UnitCubeBayesSearch
from tunelab.experiments.spec import spec_from_dict
from tunelab.experiments.strategies import Budget, check_options, plan_strategy
from tunelab.searchspaces import Bool, Choice, Fixed, Float, Int, Space, SpaceError

FINISHED = "FINISHED"
SPACE = Space({
    "learning_rate": Float(1e-5, 1e-1, log=True),
    "units": Int(8, 64),
    "optimizer": Choice(["adam", "sgd"]),
    "momentum": Float(0.0, 0.9, when={"optimizer": "sgd"}),
    "epochs_seen": Fixed(3),
})
TINY = Space({"activation": Choice(["relu", "tanh", "elu"]), "layers": Int(1, 2)})  # 6 configs


def distance_to_optimum(config: dict) -> float:
    """Decades between the learning rate and 1e-3, where the synthetic objective peaks."""
    return abs(math.log10(config["learning_rate"]) + 3)


def score(config: dict) -> dict:
    return {"score": -distance_to_optimum(config) ** 2}


def drive(
    searcher, steps: int, objective: Callable[[dict], dict] = score, concurrent: int = 1, prefix: str = "t"
) -> list[dict]:
    """Suggests until `steps` configs or FINISHED, keeping `concurrent` trials live (oldest ends first)."""
    live: deque = deque()
    configs: list[dict] = []
    calls = 0
    while len(configs) < steps:
        trial_id = f"{prefix}{calls}"
        calls += 1
        config = searcher.suggest(trial_id)
        if config == FINISHED:
            break
        if config is None:
            assert live, "the searcher waits although nothing is running"
        else:
            live.append((trial_id, config))
            configs.append(config)
        if live and (config is None or len(live) >= concurrent):
            done, done_config = live.popleft()
            searcher.on_trial_complete(done, result=objective(done_config))
    while live:
        done, done_config = live.popleft()
        searcher.on_trial_complete(done, result=objective(done_config))
    return configs


def test_configs_are_valid_and_the_log_range_is_searched_in_log_space():
    configs = drive(UnitCubeBayesSearch(SPACE, "score", "max", seed=3), 20)

    assert len(configs) == 20
    for config in configs:
        SPACE.check_config(config)  # ints, choices, bounds, momentum only with sgd, Fixed present
        assert type(config["units"]) is int and type(config["learning_rate"]) is float
    decades = {math.floor(math.log10(c["learning_rate"])) for c in configs}
    assert len(decades & {-5, -4, -3, -2}) >= 3
    # A linear search of [1e-5, 1e-1] puts 90% of its samples above 1e-2.
    assert sum(c["learning_rate"] > 1e-2 for c in configs) < len(configs) / 2
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == 20


def test_the_same_seed_gives_the_same_configurations():
    def sequence(seed: int, concurrent: int) -> list[dict]:
        return drive(UnitCubeBayesSearch(SPACE, "score", "max", seed=seed, random_steps=3), 7, concurrent=concurrent)

    assert sequence(1, 1) == sequence(1, 1)
    assert sequence(1, 1) != sequence(2, 1)
    assert sequence(1, 2) == sequence(1, 2)  # same order of completions


def test_the_gaussian_process_closes_in_on_the_optimum():
    # Through the registry and Ray's ConcurrencyLimiter, minimizing, as the runner would run it.
    options = check_options("bayes", {"num_samples": 25, "seed": 0, "max_concurrent": 1})
    plan = plan_strategy(SPACE, "bayes", options, Budget("loss", "min", epochs=2))
    plan.searcher.set_search_properties("loss", "min", {})  # what Tune does; the metric was set already
    configs = drive(plan.searcher, 25, lambda c: {"loss": distance_to_optimum(c) ** 2})

    distances = [distance_to_optimum(c) for c in configs]
    assert min(distances) <= min(distances[:5])  # never worse than its random warm-up
    assert min(distances) < 0.05  # 25 random samples of 4 decades get this close about half the time
    assert sorted(distances[-10:])[5] < 0.25  # most late suggestions sit near the optimum
    assert plan.num_samples == 25 and plan.max_epochs == 50 and plan.scheduler is None


@pytest.mark.parametrize("concurrent", [1, 2])
def test_a_tiny_space_is_tried_config_by_config_then_finished(concurrent):
    searcher = UnitCubeBayesSearch(TINY, "score", "max", seed=0)
    configs = drive(searcher, 10, lambda c: {"score": len(c["activation"]) + c["layers"]}, concurrent=concurrent)

    assert sorted(json.dumps(c, sort_keys=True) for c in configs) == sorted(
        json.dumps(c, sort_keys=True) for c in TINY.grid()
    )
    assert searcher.suggest("after") == FINISHED


def test_every_config_of_a_finite_mixed_space_is_tried_exactly_once():
    space = Space({
        "optimizer": Choice(["adam", "sgd"]),
        "momentum": Float(0.0, 0.9, step=0.45, when={"optimizer": "sgd"}),
        "units": Int(8, 16, step=8, grid=[8]),  # grid limits grid search only; bayes reaches 16 too
        "width": Int(1, 3, log=True),
        "batch_norm": Bool(),
    })
    every = {json.dumps(c, sort_keys=True) for c in space.grid()} | {
        json.dumps({**c, "units": 16}, sort_keys=True) for c in space.grid()
    }
    assert len(every) == (1 + 3) * 2 * 3 * 2
    searcher = UnitCubeBayesSearch(space, "score", "max", seed=0, random_steps=1000)  # no GP: fast

    configs = drive(searcher, 100, lambda c: {"score": c["width"]})

    assert sorted(json.dumps(c, sort_keys=True) for c in configs) == sorted(every)
    assert searcher.suggest("after") == FINISHED


def test_a_gp_that_proposes_the_same_point_again_neither_crashes_nor_stops():
    # score = x peaks on the boundary, where UCB proposes exactly x = 1.0 again and again;
    # bayes_opt would raise NotUniqueError on registering that point a second time.
    searcher = UnitCubeBayesSearch(Space({"x": Float(0.0, 1.0)}), "score", "max", seed=0, random_steps=2)
    configs = drive(searcher, 10, lambda c: {"score": c["x"]})

    assert len({c["x"] for c in configs}) == 10 and max(c["x"] for c in configs) == 1.0


def test_failed_nan_and_missing_metric_trials_neither_crash_nor_stall_the_search():
    outcomes = iter([{"score": math.nan}, None, {"accuracy": 0.5}, {"score": math.inf}, {"score": "n/a"}])
    searcher = UnitCubeBayesSearch(SPACE, "score", "max", seed=0, random_steps=5)
    for step in range(5):  # the whole random warm-up ends without a usable result
        assert isinstance(searcher.suggest(f"w{step}"), dict)
        result = next(outcomes)
        searcher.on_trial_complete(f"w{step}", result=result, error=result is None)

    configs = drive(searcher, 5, prefix="gp")

    assert len(configs) == 5
    searcher.on_trial_complete("unknown-trial", result={"score": 1.0})  # ignored, like Ray's searchers


def test_save_and_restore_continue_with_the_same_suggestions(tmp_path):
    def searcher() -> UnitCubeBayesSearch:
        return UnitCubeBayesSearch(SPACE, "score", "max", seed=5, random_steps=3)

    original = searcher()
    drive(original, 5, concurrent=2)
    pending = original.suggest("live")  # saved while a trial runs: it must still complete later
    original.save(str(tmp_path / "state.pkl"))
    resumed = searcher()
    resumed.restore(str(tmp_path / "state.pkl"))

    for each in (original, resumed):
        each.on_trial_complete("live", result=score(pending))
    assert drive(resumed, 3, prefix="after") == drive(original, 3, prefix="after")


def test_metric_and_mode_can_come_from_tune():
    searcher = UnitCubeBayesSearch(TINY)
    with pytest.raises(RuntimeError, match="metric"):
        searcher.suggest("t0")
    assert searcher.set_search_properties("score", "max", {}) is True
    assert searcher.suggest("t0") in TINY.grid()
    assert searcher.set_search_properties("score", "max", {}) is False  # already set up


def test_a_space_of_fixed_values_is_refused():
    with pytest.raises(SpaceError, match="nothing to search"):
        UnitCubeBayesSearch(Space({"units": Fixed(8)}), "score", "max")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"acquisition": "eii"}, "strategy.acquisition: 'eii' is not allowed; use one of ucb, ei, poi"),
        ({"acquisition": "eii"}, "(did you mean 'ei'?)"),
        ({"acquisition": 1}, "strategy.acquisition: expected str, got 1"),
        ({"kappa": -1.0}, "strategy.kappa: must be >= 0, got -1.0"),
        ({"random_steps": 0}, "strategy.random_steps: must be >= 1, got 0"),
        ({"max_concurrent": 0}, "strategy.max_concurrent: must be >= 1, got 0"),
        ({"patience": 3}, "strategy.patience: not an option of strategy bayes"),
    ],
)
def test_bad_options_fail_with_one_line(options, message):
    raw = {"name": "t", "trainable": "mlp", "data": "digits", "space": "mlp", "strategy": {"name": "bayes", **options}}
    with pytest.raises(SpecError) as error:
        spec_from_dict(raw)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_conflicting_experiment_concurrency_limit_fails_before_ray_starts():
    budget = Budget("score", "max", epochs=1, max_concurrent_trials=4)
    with pytest.raises(SpecError, match="max_concurrent_trials: 4 differs from strategy.max_concurrent 2"):
        plan_strategy(TINY, "bayes", check_options("bayes", {}), budget)
    plan = plan_strategy(TINY, "bayes", check_options("bayes", {"max_concurrent": 4}), budget)
    assert plan.searcher.max_concurrent == 4


def test_check_options_fills_bayes_defaults():
    defaults = {
        "num_samples": 20, "seed": 0, "random_steps": 5, "acquisition": "ucb", "kappa": 2.576, "xi": 0.0,
        "max_concurrent": 2,
    }
    assert check_options("bayes", {}).items() >= defaults.items()  # options shared by all strategies come too


def test_a_real_bayes_experiment_runs_on_digits(tmp_path, ray_session):
    spec = spec_from_dict({
        "name": "bayes", "trainable": "mlp", "data": "digits",
        "space": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "units_1": {"type": "int", "low": 8, "high": 32},
            "num_layers": 1,
        },
        "strategy": {"name": "bayes", "num_samples": 4, "random_steps": 2, "seed": 0},
        "epochs": 1, "batch_size": 128, "storage": str(tmp_path),
    })
    outcome = run(prepare(spec))

    trials = sorted(Path(outcome.path).glob("trial_*/params.json"))
    assert len(trials) == 4 and outcome.errored == 0
    for params in trials:
        spec.space.check_config(json.loads(params.read_text()))
        reports = [json.loads(line) for line in (params.parent / "result.json").read_text().splitlines()]
        assert reports and all(isinstance(r["val_accuracy"], float) for r in reports)
    assert len({params.read_text() for params in trials}) == 4
