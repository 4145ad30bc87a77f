"""Learning curves and the best value found so far, per trial and per experiment."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tunelab.analysis.plots.common import (
    OUTCOME_COLORS, experiment_start, metric_name, mode_of, panel_row, trial_outcomes,
)
from tunelab.analysis.results import Results
from tunelab.core.objective import Objective

# --- learning curves --------------------------------------------------------------------------


class Curve(NamedTuple):
    experiment: str
    trial_id: str
    outcome: str           # the trial's stop_reason: completed, stopped, errored, paused, running
    epochs: list[int]
    values: list[float]


class LearningCurves(NamedTuple):
    """One curve per trial that reported `metric`, in trial order."""

    metric: str
    curves: list[Curve]


def learning_curves_data(results: Results, metric: str | None = None) -> LearningCurves:
    metric = metric_name(results, metric)
    outcomes = trial_outcomes(results)
    curves = []
    rows = results.history[results.history[metric].notna()]
    for (experiment, trial_id), group in rows.groupby(["experiment", "trial_id"], sort=False):
        curves.append(Curve(experiment, trial_id, outcomes.get((experiment, trial_id), "completed"),
                            group["epoch"].astype(int).tolist(), group[metric].astype(float).tolist()))
    return LearningCurves(metric, curves)


def render_learning_curves(data: LearningCurves) -> Figure:
    """Curves coloured by how each trial ended; one panel per experiment."""
    experiments = list(dict.fromkeys(curve.experiment for curve in data.curves)) or [""]
    figure, axes = panel_row(len(experiments), sharey=True)
    for ax, experiment in zip(axes, experiments):
        curves = [c for c in data.curves if c.experiment == experiment]
        counts = {o: n for o in OUTCOME_COLORS if (n := sum(c.outcome == o for c in curves))}
        alpha = 0.75 if len(curves) <= 50 else 0.3
        # Completed trials first, so the rarer ways of ending (stopped, errored) are drawn on top.
        for curve in sorted(curves, key=lambda c: c.outcome != "completed"):
            ax.plot(curve.epochs, curve.values, color=OUTCOME_COLORS.get(curve.outcome, "black"), alpha=alpha,
                    linewidth=1.2, marker="o" if len(curve.epochs) == 1 else None, markersize=3)
        handles = [Line2D([], [], color=OUTCOME_COLORS.get(o, "black"), label=f"{o} ({n})") for o, n in counts.items()]
        if handles:
            ax.legend(handles=handles, fontsize=8, loc="best")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(experiment or "no trial reported " + data.metric, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(data.metric)
    figure.suptitle(f"Learning curves: {data.metric} per epoch, coloured by how each trial ended", fontsize=11)
    return figure


# --- best so far ------------------------------------------------------------------------------


class BestSoFarSeries(NamedTuple):
    experiment: str
    cumulative_epochs: list[int]    # epochs trained by all trials so far, in wall-clock order
    wall_seconds: list[float]       # since the experiment's first trial started
    best: list[float]               # best value of the metric reported so far
    best_trials: list[str]          # the trial that reported `best`, the first of any tie


class BestSoFar(NamedTuple):
    metric: str
    mode: str
    series: list[BestSoFarSeries]


def best_so_far_data(results: Results, metric: str | None = None) -> BestSoFar:
    """The best value found against the budget spent, per experiment: how fast a strategy gets there."""
    metric = metric_name(results, metric)
    mode = mode_of(results, metric)
    objective = Objective(metric, mode)
    series = []
    for experiment, rows in results.history.groupby("experiment", sort=False):
        rows = rows[rows[metric].notna()]
        if rows.empty:
            continue
        rows = rows.sort_values("time", kind="stable")
        values = rows[metric].to_numpy(dtype="float64")
        best = np.minimum.accumulate(values) if objective.ascending else np.maximum.accumulate(values)
        improved = np.r_[True, best[1:] != best[:-1]]
        holder = np.maximum.accumulate(np.where(improved, np.arange(len(rows)), 0))
        best_trials = rows["trial_id"].to_numpy(dtype=object)[holder].tolist()
        origin = experiment_start(results, experiment)
        wall = rows["time"].to_numpy(dtype="float64") - origin
        series.append(BestSoFarSeries(experiment, list(range(1, len(rows) + 1)), wall.tolist(), best.tolist(),
                                      best_trials))
    return BestSoFar(metric, mode, series)


def render_best_so_far(data: BestSoFar) -> Figure:
    """Two panels, every experiment on each: against cumulative epochs, and against wall time."""
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    by_epochs, by_time = figure.subplots(1, 2, sharey=True)
    for series in data.series:
        line = by_epochs.step(series.cumulative_epochs, series.best, where="post", label=series.experiment)[0]
        by_time.step(series.wall_seconds, series.best, where="post", color=line.get_color(), label=series.experiment)
    by_epochs.set_xlabel("epochs trained, all trials")
    by_time.set_xlabel("wall time (s)")
    by_epochs.set_ylabel(f"best {data.metric} so far ({data.mode})")
    for ax in (by_epochs, by_time):
        ax.grid(alpha=0.3)
    if data.series:
        by_time.legend(fontsize=8, loc="best")
    figure.suptitle(f"Best {data.metric} so far", fontsize=11)
    return figure
