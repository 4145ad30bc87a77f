"""What every plot shares: outcome colours, the metric and hyperparameters asked for, panels and
colour scales, and the empty plot that says why it is empty."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from tunelab.analysis.results import Results, ResultsError
from tunelab.core.objective import Objective, default_mode

OUTCOME_COLORS = {
    "completed": "#2a9d4b", "stopped": "#f08c00", "trial_timeout": "#b5651d", "errored": "#d62728",
    "out_of_memory": "#8c2d04", "paused": "#8e6cc0",
    "running": "#1f77b4", "pending": "#9a9a9a",
}
DPI = 100


def metric_name(results: Results, metric: str | None) -> str:
    """The metric asked for, else the objective, else (results without a spec) val_accuracy or the first one."""
    fallback = "val_accuracy" if "val_accuracy" in results.metrics else next(iter(results.metrics), None)
    metric = metric or results.metric or fallback
    if metric is None:
        raise ResultsError("no trial reported a metric")
    if metric not in results.metrics:
        from tunelab.core.checks import did_you_mean

        raise ResultsError(f"metric {metric!r} was not reported; reported: {', '.join(results.metrics) or 'none'}"
                           + did_you_mean(metric, results.metrics))
    return metric


def mode_of(results: Results, metric: str) -> str:
    """The objective's mode; for another metric its known direction, as its `_best` column (max when unknown)."""
    if metric == results.metric and results.mode:
        return results.mode
    return default_mode(metric) or "max"


def checked_params(results: Results, names: list[str]) -> list[str]:
    from tunelab.core.checks import did_you_mean

    for name in names:
        if name not in results.params:
            raise ResultsError(f"{name!r} is not a hyperparameter of these results; they have "
                               f"{', '.join(results.params)}{did_you_mean(name, results.params)}")
    return names


def varying(trials: pd.DataFrame, params: tuple[str, ...]) -> list[str]:
    return [name for name in params
            if trials[name].astype(object).where(trials[name].notna(), None).nunique(dropna=False) > 1]


def default_pair(results: Results, ranked: list[str], x: str | None, y: str | None) -> tuple[str, str]:
    """The given axis, and the best-ranked hyperparameters for the others."""
    if not results.params:
        raise ResultsError("these results have no hyperparameters to plot")
    candidates = [name for name in [*ranked, *results.params] if name not in (x, y)]
    if x is None:
        x = candidates.pop(0) if candidates else y
    y = y or next((name for name in candidates if name != x), x)
    return x, y


def category_order(values: pd.Series) -> list[str] | None:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return None
    return sorted({str(v) for v in values.dropna()})


def axis_positions(values: pd.Series, categories: list[str] | None) -> list[Any]:
    if categories is None:
        return values.astype(float).tolist()
    index = {category: i for i, category in enumerate(categories)}
    return [index[str(v)] for v in values]


def trial_outcomes(results: Results) -> dict[tuple[str, str], str]:
    trials = results.trials
    return dict(zip(zip(trials["experiment"], trials["trial_id"]), trials["stop_reason"]))


def strategy_of(results: Results, experiment: str) -> str | None:
    return next((e.strategy for e in results.experiments if e.name == experiment), None)


def experiment_start(results: Results, experiment: str) -> float:
    """When the experiment's first trial started training, in the seconds of `history.time`."""
    rows = results.history[results.history["experiment"] == experiment]
    starts = (rows["time"] - rows["time_total_s"].fillna(0.0)).dropna()
    return float(starts.min()) if not starts.empty else 0.0


def panel_row(count: int, sharey: bool, height: float = 4.2) -> tuple[Figure, list]:
    figure = Figure(figsize=(min(16.0, 5.0 * count + 1.0), height), layout="constrained")
    axes = figure.subplots(1, count, sharey=sharey, squeeze=False)[0]
    return figure, list(axes)


def score_colors(values: list[float], objective: Objective) -> tuple[list, Any]:
    """Viridis, brighter for better: reversed when the objective is minimised."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    finite = [v for v in values if v is not None and math.isfinite(v)]
    norm = Normalize(min(finite, default=0.0), max(finite, default=1.0))
    cmap = colormaps["viridis_r" if objective.ascending else "viridis"]
    colors = [cmap(norm(v)) if v is not None and math.isfinite(v) else (0.6, 0.6, 0.6, 1.0) for v in values]
    return colors, ScalarMappable(norm=norm, cmap=cmap)


def empty_plot(figure: Figure, ax: Any, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return figure
