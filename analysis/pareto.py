"""A run's trials as points of its objectives: which keep the constraints and which are on the Pareto front.

Each trial is the epoch it scored best on the first objective (the epoch its best checkpoint holds, and
the one `best_model` loads), with every objective's and constrained metric's value at that epoch; the
dominance itself is core.pareto's. Also reads the objectives and constraints back from a run's record.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from tunelab.core.objective import Objective, default_mode
from tunelab.core.pareto import Constraint, feasible, pareto_front

_KEYS = ["experiment", "trial_id"]


def recorded_objectives(spec: Mapping[str, Any]) -> tuple[Objective, ...]:
    """The objectives of a run record (`metric`/`mode`: a name and a mode, or two lists); the defaults for a record
    that names none."""
    metrics, modes = spec.get("metric", "val_accuracy"), spec.get("mode", "max")
    metrics = metrics if isinstance(metrics, list) else [metrics]
    modes = modes if isinstance(modes, list) else [modes] * len(metrics)
    modes = [*modes, *[None] * (len(metrics) - len(modes))]
    return tuple(Objective(str(metric), mode if mode in ("max", "min") else default_mode(str(metric)) or "max")
                 for metric, mode in zip(metrics, modes))


def recorded_constraints(raw: Any) -> tuple[Constraint, ...]:
    """The `constraints:` of a run record; a bound that no longer reads as a number is left out."""
    if not isinstance(raw, Mapping):
        return ()
    constraints = []
    for metric, bounds in raw.items():
        if not isinstance(bounds, Mapping):
            continue
        kept = {key: float(bounds[key]) for key in ("max", "min") if isinstance(bounds.get(key), (int, float))}
        try:
            constraints.append(Constraint(str(metric), **kept))
        except ValueError:
            continue
    return tuple(constraints)


def describe_constraints(constraints: Sequence[Constraint]) -> str:
    """`params <= 50000, val_accuracy >= 0.9`: the constraints as a person reads them."""
    parts = []
    for constraint in constraints:
        if constraint.min is not None:
            parts.append(f"{constraint.metric} >= {constraint.min:g}")
        if constraint.max is not None:
            parts.append(f"{constraint.metric} <= {constraint.max:g}")
    return ", ".join(parts)


def trial_points(trials: pd.DataFrame, history: pd.DataFrame, objectives: Sequence[Objective],
                 constraints: Sequence[Constraint] = ()) -> pd.DataFrame:
    """One row per trial that scored the first objective: experiment, trial_id, best_epoch, each objective's and
    constrained metric's value at that epoch, `feasible` and `pareto` (on the front)."""
    names = list(dict.fromkeys([o.metric for o in objectives] + [c.metric for c in constraints]))
    scored = trials.loc[trials["best_epoch"].notna(), [*_KEYS, "best_epoch"]].astype({"best_epoch": "float64"})
    present = [name for name in names if name in history]
    at_epoch = (history[[*_KEYS, "epoch", *present]].astype({"epoch": "float64"})
                .drop_duplicates([*_KEYS, "epoch"], keep="last").rename(columns={"epoch": "best_epoch"}))
    frame = scored.merge(at_epoch, on=[*_KEYS, "best_epoch"], how="left").reindex(columns=[*_KEYS, "best_epoch", *names])
    records = frame.to_dict("records")
    front = set(pareto_front(records, objectives, constraints))
    frame["feasible"] = [feasible(record, constraints) for record in records]
    frame["pareto"] = [i in front for i in range(len(frame))]
    return frame.reset_index(drop=True)
