"""Dominance, the Pareto front, constraints and the rule that names one best trial of a multi-objective run.

Pure logic: every case holds whichever way each objective goes, so a comparison written the wrong way
round fails here rather than in a front that is quietly wrong.
"""
from __future__ import annotations

import math

import pytest

from tunelab.core.objective import Objective
from tunelab.core.pareto import Constraint, best_index, dominates, feasible, pareto_front, trial_point, violations

ACCURACY, PARAMS, LOSS = Objective("val_accuracy", "max"), Objective("params", "min"), Objective("val_loss", "min")
BOTH = (ACCURACY, PARAMS)
NAN = float("nan")


def point(accuracy, params, **more):
    return {"val_accuracy": accuracy, "params": params, **more}


def test_dominates_needs_no_worse_everywhere_and_better_somewhere():
    assert dominates(point(0.9, 100), point(0.8, 200), BOTH)
    assert dominates(point(0.9, 100), point(0.9, 200), BOTH)
    assert not dominates(point(0.9, 100), point(0.9, 100), BOTH)   # equal: neither
    assert not dominates(point(0.9, 300), point(0.8, 200), BOTH)   # a trade-off: neither
    assert not dominates(point(0.8, 200), point(0.9, 300), BOTH)


def test_dominance_follows_each_objective_s_mode():
    flipped = (Objective("val_accuracy", "min"), Objective("params", "max"))
    assert dominates(point(0.8, 200), point(0.9, 100), flipped)
    assert not dominates(point(0.9, 100), point(0.8, 200), flipped)


def test_a_missing_score_loses_to_any_and_never_dominates():
    for missing in (None, NAN):
        assert dominates(point(0.5, 100), point(missing, 100), BOTH)
        assert not dominates(point(missing, 100), point(0.5, 100), BOTH)
        assert dominates(point(0.5, 100), {"val_accuracy": 0.5}, BOTH)  # params never reported


def test_front_keeps_the_trade_offs_in_order_and_leaves_out_dominated_and_unscored():
    points = [point(0.90, 5000), point(0.95, 40000), point(0.85, 9000), point(0.97, 90000),
              point(0.90, 5000), point(NAN, 10), {"val_accuracy": 0.99}]
    assert pareto_front(points, BOTH) == [0, 1, 3, 4]


def test_front_of_one_objective_is_the_best_and_its_ties():
    points = [point(0.9, 1), point(0.95, 2), point(0.95, 3)]
    assert pareto_front(points, (ACCURACY,)) == [1, 2]


def test_constraints_take_points_off_the_front_and_can_empty_it():
    points = [point(0.90, 5000), point(0.95, 40000), point(0.97, 90000)]
    assert pareto_front(points, BOTH, [Constraint("params", max=50000)]) == [0, 1]
    assert pareto_front(points, BOTH, [Constraint("params", max=1000)]) == []
    # an infeasible point no longer shields the point it dominated
    assert pareto_front([point(0.9, 10), point(0.8, 20)], BOTH, [Constraint("val_accuracy", max=0.85)]) == [1]


def test_bounds_are_inclusive_and_violations_follow_optuna_s_sign():
    limit = Constraint("params", max=50000)
    assert limit.violation(50000) == 0 and limit.violation(49000) == -1000 and limit.violation(50001) == 1
    window = Constraint("latency_ms", min=0.1, max=2.0)
    assert window.violation(0.05) == pytest.approx(0.05) and window.violation(1.0) == pytest.approx(-0.9)
    assert violations(point(0.9, 60000, latency_ms=1.0), [limit, window]) == [10000, pytest.approx(-0.9)]


def test_a_metric_the_point_lacks_breaks_its_constraint():
    limit = Constraint("latency_ms", max=5.0)
    assert limit.violation(None) == math.inf and limit.violation(NAN) == math.inf
    assert not feasible(point(0.9, 10), [limit])
    assert feasible(point(0.9, 10), []) and feasible(point(0.9, 10, latency_ms=5.0), [limit])


@pytest.mark.parametrize("bounds, message", [({}, "give max, min or both"), ({"min": 2, "max": 1}, "above max")])
def test_a_constraint_needs_a_bound_and_an_order(bounds, message):
    with pytest.raises(ValueError, match=message):
        Constraint("params", **bounds)


def test_best_is_the_first_metric_s_best_among_feasible_points():
    points = [point(0.90, 5000), point(0.97, 90000), point(0.95, 40000)]
    assert best_index(points, BOTH) == 1
    assert best_index(points, BOTH, [Constraint("params", max=50000)]) == 2
    assert best_index(points, BOTH, [Constraint("params", max=10)]) is None
    assert best_index(points, (PARAMS, ACCURACY)) == 0


def test_best_of_equal_firsts_is_the_one_on_the_front_then_the_first():
    points = [point(0.95, 40000), point(0.95, 30000), point(0.95, 30000)]
    best = best_index(points, BOTH)
    assert best == 1 and best in pareto_front(points, BOTH)


def test_best_leaves_out_unscored_points_and_matches_objective_best_with_one_metric():
    values = [0.3, NAN, 0.9, None, 0.1]
    points = [{"val_loss": v} for v in values]
    assert best_index(points, (LOSS,)) == values.index(LOSS.best(values)) == 4
    assert best_index([{"val_loss": None}], (LOSS,)) is None
    with pytest.raises(ValueError, match="at least one objective"):
        best_index(points, ())


def test_a_trial_s_point_is_its_first_epoch_best_on_the_first_metric():
    epochs = [{"epoch": 1, "val_loss": 0.5, "params": 9.0}, {"epoch": 2, "val_loss": NAN, "params": 1.0},
              {"epoch": 3, "val_loss": 0.2, "params": 7.0}, {"epoch": 4, "val_loss": 0.2, "params": 3.0}]
    assert trial_point(epochs, LOSS) == epochs[2]  # of equal scores the earlier: the best checkpoint's epoch
    assert trial_point(epochs[1:2], LOSS) is None and trial_point([], LOSS) is None
