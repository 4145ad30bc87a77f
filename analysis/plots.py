"""The pictures of a tuning run, Optuna-style: each plot's data first (a small NamedTuple), then a PNG.

`*_data(results, ...)` computes what a plot shows from the Results frames, and is what tests
check; `render_*(data)` draws it on a matplotlib Figure (no pyplot, so no global state and no
display needed); `write_plots` does both for every plot. Every function takes one Results,
holding one experiment or several.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from tunelab.analysis.importance import Importance, hyperparameter_importance
from tunelab.analysis.load import Results, ResultsError

OUTCOME_COLORS = {
    "completed": "#2a9d4b", "stopped": "#f08c00", "errored": "#d62728", "paused": "#8e6cc0",
    "running": "#1f77b4", "pending": "#9a9a9a",
}
PARALLEL_AXES = 10  # write_plots shows the most important hyperparameters; more would not be legible
PLOTS = ("learning_curves", "best_so_far", "parallel_coordinates", "samples", "importance", "timeline")
_DPI = 100


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
    metric = _metric(results, metric)
    outcomes = _outcomes(results)
    curves = []
    rows = results.history[results.history[metric].notna()]
    for (experiment, trial_id), group in rows.groupby(["experiment", "trial_id"], sort=False):
        curves.append(Curve(experiment, trial_id, outcomes.get((experiment, trial_id), "completed"),
                            group["epoch"].astype(int).tolist(), group[metric].astype(float).tolist()))
    return LearningCurves(metric, curves)


def render_learning_curves(data: LearningCurves) -> Figure:
    """Curves coloured by how each trial ended; one panel per experiment."""
    experiments = list(dict.fromkeys(curve.experiment for curve in data.curves)) or [""]
    figure, axes = _panels(len(experiments), sharey=True)
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


class BestSoFar(NamedTuple):
    metric: str
    mode: str
    series: list[BestSoFarSeries]


def best_so_far_data(results: Results, metric: str | None = None) -> BestSoFar:
    """The best value found against the budget spent, per experiment: how fast a strategy gets there."""
    metric = _metric(results, metric)
    mode = _mode(results, metric)
    series = []
    for experiment, rows in results.history.groupby("experiment", sort=False):
        rows = rows[rows[metric].notna()]
        if rows.empty:
            continue
        rows = rows.sort_values("time", kind="stable")
        values = rows[metric].to_numpy(dtype="float64")
        best = np.minimum.accumulate(values) if mode == "min" else np.maximum.accumulate(values)
        origin = _experiment_start(results, experiment)
        wall = rows["time"].to_numpy(dtype="float64") - origin
        series.append(BestSoFarSeries(experiment, list(range(1, len(rows) + 1)), wall.tolist(), best.tolist()))
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


# --- parallel coordinates ---------------------------------------------------------------------


class Axis(NamedTuple):
    name: str
    positions: list[float]      # per trial, in [0, 1]; INACTIVE where the parameter was inactive
    ticks: list[float]
    tick_labels: list[str]
    log: bool


class ParallelCoordinates(NamedTuple):
    """The objective's axis first, then every hyperparameter that took more than one value."""

    metric: str
    mode: str
    trial_ids: list[str]
    objective: list[float]
    axes: list[Axis]


INACTIVE = -0.1  # where an inactive conditional parameter sits on its axis, below the active range


def parallel_coordinates_data(results: Results, params: list[str] | None = None,
                              metric: str | None = None) -> ParallelCoordinates:
    metric = _metric(results, metric)
    column = f"{metric}_best"
    trials = results.trials[results.trials[column].notna()]
    names = _check_params(results, params) if params else _varying(trials, results.params)
    objective = trials[column].to_numpy(dtype="float64")
    axes = [_axis(f"{metric} (best)", trials[column], log=False)]
    axes += [_axis(name, trials[name], log=name in results.log_params) for name in names]
    return ParallelCoordinates(metric, _mode(results, metric), trials["trial_id"].tolist(), objective.tolist(), axes)


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
    return Axis(name, positions.astype(float).tolist(), ticks, labels, log)


def render_parallel_coordinates(data: ParallelCoordinates) -> Figure:
    """Each trial one line across the axes, coloured by its objective (brighter is better)."""
    width = min(14.0, max(6.0, 1.1 * len(data.axes) + 1.5))
    figure = Figure(figsize=(width, 4.8), layout="constrained")
    ax = figure.subplots()
    if not data.trial_ids:
        return _empty(figure, ax, f"no trial reported {data.metric}")
    colors, mappable = _colors(data.objective, data.mode)
    xs = list(range(len(data.axes)))
    order = np.argsort(data.objective)  # the best drawn last, on top
    order = order[::-1] if data.mode == "min" else order
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
    metric = _metric(results, metric)
    if x is None or y is None:
        ranked = importance_data(results, metric).names or _varying(results.trials, results.params)
        x, y = _default_pair(results, ranked, x, y)
    _check_params(results, [x, y])
    x_categories = _categories(results.trials[x])
    y_categories = _categories(results.trials[y])
    panels = []
    for experiment in dict.fromkeys(results.trials["experiment"]):
        trials = results.trials[results.trials["experiment"] == experiment]
        active = trials[x].notna() & trials[y].notna()
        used = trials[active]
        objective = used[f"{metric}_best"] if f"{metric}_best" in used else pd.Series(np.nan, index=used.index)
        panels.append(SamplePanel(
            experiment, _strategy(results, experiment), used["trial_id"].tolist(),
            _positions(used[x], x_categories), _positions(used[y], y_categories),
            objective.astype(float).tolist(), int((~active).sum()),
        ))
    return Samples(x, y, x in results.log_params and x_categories is None,
                   y in results.log_params and y_categories is None, x_categories, y_categories, metric,
                   _mode(results, metric), panels)


