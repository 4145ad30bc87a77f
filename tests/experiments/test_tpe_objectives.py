"""tpe with several objectives and constraints: the study's directions, each trial's values at its point,
constraints set before telling, save/restore, and the refused scheduler.

Driven by hand from synthetic objectives, without Ray; tests/analysis/test_pareto_run.py runs the
shipped multi-objective experiment through tpe for real.
"""
from __future__ import annotations

import json
import math

import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState

from tests.experiments.test_bayes import SPACE, distance_to_optimum, drive
from tunelab.core.objective import Objective
from tunelab.core.pareto import Constraint
from tunelab.experiments.errors import SpecError
from tunelab.experiments.searchers.tpe import TPESearch
from tunelab.experiments.strategies import Budget, check_options, plan_strategy
from tunelab.experiments.trial_events import TrialEventLog

TWO = (Objective("acc", "max"), Objective("params", "min"))


def two_objectives(config: dict) -> dict:
    """Accuracy peaks at a learning rate of 1e-3; the model's size grows with its units."""
    return {"acc": -distance_to_optimum(config) ** 2, "params": config["units"] * 1000.0, "epoch": 3}


def searcher(constraints: tuple[Constraint, ...] = (), **options) -> TPESearch:
    return TPESearch(SPACE, "acc", "max", seed=0, random_steps=5, epochs=3, objectives=TWO,
                     constraints=constraints, **options)


def test_the_study_has_a_direction_per_objective_and_learns_each_trial_s_values_at_its_point(tmp_path):
    events = TrialEventLog()
    events.attach(str(tmp_path))
    tpe = searcher(events=events)
    assert tpe._study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    for trial_id in ("a", "b", "short"):
        tpe.suggest(trial_id)
    epochs = [{"acc": 0.8, "params": 900.0}, {"acc": 0.9, "params": 700.0}, {"acc": 0.9, "params": 500.0},
              {"acc": 0.85, "params": 100.0}]
    for epoch, metrics in enumerate(epochs, start=1):
        tpe.on_trial_result("a", {**metrics, "epoch": epoch})
    tpe.on_trial_complete("a", {**epochs[-1], "epoch": 4})
    tpe.on_trial_complete("b", {"acc": 0.7, "epoch": 3})  # never reported params: no point to tell
    tpe.on_trial_result("short", {"acc": 0.6, "params": 10.0, "epoch": 1})
    tpe.on_trial_complete("short", {"acc": 0.6, "params": 10.0, "epoch": 1})  # ended early: still its point

    told = tpe._study.trials
    # Epoch 2 is the first best on acc (epoch 3 only ties it): its params, not the last epoch's, are told.
    assert told[0].state == TrialState.COMPLETE and told[0].values == [0.9, 700.0]
    assert told[0].intermediate_values == {}  # Optuna keeps none for several objectives
    assert told[1].state == TrialState.FAIL
    assert told[2].state == TrialState.COMPLETE and told[2].values == [0.6, 10.0]
    learned = [json.loads(line) for line in (tmp_path / "tunelab_trial_events.jsonl").read_text().splitlines()]
    assert [(e["trial_id"], e["outcome"], e["epoch"], e["value"]) for e in learned] == [
        ("a", "completed", 2, [0.9, 700.0]), ("b", "failed", 3, None), ("short", "completed", 1, [0.6, 10.0])]


def test_constraints_are_set_on_each_trial_before_it_is_told_and_a_missing_metric_breaks_them(tmp_path):
    events = TrialEventLog()
    events.attach(str(tmp_path))
    tpe = searcher((Constraint("params", max=20000), Constraint("latency_ms", max=2)), events=events)
    for trial_id in ("small", "large", "unmeasured"):
        tpe.suggest(trial_id)
    tpe.on_trial_complete("small", {"acc": 0.9, "params": 15000.0, "latency_ms": 1.5, "epoch": 3})
    tpe.on_trial_complete("large", {"acc": 0.95, "params": 30000.0, "latency_ms": 1.0, "epoch": 3})
    tpe.on_trial_complete("unmeasured", {"acc": 0.97, "params": 1000.0, "epoch": 3})

    # Stored on each trial before it is told; the sampler's constraints function made them its constraints.
    assert [list(t.constraints.values()) for t in tpe._study.trials] == [
        [-5000.0, -0.5], [10000.0, -1.0], [-19000.0, math.inf]]
    learned = [json.loads(line) for line in (tmp_path / "tunelab_trial_events.jsonl").read_text().splitlines()]
    assert [e["feasible"] for e in learned] == [True, False, False]


