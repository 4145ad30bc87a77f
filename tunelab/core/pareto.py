"""Several objectives at once: constraints, dominance, the Pareto front and the one rule that picks a best trial.

A run tuned on `metric: [val_accuracy, params]` has no single best trial, only trials no other beats on
every metric at once (the Pareto front). Where one trial must be named (the closing block, the test score,
`best_model()`), the rule is: among the feasible trials, the best on the first metric; of equals, the
one on the front, then the first. Constraints (`params: {max: 50000}`) make a trial infeasible: it is
never best and never on the front. Each trial is one point, the metrics of one epoch (its best on the
first metric, the epoch its best checkpoint holds). Pure Python, as `objective`: the driver, analysis and
a searcher's constraint function share it.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from tunelab.core.objective import Objective

Point = Mapping[str, Any]
"""One trial's reported metrics at one epoch: {"val_accuracy": 0.97, "params": 41210.0, ...}."""


@dataclass(frozen=True)
class Constraint:
    """A bound a metric must keep for a trial to count: `Constraint("params", max=50000)`; both bounds inclusive."""

    metric: str
    max: float | None = None
    min: float | None = None

    def __post_init__(self) -> None:
        if self.max is None and self.min is None:
            raise ValueError(f"Constraint {self.metric!r}: give max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"Constraint {self.metric!r}: min {self.min} is above max {self.max}")

    def violation(self, value: Any) -> float:
        """How far `value` lies outside the bounds: <= 0 within them (Optuna's convention), inf when missing."""
        if _missing(value):
            return math.inf
        over = value - self.max if self.max is not None else -math.inf
        under = self.min - value if self.min is not None else -math.inf
        return float(max(over, under))


def violations(point: Point, constraints: Sequence[Constraint]) -> list[float]:
    """Each constraint's violation at `point`, in order: what a sampler's constraints function returns."""
    return [constraint.violation(point.get(constraint.metric)) for constraint in constraints]


def trial_point(epochs: Iterable[Point], objective: Objective) -> Point | None:
    """A trial's one point: of its epochs' metrics, in order, the first best on `objective` (the run's first
    metric), which is the epoch its best checkpoint holds; None when no epoch scored it. The driver's closing
    block and tpe's multi-objective model both take a trial's values here, so they cannot disagree."""
    return objective.best(epochs, key=lambda point: point.get(objective.metric))


def feasible(point: Point, constraints: Sequence[Constraint]) -> bool:
    """Whether `point` keeps every constraint; a metric it lacks breaks the constraint on it."""
    return all(amount <= 0 for amount in violations(point, constraints))


def dominates(a: Point, b: Point, objectives: Sequence[Objective]) -> bool:
    """Whether `a` is at least as good as `b` on every objective and better on one; a missing score loses."""
    better_once = False
    for objective in objectives:
        x, y = a.get(objective.metric), b.get(objective.metric)
        if objective.better(y, x):
            return False
        better_once = better_once or objective.better(x, y)
    return better_once


def pareto_front(points: Sequence[Point], objectives: Sequence[Objective],
                 constraints: Sequence[Constraint] = ()) -> list[int]:
    """Indices of the feasible points no other feasible point dominates, in the order given.

    Points missing an objective's score are left out, as are infeasible ones: with no feasible point
    the front is empty. Equal points are all on it.
    """
    candidates = [i for i, point in enumerate(points) if feasible(point, constraints)
                  and not any(_missing(point.get(objective.metric)) for objective in objectives)]
    return [i for i in candidates if not any(dominates(points[j], points[i], objectives) for j in candidates)]


def best_index(points: Sequence[Point], objectives: Sequence[Objective],
               constraints: Sequence[Constraint] = ()) -> int | None:
    """The run's best point by the rule: feasible, best on the first objective, of equals the one the later
    objectives rank first (so it is on the front), then the first given; None when no feasible point scored.

    With one objective and no constraint this is `objectives[0].best` over the points."""
    if not objectives:
        raise ValueError("best_index needs at least one objective")
    candidates = [i for i, point in enumerate(points) if feasible(point, constraints)
                  and not _missing(point.get(objectives[0].metric))]
    if not candidates:
        return None
    return min(candidates, key=lambda i: tuple(o.sort_key(points[i].get(o.metric)) for o in objectives))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, numbers.Real) and math.isnan(value))
