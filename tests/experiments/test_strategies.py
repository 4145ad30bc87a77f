"""Strategy registry: each plan hands Ray exactly the configurations the space defines."""
from __future__ import annotations

import json

import pytest

from tunelab.experiments.errors import SpecError
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.strategies import STRATEGIES, Budget, check_options, plan_strategy
from tunelab.searchspaces import Choice, Float, Int, Space, SpaceError
from tunelab.searchspaces.inline import space_from_dict

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
    assert check_options("random", {}) == {"num_samples": 10, "seed": 0, "scheduler": None}
    with pytest.raises(SpecError, match="did you mean 'seed'"):
        check_options("random", {"sed": 1})


def test_search_strategies_combine_with_schedulers():
    options = check_options("grid", {"scheduler": {"name": "asha", "grace_period": 2}})
    assert options["scheduler"] == ("asha", {"grace_period": 2, "reduction_factor": 3, "brackets": 1})
    plan = plan_strategy(SPACE, "grid", options, Budget("val_accuracy", "max", epochs=9))
    assert type(plan.scheduler).__name__ == "RecordingASHAScheduler" and plan.num_samples == 12
    bayes = check_options("bayes", {"num_samples": 4, "max_concurrent": 4, "scheduler": "hyperband"})
    plan = plan_strategy(SPACE, "bayes", bayes, Budget("val_accuracy", "max", epochs=9))
    assert type(plan.scheduler).__name__ == "HyperbandScheduler"
    assert plan.notes[0].startswith("hyperband: 4 trials in 1 of its 3 brackets of 9 + 5 + 3")
    assert plan.notes[1:] == ("  bracket 1, from epoch 1 (4 of its 9): epoch 1: 4, epoch 3: 2, epoch 9: 1",)


def test_named_scheduler_strategies_are_random_search_under_a_scheduler():
    plan = plan_strategy(SPACE, "sha", check_options("sha", {"num_samples": 9}), Budget("acc", "max", epochs=9))
    assert plan.num_samples == 9 and len(drain(plan.searcher)) == 9
    assert plan.max_epochs == 9 * 1 + 3 * 2 + 1 * 6  # rungs 1, 3, 9: exactly what the halving trains
    assert plan.notes == ("sha: 9 configurations, 2 halvings by factor 3; trials at each rung: "
                          "epoch 1: 9, epoch 3: 3, epoch 9: 1",)
    assert plan_strategy(SPACE, "hyperband", check_options("hyperband", {"num_samples": 17}),
                         Budget("acc", "max", epochs=9)).max_epochs == 21 + 27 + 27  # exact: brackets of 9, 5, 3
    asha = plan_strategy(SPACE, "asha", check_options("asha", {"grace_period": 2}), Budget("acc", "max", epochs=9))
    assert type(asha.scheduler).__name__ == "RecordingASHAScheduler"
    assert asha.notes[0].startswith("asha: 10 trials, rungs at epochs 2, 6; ")  # Ray's own, read from it
    assert asha.notes[0].endswith("each trial trains 2 to 9 epochs")


def test_a_manual_start_and_the_search_after_it_are_halved_together():
    """The scheduler of `then:` takes the published configurations too: built for the search's 9 alone,
    its cohort would close before the 11th trial and the plan's totals would count trials it has not."""
    published = [{"source": f"paper {k}", "params": {"optimizer": "adam", "units": 8 * k}} for k in (1, 2)]
    for then in ({"name": "sha", "num_samples": 9}, {"name": "random", "num_samples": 9, "scheduler": "sha"}):
        options = check_options("manual", {"configs": published, "then": then})
        plan = plan_strategy(SPACE, "manual", options, Budget("acc", "max", epochs=27))
        assert plan.num_samples == 11 and plan.scheduler._num_trials == 11
        assert plan.notes[-1].startswith("sha: 11 configurations, 3 halvings")
    with pytest.raises(SpecError, match="^strategy.scheduler: strategy.then.scheduler names a scheduler too"):
        plan_strategy(SPACE, "manual", check_options("manual", {
            "configs": published, "then": {"name": "random", "scheduler": "asha"}, "scheduler": "asha"}),
            Budget("acc", "max", epochs=9))


