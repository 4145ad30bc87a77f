"""The study's files: the frames it measured, and the report computed from them (benchmarks.compare,
benchmarks.verdicts, benchmarks.best_so_far).

Written by `run_study` at the end, and again by `scripts/benchmark.py render` from the CSVs
alone (after a change to the metrics, or with the overhead numbers measured later).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.best_so_far import best_so_far_bands, render_best_so_far_bands
from benchmarks.compare import aggregate, markdown_table, measure
from benchmarks.overhead_targets import overhead_targets
from benchmarks.verdicts import claims, markdown_claims, markdown_targets, targets
from tunelab.analysis.plots import save_png

RUNS_FILE = "study_runs.csv"          # one row per search, as measured
HISTORY_FILE = "study_history.csv"    # one row per trained epoch
META_FILE = "study_meta.json"         # machine, task, entries, seeds, failures
MEASURED_FILE = "study.csv"           # runs plus benchmarks.compare's metrics
REPORT_FILE = "study.md"
OVERHEAD_FILE = "overhead.json"       # scripts/benchmark.py overhead writes it
PLOTS = {"epochs": "best_so_far_epochs.png", "wall": "best_so_far_wall.png"}


def load_study(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The frames and metadata a study wrote; FileNotFoundError names what is missing."""
    for name in (RUNS_FILE, HISTORY_FILE, META_FILE):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name}: missing; run `scripts/benchmark.py study --out {folder}` first")
    runs = pd.read_csv(folder / RUNS_FILE)
    history = pd.read_csv(folder / HISTORY_FILE, dtype={"trial_id": str})
    return runs, history, json.loads((folder / META_FILE).read_text())


def write_report(folder: Path, runs: pd.DataFrame, history: pd.DataFrame, meta: dict[str, Any]) -> list[Path]:
    """study.csv, study.md and the two best-so-far plots; the overhead targets from overhead.json, dated."""
    task = meta["task"]
    metric, mode = task["metric"], task["mode"]
    overhead = json.loads((folder / OVERHEAD_FILE).read_text()) if (folder / OVERHEAD_FILE).exists() else None
    measured = measure(runs, history, metric, mode)
    measured.to_csv(folder / MEASURED_FILE, index=False)
    written = [folder / MEASURED_FILE]
    for axis, file in PLOTS.items():
        figure = render_best_so_far_bands(best_so_far_bands(history, runs, metric, mode, axis))
        written.append(save_png(figure, folder / file))
    text = study_markdown(meta, measured, history, overhead)
    (folder / REPORT_FILE).write_text(text)
    written.append(folder / REPORT_FILE)
    return written


def study_markdown(meta: dict[str, Any], measured: pd.DataFrame, history: pd.DataFrame,
                   overhead: dict[str, Any] | None) -> str:
    from benchmarks.machine import summary_line

    task = meta["task"]
    metric, mode = task["metric"], task["mode"]
    seeds = meta["seeds"]
    machine = meta["machine"]
    summary = aggregate(measured)
    lines = [
        f"# Strategy study{' (' + meta['label'] + ')' if meta.get('label') else ''}",
        "",
        f"Machine: {summary_line(machine)}. Load average (1 min) {machine['load_average_1min']} at the start"
        + (f", {meta['load_average_1min_end']} at the end" if "load_average_1min_end" in meta else "")
        + (f"; the study took {meta['study_s'] / 60:.1f} min." if "study_s" in meta else "."),
        "",
        "## Task",
        "",
        *_task_lines(meta),
        "",
        f"## Results: median (min–max) over {len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
        f"({', '.join(map(str, seeds))})",
        "",
        markdown_table(summary, metric),
        "",
        *_glossary(metric),
        "",
        "![best so far against epochs](best_so_far_epochs.png)",
        "",
        "![best so far against wall time](best_so_far_wall.png)",
        "",
        "## Targets",
        "",
        markdown_targets(targets(measured) + overhead_targets(overhead, machine)),
        "",
        "The overhead rows are not measured by this study: each says which run it comes from and when.",
        "",
        "## Course claims",
        "",
        markdown_claims(claims(measured, history, metric, mode))
        if "grid" in set(measured["name"]) else "No claim can be judged without the grid baseline.",
    ]
    if meta.get("failures"):
        lines += ["", "## Failed runs", ""]
        lines += [f"- {f['name']} seed {f['seed']}: {f['error'].splitlines()[0]}" for f in meta["failures"]]
    return "\n".join(lines) + "\n"


def _task_lines(meta: dict[str, Any]) -> list[str]:
    task = meta["task"]
    from benchmarks.task import StudyTask

    study = StudyTask(**task)
    space = study.searched_space()
    free = [name for name, param in space.items() if type(param).__name__ != "Fixed"]
    grid_free = [name for name, param in study.grid_space().items() if type(param).__name__ != "Fixed"]
    lines = [
        f"- Data: {task['data']} (validation 20%, split and initial weights seeded by the run's seed); "
        f"metric: {task['metric']} ({task['mode']}).",
        f"- Space: the `{task['space']}` catalog space with {_pins(task['fix'])} pinned; "
        f"{len(free)} hyperparameters searched: {', '.join(free)}.",
        f"- Grid baseline: the same space with {_pins(task['grid_fix'])} also pinned; it enumerates "
        f"{', '.join(grid_free)} at their grid values: {meta['grid_trials']} configurations.",
        f"- Budget: {task['epochs']} epochs (batches of {task['batch_size']}) per complete trial, "
        f"{meta['budget_epochs']} epochs per search (the grid's); each search's trial count is sized to it, and "
        "the epochs it really trained are measured.",
        f"- Concurrency: tunelab and raw Ray Tune run {task['concurrency']} trials at once, 1 CPU each, on a fresh "
        "local Ray per search" + (f"; KerasTuner trains one trial at a time in its own process with "
                                  f"{task['concurrency']} TensorFlow threads." if any(
                                      entry["tool"] == "kerastuner" for entry in meta["entries"]) else "."),
        *(f"- Left out: {note}." for note in meta.get("notes", ())),
        "",
        "| entry | tool | what runs | planned epochs |",
        "|---|---|---|---|",
    ]
    for entry in meta["entries"]:
        options = ", ".join(f"{k}: {_short(v)}" for k, v in entry["options"].items())
        lines.append(f"| {entry['name']} | {entry['tool']} | {entry['strategy']} ({options or 'every grid point'}) "
                     f"| {entry['planned_epochs']} |")
    return lines


def _glossary(metric: str) -> list[str]:
    return [
        "Wall time runs from the call that starts a search (Ray start-up, or the KerasTuner process's start, and "
        "TensorFlow's import included) to its end. *Target*: the best "
        f"{metric} KerasTuner RandomSearch found with the same seed; *s/epochs to target*: when a search's first "
        "epoch reached it ([k/n]: reached in k of n seeds). *Efficiency*: Σ trial training time / (wall × "
        "concurrent trials); *busy efficiency* counts from the first trial's start to the last epoch instead of "
        "the whole wall time. *Peak worker MB*: the largest resident memory of one Ray worker process (of the "
        "KerasTuner process, which also holds the tuner)."
    ]


def _pins(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} = {value}" for name, value in values.items()) or "nothing"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)
