"""The strategy study's plot: best so far per strategy, median and range across seeds.

Kept apart from benchmarks.compare, which computes numbers: this module draws the figures, from
the same `history` and `runs` frames (compare describes their columns), with each run's curve
from tunelab.analysis.plots.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tunelab.analysis.plots import best_so_far_data
from tunelab.analysis.results import Results


class Band(NamedTuple):
    name: str
    tool: str
    x: list[float]           # epochs trained (all trials) or seconds since the search started
    median: list[float]      # best value so far, median across the seeds that had one by x
    low: list[float]         # min across seeds
    high: list[float]        # max across seeds
    seeds: int


class BestSoFarBands(NamedTuple):
    """Best-so-far curves per strategy, against epochs or wall time, with the range across seeds."""

    metric: str
    mode: str
    axis: str                # "epochs" or "wall"
    bands: list[Band]


def best_so_far_bands(history: pd.DataFrame, runs: pd.DataFrame, metric: str = "val_accuracy", mode: str = "max",
                      axis: str = "epochs", points: int = 200) -> BestSoFarBands:
    """Each run's best-so-far step curve (analysis.plots.best_so_far_data), then median and range per name.

    A run's curve starts at its first epoch and holds its final best after its last; at each x
    the band covers the seeds that had reported by then.
    """
    if axis not in ("epochs", "wall"):
        raise ValueError(f"axis must be 'epochs' or 'wall'; got {axis!r}")
    tools = dict(zip(runs["name"], runs["tool"]))
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for (name, seed), rows in history.groupby(["name", "seed"], sort=False):
        rows = rows[rows[metric].notna()]
        if rows.empty:
            continue
        series = best_so_far_data(_as_results(rows, metric, mode), metric).series[0]
        if axis == "epochs":
            x = np.asarray(series.cumulative_epochs, dtype="float64")
        else:  # best_so_far_data counts from the first trial's start; the study counts from the search's start
            x = np.asarray(series.wall_seconds) + float((rows["elapsed_s"] - rows["time_total_s"].fillna(0.0)).min())
        curves.setdefault(name, []).append((x, np.asarray(series.best, dtype="float64")))
    bands = []
    for name, runs_ in curves.items():
        end = max(float(x[-1]) for x, _ in runs_)
        grid = np.linspace(0.0, end, points)
        values = np.full((len(runs_), points), np.nan)
        for i, (x, best) in enumerate(runs_):
            index = np.searchsorted(x, grid, side="right") - 1
            values[i] = np.where(index >= 0, best[np.clip(index, 0, None)], np.nan)
        known = ~np.isnan(values).all(axis=0)
        with np.errstate(all="ignore"):
            median = np.where(known, np.nanmedian(np.where(known, values, 0.0), axis=0), np.nan)
            low = np.where(known, np.nanmin(np.where(known, values, 0.0), axis=0), np.nan)
            high = np.where(known, np.nanmax(np.where(known, values, 0.0), axis=0), np.nan)
        bands.append(Band(name, str(tools.get(name, "")), grid.tolist(), median.tolist(), low.tolist(), high.tolist(),
                          len(runs_)))
    return BestSoFarBands(metric, mode, axis, bands)


def _as_results(rows: pd.DataFrame, metric: str, mode: str) -> Results:
    """One run's history as the Results that analysis.plots reads (experiment = the run, time = elapsed)."""
    history = pd.DataFrame({"experiment": "run", "trial_id": rows["trial_id"], "epoch": rows["epoch"],
                            metric: rows[metric], "time_total_s": rows["time_total_s"], "time": rows["elapsed_s"]})
    return Results(pd.DataFrame(), history, (), (metric,), metric, mode)


_LINESTYLES = {"tunelab": "-", "kerastuner": "--", "ray": ":"}


def render_best_so_far_bands(data: BestSoFarBands, floor: float | None = None) -> Figure:
    """One line per strategy (median across seeds) in a band (min to max); KerasTuner dashed, raw Ray dotted.

    `floor` cuts the y axis below it (default: the lowest median after 20% of the x range), so the
    interesting top is readable; the curves' first points may then sit below the frame.
    """
    from matplotlib import colormaps

    figure = Figure(figsize=(10, 5.5), layout="constrained")
    ax = figure.subplots()
    colors = colormaps["tab20"].colors
    for index, band in enumerate(data.bands):
        color = colors[(2 * index) % 20] if index < 10 else colors[(2 * index + 1) % 20]
        ax.plot(band.x, band.median, color=color, linestyle=_LINESTYLES.get(band.tool, "-"), linewidth=1.6,
                label=f"{band.name} ({band.seeds})")
        ax.fill_between(band.x, band.low, band.high, color=color, alpha=0.12, linewidth=0)
    if floor is None:
        tails = [np.asarray(b.median)[len(b.median) // 5:] for b in data.bands]
        tails = [t[~np.isnan(t)] for t in tails if np.isfinite(t).any()]
        if tails:
            floor = float(min(t.min() for t in tails)) if data.mode == "max" else None
    if floor is not None and data.mode == "max":
        top = max((np.nanmax(b.high) for b in data.bands if np.isfinite(b.high).any()), default=1.0)
        ax.set_ylim(floor - 0.02 * max(top - floor, 0.01), top + 0.02 * max(top - floor, 0.01))
    ax.set_xlabel("epochs trained, all trials" if data.axis == "epochs" else "seconds since the search started")
    ax.set_ylabel(f"best {data.metric} so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncols=2, title="strategy (seeds)", title_fontsize=8)
    against = "epochs trained" if data.axis == "epochs" else "wall time"
    ax.set_title(f"Best {data.metric} so far against {against}: median across seeds, band min to max", fontsize=11)
    return figure
