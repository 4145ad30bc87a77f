"""Several searches side by side (the strategy study): per-run metrics, spread across seeds, verdicts, plots.

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
`aggregate` the median and range across seeds, `targets` and `claims` the study's verdicts,
`markdown` the report, and `best_so_far_bands` / `render_best_so_far_bands` the plots.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tunelab.analysis.plots import best_so_far_data
from tunelab.analysis.results import Results

RUN_COLUMNS = ("name", "tool", "seed", "wall_s", "concurrency", "trials", "peak_worker_mb")
HISTORY_COLUMNS = ("name", "seed", "trial_id", "epoch", "elapsed_s", "time_total_s")
TOLERANCE = 0.005  # "within half a point" of accuracy
TUNELAB_TOOL = "tunelab"

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


# --- verdicts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: what was measured against what was aimed for."""

    goal: str
    measured: float       # the ratio or value (median over seeds); inf: never reached; NaN: not measured
    threshold: float
    below: bool           # met when measured <= threshold (else >=)
    detail: str = ""
    source: str = ""      # where a number this study did not measure comes from, and its date

    @property
    def met(self) -> bool | None:
        if not math.isfinite(self.threshold) or math.isnan(self.measured):
            return None
        return self.measured <= self.threshold if self.below else self.measured >= self.threshold


@dataclass(frozen=True)
class Claim:
    """A course claim and what the numbers say: confirmed, not confirmed, or within the spread across seeds."""

    claim: str
    verdict: str
    evidence: str


def _per_seed(measured: pd.DataFrame, name: str, column: str) -> pd.Series:
    rows = measured[measured["name"] == name]
    return pd.Series(rows[column].astype("float64").to_numpy(), index=rows["seed"].to_numpy())


