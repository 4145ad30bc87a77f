"""The `metric:`, `mode:` and `constraints:` keys of an experiment with several objectives, checked.

`metric: [val_accuracy, params]` with `mode: [max, min]` tunes for a Pareto front (core.pareto);
`constraints: {params: {max: 50000}}` makes a trial that breaks a bound infeasible, with one metric
or several. The first metric is the run's: schedulers, model-based searchers and each trial's best
checkpoint use it, and the run's best trial is the best on it among the feasible ones. Whether the
trials report each name, `check_reported` asks once prepare knows what they report.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.core.objective import Objective, default_mode
from tunelab.core.pareto import Constraint
from tunelab.experiments.errors import SpecError
from tunelab.trainables.metrics import MetricError, check_objective
from tunelab.trainables.model_cost import MEASURES, asked_measures

if TYPE_CHECKING:
    from tunelab.experiments.spec import ExperimentSpec


def several_objectives(raw: Mapping[str, Any]) -> tuple[tuple[str, str | None], ...]:
    """Each (metric, mode) of a `metric:` list; a `mode:` list pairs with it, one mode per metric (a mode left
    out, or null in the list, is the metric's known direction)."""
    metrics, modes = raw.get("metric"), raw.get("mode")
    if not isinstance(metrics, list):
        raise SpecError(f"mode: a list {shown(modes)} needs metric as a list of as many names; got metric "
                        f"{shown(metrics)}")
    if not metrics or not all(isinstance(name, str) and name.strip() for name in metrics):
        raise SpecError(f"metric: expected a metric name or a list of names, e.g. [val_accuracy, params]; "
                        f"got {shown(metrics)}")
    if len(set(metrics)) < len(metrics):
        raise SpecError(f"metric: names a metric twice: {shown(metrics)}")
    if modes is None:
        modes = [None] * len(metrics)
    if not isinstance(modes, list) or len(modes) != len(metrics):
        count = len(modes) if isinstance(modes, list) else 1
        raise SpecError(f"mode: {count} mode{'s' if count != 1 else ''} for {len(metrics)} metrics "
                        f"{shown(metrics)}; give one mode per metric, e.g. mode: "
                        f"[{', '.join(default_mode(name) or 'max' for name in metrics)}], or leave mode out")
    return tuple((name, _mode(name, mode, f"mode[{i}]")) for i, (name, mode) in enumerate(zip(metrics, modes)))


def _mode(metric: str, mode: Any, key: str) -> str | None:
    known = default_mode(metric)
    if mode is None:
        return known
    if mode not in ("max", "min"):
        raise SpecError(f"{key}: {shown(mode)} is not allowed for {metric}; use max or min")
    if known is not None and mode != known:
        raise SpecError(f"{key}: {mode} contradicts metric {metric}, which is better when "
                        f"{'smaller' if known == 'min' else 'larger'}; write {known}, or leave it out")
    return mode


def constraints_from_raw(raw: Any) -> tuple[Constraint, ...]:
    """`constraints: {params: {max: 50000}, val_accuracy: {min: 0.9}}` as Constraints (bounds inclusive)."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(f"constraints: expected a mapping of metric to bounds, e.g. {{params: {{max: 50000}}}}; "
                        f"got {shown(raw)}")
    constraints = []
    for metric, bounds in raw.items():
        key = f"constraints.{metric}"
        if not isinstance(bounds, Mapping) or not bounds:
            raise SpecError(f"{key}: expected bounds such as {{max: 50000}} or {{min: 0.9}}; got {shown(bounds)}")
        for bound, value in bounds.items():
            if bound not in ("max", "min"):
                raise SpecError(f"{key}.{bound}: unknown key; allowed: max, min{did_you_mean(str(bound), ('max', 'min'))}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SpecError(f"{key}.{bound}: expected a finite number, got {shown(value)}")
        if "max" in bounds and "min" in bounds and bounds["min"] > bounds["max"]:
            raise SpecError(f"{key}: min {bounds['min']} is above max {bounds['max']}; no trial could keep it")
        constraints.append(Constraint(str(metric), max=bounds.get("max"), min=bounds.get("min")))
    return tuple(constraints)


def objectives_of(spec: ExperimentSpec) -> tuple[Objective, ...]:
    """Every objective of `spec` (its one metric, or each of a list), modes as resolved by prepare."""
    pairs = spec.objectives or ((spec.metric, spec.mode),)
    return tuple(Objective(metric, mode or "max") for metric, mode in pairs)


def resolved_objectives(spec: ExperimentSpec) -> dict[str, Any]:
    """`metric` and `mode` as the run record keeps them, modes resolved: a name and a mode, or two lists."""
    if not spec.objectives:
        return {"metric": spec.metric, "mode": spec.mode}
    return {"metric": [metric for metric, _ in spec.objectives], "mode": [mode for _, mode in spec.objectives]}


def measures_of(spec: ExperimentSpec) -> tuple[str, ...]:
    """The costs (`params`, `latency_ms`) the trials must measure: those the objectives or constraints name."""
    pairs = spec.objectives or ((spec.metric, spec.mode),)
    return asked_measures([*(metric for metric, _ in pairs), *(c.metric for c in spec.constraints)])


def check_reported(spec: ExperimentSpec, reported: Sequence[str]) -> ExperimentSpec:
    """`spec` with every mode resolved; MetricError/SpecError naming the key for a metric the trials never report."""
    reported = (*reported, *measures_of(spec))
    pairs = spec.objectives or ((spec.metric, spec.mode),)
    resolved = tuple((metric, check_objective(metric, mode, reported, spec.task)) for metric, mode in pairs)
    for constraint in spec.constraints:
        if constraint.metric not in reported:
            try:  # its message, with the hint to add the metric to `metrics:`, under the constraint's key
                check_objective(constraint.metric, "max", reported, spec.task)
            except MetricError as error:
                found = str(error).removeprefix("metric: ")
                raise SpecError(f"constraints.{constraint.metric}: {found} (and measure {', '.join(MEASURES)} "
                                "when named)") from None
    return dataclasses.replace(spec, mode=resolved[0][1], objectives=resolved if spec.objectives else ())
