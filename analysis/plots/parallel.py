"""Parallel coordinates: every trial a line across the hyperparameters, coloured by its score."""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tunelab.analysis.plots.common import checked_params, empty_plot, metric_name, mode_of, score_colors, varying
from tunelab.analysis.results import Results
from tunelab.core.objective import Objective

# --- parallel coordinates ---------------------------------------------------------------------


class Axis(NamedTuple):
    name: str
    positions: list[float]      # per trial, in [0, 1]; INACTIVE where the parameter was inactive
    ticks: list[float]
    tick_labels: list[str]
    log: bool
    values: list[Any]           # per trial, as configured (None where inactive): what a hover shows


class ParallelCoordinates(NamedTuple):
    """The objective's axis first, then every hyperparameter that took more than one value."""

    metric: str
    mode: str
    trial_ids: list[str]
    objective: list[float]
    axes: list[Axis]
    experiments: list[str]      # per trial: which results folder it came from


INACTIVE = -0.1  # where an inactive conditional parameter sits on its axis, below the active range


def parallel_coordinates_data(results: Results, params: list[str] | None = None,
                              metric: str | None = None) -> ParallelCoordinates:
    metric = metric_name(results, metric)
    column = f"{metric}_best"
    trials = results.trials[results.trials[column].notna()]
    names = checked_params(results, params) if params else varying(trials, results.params)
    objective = trials[column].to_numpy(dtype="float64")
    axes = [_axis(f"{metric} (best)", trials[column], log=False)]
    axes += [_axis(name, trials[name], log=name in results.log_params) for name in names]
    return ParallelCoordinates(metric, mode_of(results, metric), trials["trial_id"].tolist(), objective.tolist(), axes,
                               trials["experiment"].tolist())


def _axis(name: str, values: pd.Series, log: bool) -> Axis:
    active = values.notna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        numbers = values.astype("float64")
        log = log and bool((numbers.dropna() > 0).all())
        scaled = np.log10(numbers) if log else numbers
        low, high = scaled.min(), scaled.max()
        span = (high - low) or 1.0
        positions = ((scaled - low) / span).where(active, INACTIVE)
        ticks = [0.0, 0.5, 1.0] if high > low else [0.0]
        labels = [f"{(10 ** (low + t * span) if log else low + t * span):.3g}" for t in ticks]
    else:
        categories = sorted({str(v) for v in values.dropna()})
        step = 1.0 / max(1, len(categories) - 1)
        where = {category: index * step for index, category in enumerate(categories)}
        positions = values.map(lambda v: where[str(v)] if pd.notna(v) else INACTIVE)
        ticks, labels = list(where.values()), categories
    if not active.all():
        ticks, labels = [INACTIVE, *ticks], ["inactive", *labels]
    return Axis(name, positions.astype(float).tolist(), ticks, labels, log,
                values.astype(object).where(active, None).tolist())


def render_parallel_coordinates(data: ParallelCoordinates) -> Figure:
    """Each trial one line across the axes, coloured by its objective (brighter is better)."""
    width = min(14.0, max(6.0, 1.1 * len(data.axes) + 1.5))
    figure = Figure(figsize=(width, 4.8), layout="constrained")
    ax = figure.subplots()
    if not data.trial_ids:
        return empty_plot(figure, ax, f"no trial reported {data.metric}")
    objective = Objective(data.metric, data.mode)
    colors, mappable = score_colors(data.objective, objective)
    xs = list(range(len(data.axes)))
    order = np.argsort(data.objective)  # the best drawn last, on top
    order = order[::-1] if objective.ascending else order
    for index in order:
        ax.plot(xs, [axis.positions[index] for axis in data.axes], color=colors[index], alpha=0.8, linewidth=1.2)
    for x, axis in zip(xs, data.axes):
        ax.axvline(x, color="black", linewidth=0.8)
        for tick, label in zip(axis.ticks, axis.tick_labels):
            ax.text(x + 0.03, tick, label if len(label) <= 14 else label[:13] + "…", fontsize=7, va="center")
    ax.set_xticks(xs, [axis.name + (" (log)" if axis.log else "") for axis in data.axes], rotation=30, ha="right",
                  fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(xs) - 0.5)
    ax.set_ylim(INACTIVE - 0.08, 1.08)
    for spine in ax.spines.values():
        spine.set_visible(False)
    figure.colorbar(mappable, ax=ax, label=f"{data.metric} (best)", fraction=0.03)
    ax.set_title(f"Parallel coordinates: {len(data.trial_ids)} trials", fontsize=11)
    return figure