def _median(values: pd.Series) -> float:
    values = values.dropna()
    return float(np.median(values)) if not values.empty else math.nan


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Per-seed ratio; inf where the numerator never happened (a target not reached)."""
    joined = pd.concat([numerator.rename("a"), denominator.rename("b")], axis=1, join="inner")
    return joined["a"] / joined["b"]


def targets(measured: pd.DataFrame) -> list[Target]:
    """The issue's targets this study measures, each the median over seeds of a per-seed ratio.

    The overhead ones come from another run (benchmarks.overhead_targets), so they carry its date.
    """
    found = []
    names = list(dict.fromkeys(measured["name"]))
    tunelab = [n for n in names if measured.loc[measured["name"] == n, "tool"].iloc[0] == TUNELAB_TOOL]
    if "kt_random" in names and tunelab:
        walls = _per_seed(measured, "kt_random", "wall_s")
        ratios = {name: _median(_ratio(_per_seed(measured, name, "time_to_target_s"), walls)) for name in tunelab}
        best = min(ratios, key=lambda n: ratios[n] if not math.isnan(ratios[n]) else math.inf)
        others = ", ".join(f"{n} {_fmt_ratio(r)}" for n, r in ratios.items())
        found.append(Target("time for tunelab's fastest strategy to reach KerasTuner RandomSearch's best "
                            "/ KerasTuner RandomSearch's wall time", ratios[best], 0.33, True,
                            f"fastest: {best}; all: {others}"))
    if "random" in names and "ray_random" in names:
        ratio = _median(_ratio(_per_seed(measured, "random", "wall_s"), _per_seed(measured, "ray_random", "wall_s")))
        found.append(Target("tunelab random / raw Ray Tune on the same trials, wall time", ratio, 1.05, True))
    if "random" in names:
        trial_s = _median(_per_seed(measured, "random", "trial_s"))
        found.append(Target("efficiency of tunelab random, Σ trial time / (wall × concurrency)",
                            _median(_per_seed(measured, "random", "efficiency")), 0.9, False,
                            f"trials of {trial_s:.1f} s (median); from the first trial's start to the last epoch "
                            f"(no Ray start-up): {_median(_per_seed(measured, 'random', 'busy_efficiency')):.2f}"))
    if "grid" in names:
        grid_epochs = _per_seed(measured, "grid", "epochs")
        for name in ("hyperband", "asha"):
            if name in names:
                ratio = _median(_ratio(_per_seed(measured, name, "epochs_to_grid"), grid_epochs))
                gap = _median(_per_seed(measured, "grid", "best") - _per_seed(measured, name, "best"))
                found.append(Target(f"{name}: epochs to come within {TOLERANCE * 100:.1f} points of grid's best "
                                    "/ grid's epochs", ratio, 0.10, True,
                                    f"grid's best minus {name}'s best: {gap * 100:+.2f} points (median)"))
    return found


def claims(measured: pd.DataFrame, history: pd.DataFrame, metric: str = "val_accuracy",
           mode: str = "max") -> list[Claim]:
    """The course's four claims, and two of tunelab's own (tpe, tpe+hyperband), judged on the tunelab
    strategies of this study.

    - grid is wasteful: confirmed when another strategy comes within TOLERANCE of grid's best
      with at most half of grid's epochs (median over seeds of the per-seed ratio);
    - random helps, bayes and tpe beat grid and random, tpe+hyperband beats hyperband: compared
      on the median best; confirmed or not when the margin exceeds half the largest min-max spread
      across seeds, else inconclusive;
    - Hyperband 10-20x faster than bayes: per seed, bayes' time over Hyperband's time to the lower
      of their two bests (less TOLERANCE); confirmed at a median of 10x or more.
    """
    names = set(measured["name"])
    found = []

    def best(name: str) -> pd.Series:
        return _per_seed(measured, name, "best")

    def spread(*series: pd.Series) -> float:
        return max(float(s.max() - s.min()) for s in series)

    if "grid" in names:
        grid_epochs = _per_seed(measured, "grid", "epochs")
        cheaper = {}
        for name in ("random", "bayes", "tpe", "sha", "hyperband", "asha", "tpe+hyperband", "bayes+asha", "pbt"):
            if name in names:
                cheaper[name] = _median(_ratio(_per_seed(measured, name, "epochs_to_grid"), grid_epochs))
        fastest = min(cheaper, key=lambda n: cheaper[n]) if cheaper else None
        ratio = cheaper.get(fastest, math.inf) if fastest else math.nan
        verdict = "confirmed" if ratio <= 0.5 else "not confirmed"
        found.append(Claim(
            "Grid search is exhaustive but wasteful", verdict,
            f"grid trained {_median(grid_epochs):.0f} epochs for a best {metric} of {_median(best('grid')):.4f}; "
            + (f"{fastest} came within {TOLERANCE * 100:.1f} points of it after {ratio:.2f}x grid's epochs"
               if fastest and math.isfinite(ratio) else
               f"no other strategy came within {TOLERANCE * 100:.1f} points of it" if fastest else
               "no other strategy ran")))
    for claim, name, rivals in (
        ("Random search helps in large spaces", "random", ("grid",)),
        ("Bayesian optimization beats grid and random", "bayes", ("grid", "random")),
        ("TPE beats grid and random", "tpe", ("grid", "random")),
        ("Model-based Hyperband (TPE learning from every rung) beats Hyperband", "tpe+hyperband", ("hyperband",)),
    ):
        if name not in names or not set(rivals) <= names:
            continue
        mine = _median(best(name))
        theirs = {rival: _median(best(rival)) for rival in rivals}
        noise = spread(best(name), *(best(r) for r in rivals))
        margin = min(mine - value for value in theirs.values())
        if margin > 0 and margin > noise / 2:
            verdict = "confirmed"
        elif margin < 0 and -margin > noise / 2:
            verdict = "not confirmed"
        else:
            verdict = "inconclusive (within the spread across seeds)"
        versus = ", ".join(f"{rival} {value:.4f}" for rival, value in theirs.items())
        found.append(Claim(claim, verdict, f"median best {metric}: {name} {mine:.4f} vs {versus}; "
                                           f"largest spread across seeds {noise * 100:.2f} points"))
    if {"bayes", "hyperband"} <= names:
        ratios = []
        for seed in sorted(set(measured["seed"])):
            bayes_s, hyperband_s = _time_to_common_best(history, ("bayes", "hyperband"), seed, metric, mode)
            ratios.append(bayes_s / hyperband_s if hyperband_s else math.nan)
        speedup = _median(pd.Series(ratios, dtype="float64"))
        verdict = "confirmed" if speedup >= 10 else "not confirmed"
        found.append(Claim(
            "Hyperband can be 10-20x faster than Bayesian optimization", verdict,
            f"time to reach the lower of the two bests (less {TOLERANCE * 100:.1f} points), bayes / hyperband: "
            f"{speedup:.2f}x (median over seeds); wall time at equal epoch budgets, bayes / hyperband: "
            f"{_median(_ratio(_per_seed(measured, 'bayes', 'wall_s'), _per_seed(measured, 'hyperband', 'wall_s'))):.2f}"
            "x"))
    return found


def _time_to_common_best(history: pd.DataFrame, names: tuple[str, str], seed: int, metric: str,
                         mode: str) -> tuple[float, float]:
    """Each run's seconds to the lower of the two runs' bests (less TOLERANCE), for one seed."""
    rows = [history[(history["name"] == name) & (history["seed"] == seed)] for name in names]
    if any(r.empty for r in rows):
        return math.nan, math.nan
    bests = [best_value(r[metric], mode) for r in rows]
    target = max(bests) + TOLERANCE if mode == "min" else min(bests) - TOLERANCE
    first, second = (time_to_target(r, metric, mode, target)[0] for r in rows)
    return first, second


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


def markdown_targets(found: list[Target]) -> str:
    lines = ["| target | measured | aimed for | met | notes |", "|---|---|---|---|---|"]
    for target in found:
        met = {True: "yes", False: "**no**", None: "–"}[target.met]
        aim = f"{'≤' if target.below else '≥'} {target.threshold:g}"
        measured = "not measured" if _unknown(target.measured) else _fmt_ratio(target.measured)
        measured += f" ({target.source})" if target.source else ""
        lines.append(f"| {target.goal} | {measured} | {aim} | {met} | {target.detail} |")
    return "\n".join(lines)


def markdown_claims(found: list[Claim]) -> str:
    lines = ["| course claim | verdict | evidence |", "|---|---|---|"]
    lines += [f"| {c.claim} | {c.verdict} | {c.evidence} |" for c in found]
    return "\n".join(lines)


def _unknown(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt_ratio(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.3g}"


# --- best so far, with bands across seeds -----------------------------------------------------------


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
