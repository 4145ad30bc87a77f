"""Several searches side by side (the strategy study): per-run metrics and their spread across seeds.

Pure: everything here works on two frames a study writes (and `render` re-reads from CSV), so
the numbers can be recomputed on a laptop without re-running anything.

- `runs`: one row per search: `name` (grid, asha, kt_random, ...), `tool` (tunelab, ray,
  kerastuner), `seed`, `wall_s` (from the call that started the search, framework start-up and
  TensorFlow import included, to the search's end), `concurrency` (trials at once), `trials`,
  `peak_worker_mb` (largest resident memory of one worker process).
- `history`: one row per trained epoch: `name`, `seed`, `trial_id`, `epoch`, the metric,
  `elapsed_s` (when the epoch ended, seconds since the search started) and `time_total_s`
  (the trial's training seconds up to that epoch, as Ray reports it).

`measure` adds per-run metrics (best, epochs, time and epochs to a target, efficiency),
`aggregate` the median and range across seeds, `markdown_table` the report's table of them.
The verdicts on these numbers are in benchmarks.verdicts, the plots in benchmarks.best_so_far.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

RUN_COLUMNS = ("name", "tool", "seed", "wall_s", "concurrency", "trials", "peak_worker_mb")
HISTORY_COLUMNS = ("name", "seed", "trial_id", "epoch", "elapsed_s", "time_total_s")
TOLERANCE = 0.005  # "within half a point" of accuracy

# Columns of `measure` shown by `aggregate` and `markdown`, with their headers and formats.
SUMMARY_COLUMNS: dict[str, tuple[str, str]] = {
    "trials": ("trials", "{:.0f}"),
    "epochs": ("epochs", "{:.0f}"),
    "best": ("best {metric}", "{:.4f}"),
    "wall_s": ("wall s", "{:.1f}"),
    "time_to_target_s": ("s to target", "{:.1f}"),
    "epochs_to_target": ("epochs to target", "{:.0f}"),
    "efficiency": ("efficiency", "{:.2f}"),
    "busy_efficiency": ("busy efficiency", "{:.2f}"),
    "trial_s": ("s per trial", "{:.1f}"),
    "peak_worker_mb": ("peak worker MB", "{:.0f}"),
}


# --- one run ----------------------------------------------------------------------------------


def best_value(values: pd.Series, mode: str) -> float:
    """The best finite value, or NaN when there is none."""
    values = values[np.isfinite(values.astype("float64"))]
    if values.empty:
        return math.nan
    return float(values.min() if mode == "min" else values.max())


def reached(value: float, target: float, mode: str) -> bool:
    return value <= target if mode == "min" else value >= target


def time_to_target(history: pd.DataFrame, metric: str, mode: str, target: float) -> tuple[float, float]:
    """(seconds since the run started, epochs trained by then) when an epoch first reached `target`.

    Epochs count every trial's epochs that ended up to that moment, in wall-clock order; both
    are infinite when no epoch reached it, NaN when there is no target.
    """
    if target is None or not math.isfinite(target):
        return math.nan, math.nan
    rows = history.sort_values("elapsed_s", kind="stable")
    values = rows[metric].to_numpy(dtype="float64")
    hits = np.flatnonzero(values <= target if mode == "min" else values >= target)
    if hits.size == 0:
        return math.inf, math.inf
    first = int(hits[0])
    return float(rows["elapsed_s"].iloc[first]), float(first + 1)


def training_seconds(history: pd.DataFrame) -> float:
    """Σ over trials of their training time, from `time_total_s` (cumulative per trial).

    A trial that restarts without its counter (a new segment after a pause) shows a drop; the
    value after the drop then counts in full.
    """
    total = 0.0
    for _, rows in history.groupby("trial_id", sort=False):
        times = rows.sort_values("epoch")["time_total_s"].to_numpy(dtype="float64")
        times = times[np.isfinite(times)]
        if times.size == 0:
            continue
        steps = np.diff(np.r_[0.0, times])
        total += float(np.where(steps < 0, times, steps).sum())
    return total


def busy_seconds(history: pd.DataFrame) -> float:
    """From the first trial's start to the last epoch's end: the wall time minus start-up and teardown."""
    if history.empty:
        return math.nan
    starts = (history["elapsed_s"] - history["time_total_s"]).dropna()
    return float(history["elapsed_s"].max() - max(0.0, starts.min() if not starts.empty else 0.0))


def efficiency(train_s: float, wall_s: float, concurrency: int) -> float:
    """Σ trial training time / (wall × concurrency): 1.0 keeps every slot training all the time."""
    if not wall_s or not concurrency or not math.isfinite(wall_s):
        return math.nan
    return train_s / (wall_s * concurrency)


def run_metrics(run: pd.Series, history: pd.DataFrame, metric: str, mode: str,
                target: float = math.nan) -> dict[str, float]:
    """The numbers of one search: best, epochs trained, time and epochs to `target`, efficiency."""
    train_s = training_seconds(history)
    per_trial = history.groupby("trial_id", sort=False)["time_total_s"].max()
    seconds, epochs = time_to_target(history, metric, mode, target)
    return {
        "best": best_value(history[metric], mode) if metric in history else math.nan,
        "epochs": float(len(history)),
        "train_s": train_s,
        "target": target,
        "time_to_target_s": seconds,
        "epochs_to_target": epochs,
        "efficiency": efficiency(train_s, run["wall_s"], run["concurrency"]),
        "busy_efficiency": efficiency(train_s, busy_seconds(history), run["concurrency"]),
        "trial_s": float(per_trial.median()) if not per_trial.empty else math.nan,
    }


# --- all runs -----------------------------------------------------------------------------------


def measure(runs: pd.DataFrame, history: pd.DataFrame, metric: str = "val_accuracy", mode: str = "max",
            reference: str | None = "kt_random", grid: str | None = "grid") -> pd.DataFrame:
    """`runs` plus the metrics of each run; targets are taken per seed.

    `target` is the best value `reference` found with the same seed (else NaN: no time to
    target); `grid_target` is `grid`'s best with the same seed, less TOLERANCE, and
    `epochs_to_grid` the epochs a run trained before it got there.
    """
    rows = []
    by_run = {key: rows_ for key, rows_ in history.groupby(["name", "seed"], sort=False)}
    bests = {key: best_value(rows_[metric], mode) for key, rows_ in by_run.items() if metric in rows_}
    empty = history.iloc[0:0]
    for _, run in runs.iterrows():
        key = (run["name"], run["seed"])
        rows_ = by_run.get(key, empty)
        target = bests.get((reference, run["seed"]), math.nan)
        metrics = run_metrics(run, rows_, metric, mode, target)
        grid_best = bests.get((grid, run["seed"]), math.nan)
        grid_target = grid_best + TOLERANCE if mode == "min" else grid_best - TOLERANCE
        metrics["grid_target"] = grid_target
        metrics["epochs_to_grid"] = time_to_target(rows_, metric, mode, grid_target)[1]
        rows.append({**run.to_dict(), **metrics})
    return pd.DataFrame(rows)


def aggregate(measured: pd.DataFrame, columns: Iterable[str] = SUMMARY_COLUMNS) -> pd.DataFrame:
    """Per name (in the order the runs came): seeds, and each column's median, min and max.

    Infinite values (a target never reached) stay infinite in the median and max, and
    `<column>_reached` counts the seeds where the value was finite.
    """
    columns = [c for c in columns if c in measured]
    out = []
    for name, rows in measured.groupby("name", sort=False):
        row: dict[str, object] = {"name": name, "tool": rows["tool"].iloc[0], "seeds": len(rows)}
        for column in columns:
            values = rows[column].astype("float64")
            known = values.dropna()
            row[f"{column}_median"] = float(np.median(known)) if not known.empty else math.nan
            row[f"{column}_min"] = float(known.min()) if not known.empty else math.nan
            row[f"{column}_max"] = float(known.max()) if not known.empty else math.nan
            row[f"{column}_reached"] = int(np.isfinite(known).sum())
        out.append(row)
    return pd.DataFrame(out)


# --- markdown -----------------------------------------------------------------------------------


def cell(summary: pd.Series, column: str, fmt: str) -> str:
    """`median (min–max)`; `not reached` when the median is infinite; `[k/n]` when only k seeds got there."""
    median, low, high = (summary[f"{column}_{k}"] for k in ("median", "min", "max"))
    if math.isnan(median):
        return "–"
    if math.isinf(median):
        text = "not reached"
    elif summary["seeds"] == 1 or low == high:
        text = fmt.format(median)
    else:
        text = f"{fmt.format(median)} ({fmt.format(low)}–{'∞' if math.isinf(high) else fmt.format(high)})"
    reached_ = summary[f"{column}_reached"]
    if column.endswith("to_target_s") or column.endswith("to_target"):
        if reached_ < summary["seeds"]:
            text += f" [{reached_}/{summary['seeds']}]"
    return text


def markdown_table(summary: pd.DataFrame, metric: str = "val_accuracy",
                   columns: Iterable[str] = SUMMARY_COLUMNS) -> str:
    columns = [c for c in columns if f"{c}_median" in summary]
    header = ["strategy", "tool", "seeds", *(SUMMARY_COLUMNS[c][0].format(metric=metric) for c in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        cells = [str(row["name"]), str(row["tool"]), str(row["seeds"]),
                 *(cell(row, c, SUMMARY_COLUMNS[c][1]) for c in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