@pytest.mark.parametrize(
    "name, options, budget, message",
    [
        ("sha", {"num_samples": 9}, Budget("acc", "max", 9, checkpoint_every=2),
         "checkpoint_every: 2 leaves no checkpoint at epoch 1, 3"),
        ("hyperband", {}, Budget("acc", "max", 9, checkpoint_every=2), "checkpoint_every: 2"),
        ("sha", {"num_samples": 9}, Budget("acc", "max", 9, max_concurrent_trials=2),
         "max_concurrent_trials: 2 would leave successive halving waiting forever"),
        ("hyperband", {"num_samples": 17}, Budget("acc", "max", 9, max_concurrent_trials=2),
         "max_concurrent_trials: 2 would leave a Hyperband bracket waiting forever for the rest of its 9 trials"),
        ("bayes", {"num_samples": 17, "scheduler": "hyperband"}, Budget("acc", "max", 9),
         "strategy.max_concurrent: 2 would leave a Hyperband bracket waiting forever for the rest of its 9 trials"),
        ("sha", {"num_samples": 27}, Budget("acc", "max", 9),
         "epochs: 9 cannot hold the 3 halvings that take 27 configurations to one"),
    ],
)
def test_pausing_schedulers_refuse_what_cannot_work(name, options, budget, message):
    with pytest.raises(SpecError) as caught:
        plan_strategy(SPACE, name, check_options(name, options), budget)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("grid", {"scheduler": "ashaa"}, "strategy.scheduler.name: 'ashaa' is not a scheduler; allowed: asha, hyperband, sha"),
        ("grid", {"scheduler": {"name": "asha", "grace": 1}}, "strategy.scheduler.grace: not an option of scheduler asha"),
        ("bayes", {"acquisition": "eii"}, "strategy.acquisition: 'eii' is not allowed; use one of"),
        ("manual", {}, "strategy.configs: the manual strategy needs a list"),
        ("manual", {"configs": [], "then": "manual"}, "strategy.then.name: 'manual' is not a strategy to follow"),
        ("manual", {"configs": [], "then": {"name": "random", "num_sample": 2}}, "strategy.then.num_sample"),
        ("ofat", {}, "strategy.baseline: the ofat strategy needs a baseline"),
        ("sha", {"scheduler": "asha"}, "strategy.scheduler: not an option of strategy sha"),
    ],
)
def test_bad_strategy_options(name, options, message):
    with pytest.raises(SpecError) as caught:
        check_options(name, options)
    assert message in str(caught.value)


def test_manual_runs_published_configs_then_the_follow_up_search():
    options = check_options("manual", {
        "configs": [{"source": "paper", "params": {"optimizer": "sgd", "momentum": 0.9, "units": 16}}],
        "then": {"name": "random", "num_samples": 2, "seed": 0},
    })
    plan = plan_strategy(SPACE, "manual", options, BUDGET)
    configs = drain(plan.searcher)
    assert plan.num_samples == 3 and configs[0] == {"optimizer": "sgd", "momentum": 0.9, "units": 16}
    assert configs[1:] == SPACE.sample_many(2, seed=0)


def test_ofat_plan_counts():
    options = check_options("ofat", {"baseline": {"optimizer": "adam", "momentum": 0.0, "units": 8}})
    plan = plan_strategy(SPACE, "ofat", options, BUDGET)
    configs = drain(plan.searcher)
    assert configs[0] == {"optimizer": "adam", "units": 8}
    assert plan.num_samples == len(configs) == 1 + 1 + 3  # baseline, sgd, three other unit counts


def test_random_search_on_a_small_space_runs_each_configuration_once_and_says_so():
    small = space_from_dict({"optimizer": {"type": "choice", "values": ["adam", "sgd"]}, "units_1": 16,
                             "num_layers": {"type": "int", "low": 1, "high": 3}})  # 6 configurations
    plan = plan_strategy(small, "random", check_options("random", {"num_samples": 20}), Budget("acc", "max", 2))
    assert plan.num_samples == 6 and len({json.dumps(c, sort_keys=True) for c in drain(plan.searcher)}) == 6
    assert plan.notes == ("random: the space holds only 6 configurations; each runs once, 6 trials instead of "
                          "num_samples 20",)
    sha = plan_strategy(small, "sha", check_options("sha", {"num_samples": 9}), Budget("acc", "max", 9))
    assert sha.num_samples == 6 and sha.notes[0].startswith("random: the space holds only 6")


def test_hyperband_checks_the_limit_against_the_trials_its_first_bracket_gets():
    plan = plan_strategy(SPACE, "hyperband", check_options("hyperband", {"num_samples": 10}),
                         Budget("acc", "max", 27, max_concurrent_trials=10))  # a bracket of 27 gets only 10
    assert plan.num_samples == 10
