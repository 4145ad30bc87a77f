"""What a strategy tried, on two hyperparameters, and which hyperparameters mattered."""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tunelab.analysis.importance import Importance, hyperparameter_importance
from tunelab.analysis.plots.common import (
    axis_positions, category_order, checked_params, default_pair, empty_plot, metric_name, mode_of, panel_row,
    score_colors, strategy_of, varying,
)
from tunelab.analysis.results import Results
from tunelab.core.objective import Objective

# --- the configurations a strategy tried, on two hyperparameters ------------------------------


class SamplePanel(NamedTuple):
    experiment: str
    strategy: str | None
    trial_ids: list[str]
    x: list[Any]                # values; positions of categories when the axis is categorical
    y: list[Any]
    objective: list[float]      # NaN for trials that did not report it
    left_out: int               # trials where x or y was inactive


class Samples(NamedTuple):
    """The course's picture: where in the space a strategy looked; one panel per experiment."""

    x_name: str
    y_name: str
    x_log: bool
    y_log: bool
    x_categories: list[str] | None   # tick labels of a categorical axis, in position order
    y_categories: list[str] | None
    metric: str
    mode: str
    panels: list[SamplePanel]


def samples_data(results: Results, x: str | None = None, y: str | None = None,
                 metric: str | None = None) -> Samples:
    """`x` and `y` default to the two most important hyperparameters (or the first two that varied)."""
    metric = metric_name(results, metric)
    if x is None or y is None:
        ranked = importance_data(results, metric).names or varying(results.trials, results.params)
        x, y = default_pair(results, ranked, x, y)
    checked_params(results, [x, y])
    x_categories = category_order(results.trials[x])
    y_categories = category_order(results.trials[y])
    panels = []
    for experiment in dict.fromkeys(results.trials["experiment"]):
        trials = results.trials[results.trials["experiment"] == experiment]
        active = trials[x].notna() & trials[y].notna()
        used = trials[active]
        objective = used[f"{metric}_best"] if f"{metric}_best" in used else pd.Series(np.nan, index=used.index)
        panels.append(SamplePanel(
            experiment, strategy_of(results, experiment), used["trial_id"].tolist(),
            axis_positions(used[x], x_categories), axis_positions(used[y], y_categories),
            objective.astype(float).tolist(), int((~active).sum()),
        ))
    return Samples(x, y, x in results.log_params and x_categories is None,
                   y in results.log_params and y_categories is None, x_categories, y_categories, metric,
                   mode_of(results, metric), panels)


def render_samples(data: Samples) -> Figure:
    figure, axes = panel_row(len(data.panels) or 1, sharey=True, height=4.4)
    values = [v for panel in data.panels for v in panel.objective]
    colors, mappable = score_colors(values, Objective(data.metric, data.mode))
    offset = 0
    for ax, panel in zip(axes, data.panels):
        count = len(panel.trial_ids)
        ax.scatter(panel.x, panel.y, c=colors[offset:offset + count] if count else None, s=36,
                   edgecolors="black", linewidths=0.5)
        offset += count
        if data.x_log:
            ax.set_xscale("log")
        if data.y_log:
            ax.set_yscale("log")
        if data.x_categories is not None:
            ax.set_xticks(range(len(data.x_categories)), data.x_categories, fontsize=8)
        if data.y_categories is not None:
            ax.set_yticks(range(len(data.y_categories)), data.y_categories, fontsize=8)
        title = f"{panel.experiment}" + (f" ({panel.strategy})" if panel.strategy else "") + f": {count} trials"
        if panel.left_out:
            title += f", {panel.left_out} with one inactive"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(data.x_name + (" (log)" if data.x_log else ""))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(data.y_name + (" (log)" if data.y_log else ""))
    if values and not all(math.isnan(v) for v in values):
        figure.colorbar(mappable, ax=list(axes), label=f"{data.metric} (best)", fraction=0.03)
    figure.suptitle(f"Configurations tried: {data.x_name} against {data.y_name}", fontsize=11)
    return figure


# --- hyperparameter importance ----------------------------------------------------------------


def importance_data(results: Results, metric: str | None = None, seed: int = 0) -> Importance:
    """See analysis.importance: random-forest mean decrease in impurity, over all loaded trials."""
    return hyperparameter_importance(results, metric_name(results, metric), seed)


def render_importance(data: Importance) -> Figure:
    figure = Figure(figsize=(7, 0.35 * max(4, len(data.names)) + 1.2), layout="constrained")
    ax = figure.subplots()
    if not data.names:
        return empty_plot(figure, ax, f"importance needs 3 or more trials that reported {data.metric} "
                                  f"and a hyperparameter that varied ({data.trials} trials)")
    positions = range(len(data.names))[::-1]
    ax.barh(list(positions), data.values, color="#3b75af")
    ax.set_yticks(list(positions), data.names, fontsize=8)
    for position, value in zip(positions, data.values):
        ax.text(value, position, f" {value:.2f}", va="center", fontsize=7)
    ax.set_xlabel(f"share of impurity decrease for {data.metric} (sums to 1)")
    ax.set_xlim(0, max(data.values + [0.01]) * 1.15)
    ax.set_title(f"Hyperparameter importance, {data.trials} trials\n{data.method}", fontsize=9)
    return figure