def render_samples(data: Samples) -> Figure:
    figure, axes = _panels(len(data.panels) or 1, sharey=True, height=4.4)
    values = [v for panel in data.panels for v in panel.objective]
    colors, mappable = _colors(values, data.mode)
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
    return hyperparameter_importance(results, _metric(results, metric), seed)


def render_importance(data: Importance) -> Figure:
    figure = Figure(figsize=(7, 0.35 * max(4, len(data.names)) + 1.2), layout="constrained")
    ax = figure.subplots()
    if not data.names:
        return _empty(figure, ax, f"importance needs 3 or more trials that reported {data.metric} "
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


# --- timeline ---------------------------------------------------------------------------------


class Segment(NamedTuple):
    experiment: str
    trial_id: str
    row: str              # the worker (host:pid), prefixed by the experiment when there are several
    start: float          # seconds since the experiment's first trial started
    end: float
    outcome: str


class Timeline(NamedTuple):
    """Who trained what when: one row per worker process, one bar per uninterrupted run of a trial."""

    rows: list[str]
    segments: list[Segment]


def timeline_data(results: Results) -> Timeline:
    history = results.history[results.history["time"].notna()]
    outcomes = _outcomes(results)
    several = results.trials["experiment"].nunique() > 1
    segments = []
    for (experiment, trial_id), rows in history.groupby(["experiment", "trial_id"], sort=False):
        times = rows["time"].to_numpy(dtype="float64")
        totals = rows["time_total_s"].to_numpy(dtype="float64")
        durations = np.diff(np.r_[0.0, totals]) if not np.isnan(totals).any() else np.zeros(len(rows))
        starts = times - durations
        workers = rows["worker"].astype(str).to_numpy()
        # A new segment where the worker changes or the trial sat idle (paused) between epochs.
        breaks = np.r_[True, (workers[1:] != workers[:-1]) | (starts[1:] > times[:-1] + 1.0)]
        origin = _experiment_start(results, experiment)
        bounds = np.flatnonzero(breaks).tolist() + [len(rows)]
        for first, stop in zip(bounds[:-1], bounds[1:]):
            row = f"{experiment} · {workers[first]}" if several else workers[first]
            segments.append(Segment(experiment, trial_id, row, float(starts[first] - origin),
                                    float(times[stop - 1] - origin),
                                    outcomes.get((experiment, trial_id), "completed")))
    rows = sorted({s.row for s in segments}, key=lambda r: min(s.start for s in segments if s.row == r))
    return Timeline(rows, segments)


def render_timeline(data: Timeline) -> Figure:
    figure = Figure(figsize=(10, 0.45 * max(3, len(data.rows)) + 1.4), layout="constrained")
    ax = figure.subplots()
    if not data.segments:
        return _empty(figure, ax, "no trial reported an epoch")
    index = {row: i for i, row in enumerate(data.rows)}
    label = len(data.segments) <= 40
    for segment in data.segments:
        y = index[segment.row]
        ax.barh(y, segment.end - segment.start, left=segment.start, height=0.7, edgecolor="white",
                color=OUTCOME_COLORS.get(segment.outcome, "black"))
        if label:
            ax.text(segment.start + (segment.end - segment.start) / 2, y, segment.trial_id[:8], ha="center",
                    va="center", fontsize=6, color="white")
    ax.set_yticks(range(len(data.rows)), data.rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first trial started")
    outcomes = list(dict.fromkeys(s.outcome for s in data.segments))
    ax.legend(handles=[Patch(color=OUTCOME_COLORS.get(o, "black"), label=o) for o in outcomes], fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Timeline: {len({s.trial_id for s in data.segments})} trials on {len(data.rows)} workers",
                 fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return figure


# --- all of them --------------------------------------------------------------------------------


def figures(results: Results, metric: str | None = None, x: str | None = None,
            y: str | None = None) -> dict[str, Figure]:
    """Every plot, by name (PLOTS), computed and rendered."""
    importance = importance_data(results, metric)
    ranked = importance.names or _varying(results.trials, results.params)
    if x is None or y is None:
        x, y = _default_pair(results, ranked, x, y)
    axes = ranked[:PARALLEL_AXES] or None
    return {
        "learning_curves": render_learning_curves(learning_curves_data(results, metric)),
        "best_so_far": render_best_so_far(best_so_far_data(results, metric)),
        "parallel_coordinates": render_parallel_coordinates(parallel_coordinates_data(results, axes, metric)),
        "samples": render_samples(samples_data(results, x, y, metric)),
        "importance": render_importance(importance),
        "timeline": render_timeline(timeline_data(results)),
    }


def write_plots(results: Results, folder: str | Path, metric: str | None = None, x: str | None = None,
                y: str | None = None) -> dict[str, Path]:
    """Writes NAME.png for every plot into `folder`; returns the paths by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, figure in figures(results, metric, x, y).items():
        written[name] = save_png(figure, folder / f"{name}.png")
    return written


def save_png(figure: Figure, path: str | Path) -> Path:
    """PNG with a 256-colour palette: a quarter of the size, no visible loss for line plots."""
    Path(path).write_bytes(png_bytes(figure))
    return Path(path)


def png_bytes(figure: Figure) -> bytes:
    from PIL import Image

    raw = io.BytesIO()
    figure.savefig(raw, dpi=_DPI, format="png", facecolor="white")
    image = Image.open(raw).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def check_request(results: Results, metric: str | None = None, x: str | None = None, y: str | None = None) -> None:
    """Raises ResultsError (with a did-you-mean) for a metric or hyperparameter the results do not hold."""
    _metric(results, metric)
    _check_params(results, [name for name in (x, y) if name])


# --- helpers ----------------------------------------------------------------------------------


def _metric(results: Results, metric: str | None) -> str:
    """The metric asked for, else the objective, else (results without a spec) val_accuracy or the first one."""
    fallback = "val_accuracy" if "val_accuracy" in results.metrics else next(iter(results.metrics), None)
    metric = metric or results.metric or fallback
    if metric is None:
        raise ResultsError("no trial reported a metric")
    if metric not in results.metrics:
        from tunelab.checks import did_you_mean

        raise ResultsError(f"metric {metric!r} was not reported; reported: {', '.join(results.metrics) or 'none'}"
                           + did_you_mean(metric, results.metrics))
    return metric


def _mode(results: Results, metric: str) -> str:
    """The objective's mode; for another metric, min for losses and errors, as its `_best` column."""
    if metric == results.metric and results.mode:
        return results.mode
    return "min" if "loss" in metric or "error" in metric else "max"


def _check_params(results: Results, names: list[str]) -> list[str]:
    from tunelab.checks import did_you_mean

    for name in names:
        if name not in results.params:
            raise ResultsError(f"{name!r} is not a hyperparameter of these results; they have "
                               f"{', '.join(results.params)}{did_you_mean(name, results.params)}")
    return names


def _varying(trials: pd.DataFrame, params: tuple[str, ...]) -> list[str]:
    return [name for name in params
            if trials[name].astype(object).where(trials[name].notna(), None).nunique(dropna=False) > 1]


def _default_pair(results: Results, ranked: list[str], x: str | None, y: str | None) -> tuple[str, str]:
    """The given axis, and the best-ranked hyperparameters for the others."""
    if not results.params:
        raise ResultsError("these results have no hyperparameters to plot")
    candidates = [name for name in [*ranked, *results.params] if name not in (x, y)]
    if x is None:
        x = candidates.pop(0) if candidates else y
    y = y or next((name for name in candidates if name != x), x)
    return x, y


def _categories(values: pd.Series) -> list[str] | None:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return None
    return sorted({str(v) for v in values.dropna()})


def _positions(values: pd.Series, categories: list[str] | None) -> list[Any]:
    if categories is None:
        return values.astype(float).tolist()
    index = {category: i for i, category in enumerate(categories)}
    return [index[str(v)] for v in values]


def _outcomes(results: Results) -> dict[tuple[str, str], str]:
    trials = results.trials
    return dict(zip(zip(trials["experiment"], trials["trial_id"]), trials["stop_reason"]))


def _strategy(results: Results, experiment: str) -> str | None:
    return next((e.strategy for e in results.experiments if e.name == experiment), None)


def _experiment_start(results: Results, experiment: str) -> float:
    """When the experiment's first trial started training, in the seconds of `history.time`."""
    rows = results.history[results.history["experiment"] == experiment]
    starts = (rows["time"] - rows["time_total_s"].fillna(0.0)).dropna()
    return float(starts.min()) if not starts.empty else 0.0


def _panels(count: int, sharey: bool, height: float = 4.2) -> tuple[Figure, list]:
    figure = Figure(figsize=(min(16.0, 5.0 * count + 1.0), height), layout="constrained")
    axes = figure.subplots(1, count, sharey=sharey, squeeze=False)[0]
    return figure, list(axes)


def _colors(values: list[float], mode: str) -> tuple[list, Any]:
    """Viridis, brighter for better: reversed when the objective is minimised."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    finite = [v for v in values if v is not None and math.isfinite(v)]
    norm = Normalize(min(finite, default=0.0), max(finite, default=1.0))
    cmap = colormaps["viridis_r" if mode == "min" else "viridis"]
    colors = [cmap(norm(v)) if v is not None and math.isfinite(v) else (0.6, 0.6, 0.6, 1.0) for v in values]
    return colors, ScalarMappable(norm=norm, cmap=cmap)


def _empty(figure: Figure, ax: Any, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return figure
