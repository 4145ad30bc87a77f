"""Reading a run record's objectives and constraints back, and each trial's point at its best epoch (pure pandas)."""
from __future__ import annotations

import pandas as pd

from tunelab.analysis.pareto import describe_constraints, recorded_constraints, recorded_objectives, trial_points
from tunelab.core.objective import Objective
from tunelab.core.pareto import Constraint
from tunelab.trainables.model_cost import asked_measures


def test_a_record_names_one_objective_or_a_list():
    assert recorded_objectives({"metric": "val_loss", "mode": "min"}) == (Objective("val_loss", "min"),)
    assert recorded_objectives({}) == (Objective("val_accuracy", "max"),)
    assert recorded_objectives({"metric": ["val_accuracy", "params"], "mode": ["max", "min"]}) == (
        Objective("val_accuracy", "max"), Objective("params", "min"))
    assert recorded_objectives({"metric": ["val_accuracy", "latency_ms"], "mode": ["max"]})[1].mode == "min"


def test_constraints_read_back_leave_out_what_no_longer_reads():
    raw = {"params": {"max": 50000}, "latency_ms": {"min": 0.1, "max": 2}, "bad": {"max": "x"}, "worse": 3}
    assert recorded_constraints(raw) == (Constraint("params", max=50000.0), Constraint("latency_ms", max=2.0, min=0.1))
    assert recorded_constraints(None) == () and recorded_constraints([1]) == ()
    assert describe_constraints(recorded_constraints(raw)) == "params <= 50000, latency_ms >= 0.1, latency_ms <= 2"


def test_each_trial_is_its_best_epoch_and_the_front_keeps_the_constraint():
    trials = pd.DataFrame({"experiment": "e", "trial_id": ["a", "b", "c", "d"], "best_epoch": [2, 1, 2, None]})
    history = pd.DataFrame({
        "experiment": "e", "trial_id": ["a", "a", "b", "b", "c", "c", "d"], "epoch": [1, 2, 1, 2, 1, 2, 1],
        "val_accuracy": [0.5, 0.9, 0.8, 0.7, 0.6, 0.95, None], "params": [100, 100, 50, 50, 900, 900, 10]})
    objectives = (Objective("val_accuracy", "max"), Objective("params", "min"))
    points = trial_points(trials, history, objectives, [Constraint("params", max=500)])
    assert points["trial_id"].tolist() == ["a", "b", "c"]  # d never scored
    assert points["val_accuracy"].tolist() == [0.9, 0.8, 0.95]  # at the best epoch, not the last
    assert points["feasible"].tolist() == [True, True, False]
    assert points["pareto"].tolist() == [True, True, False]


def test_only_named_costs_are_measured():
    assert asked_measures(["val_accuracy", "latency_ms", "params"]) == ("params", "latency_ms")
    assert asked_measures(["val_accuracy", "val_loss"]) == ()