def test_one_objective_with_a_constraint_tells_its_value_as_before_and_the_constraint_beside_it():
    tpe = TPESearch(SPACE, "acc", "max", seed=0, epochs=9, constraints=(Constraint("params", max=20000),))
    tpe.suggest("stopped")
    tpe.on_trial_result("stopped", {"acc": 0.8, "params": 30000.0, "epoch": 1})
    tpe.on_trial_complete("stopped", {"acc": 0.7, "params": 30000.0, "epoch": 3})
    [trial] = tpe._study.trials
    assert trial.state == TrialState.PRUNED and trial.intermediate_values == {1: 0.8, 3: 0.7}
    assert list(trial.constraints.values()) == [10000.0]


def test_the_constraint_steers_the_model_to_feasible_configurations():
    """Minimising params alone favours few units; `params >= 40000` (units >= 40) turns the model around."""
    at_least = (Constraint("params", min=40000),)
    free = drive(searcher(), 30, objective=two_objectives)[15:]
    bound = drive(searcher(at_least), 30, objective=two_objectives)[15:]
    feasible_free, feasible_bound = (sum(c["units"] >= 40 for c in configs) for configs in (free, bound))
    assert feasible_bound > len(bound) / 2 and feasible_bound >= 3 * feasible_free


def test_save_and_restore_keep_the_multi_objective_study_and_a_running_trial_s_point(tmp_path):
    tpe = searcher((Constraint("params", max=40000),))
    drive(tpe, 6, objective=two_objectives)
    running = tpe.suggest("running")
    tpe.on_trial_result("running", {**two_objectives(running), "epoch": 1})
    tpe.save(str(tmp_path / "state.pkl"))
    ahead = drive(tpe, 5, objective=two_objectives, prefix="a")

    restored = TPESearch(SPACE, "acc", "max", seed=99)  # the run's own class, rebuilt, then restored
    restored.restore(str(tmp_path / "state.pkl"))
    assert drive(restored, 5, objective=two_objectives, prefix="a") == ahead
    restored.on_trial_complete("running")  # stopped without a result: told its point from epoch 1
    trial = restored._study.trials[6]
    assert trial.state == TrialState.COMPLETE and trial.values == [two_objectives(running)["acc"],
                                                                    two_objectives(running)["params"]]
    assert len(restored._study.directions) == 2
    assert list(trial.constraints.values()) == [running["units"] * 1000 - 40000]


@pytest.mark.parametrize("strategy, key", [
    ({"num_samples": 4, "scheduler": "hyperband"}, "strategy.scheduler: hyperband stops trials by acc alone"),
    ({"num_samples": 4, "scheduler": {"name": "asha", "grace_period": 1}}, "strategy.scheduler: asha stops"),
])
def test_tpe_with_several_objectives_refuses_a_scheduler_naming_the_key(strategy, key):
    several = Budget("acc", "max", 3, objectives=TWO)
    with pytest.raises(SpecError, match=f"^{key}.*tpe with several objectives cannot learn from a stopped trial"):
        plan_strategy(SPACE, "tpe", check_options("tpe", strategy), several)
    assert plan_strategy(SPACE, "tpe", check_options("tpe", strategy), Budget("acc", "max", 3)).scheduler


def test_manual_then_tpe_with_several_objectives_refuses_a_scheduler_and_starts_the_model_fresh():
    several = Budget("acc", "max", 3, objectives=TWO)
    configs = [{"source": "a paper", "params": {"learning_rate": 1e-3, "units": 32, "optimizer": "adam"}}]
    then = {"name": "tpe", "num_samples": 2}
    with pytest.raises(SpecError, match="^strategy.then.scheduler: asha stops"):
        plan_strategy(SPACE, "manual", check_options("manual", {
            "configs": configs, "then": {**then, "scheduler": "asha"}}), several)
    with pytest.raises(SpecError, match="^strategy.scheduler: sha stops"):
        plan_strategy(SPACE, "manual", check_options("manual", {
            "configs": configs, "then": then, "scheduler": "sha"}), several)
    plan = plan_strategy(SPACE, "manual", check_options("manual", {"configs": configs, "then": then}), several)
    published = plan.searcher.suggest("p0")
    plan.searcher.on_trial_complete("p0", {**two_objectives(published), "epoch": 3})
    assert plan.searcher._then._study.trials == []  # one published value is not a point on two objectives
    assert plan.searcher.suggest("s0") is not None
