"""The strategy study: every entry with every seed, one search at a time, each on a fresh Ray or process.

Runs go seed by seed (all entries for seed 0, then seed 1, ...), so a slow spell of a shared
machine spreads over every entry rather than hitting one. After each run its row and epochs
are written out, so an interrupted study keeps what it measured; the report comes at the end
(or from `scripts/benchmark.py render`).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from benchmarks.compare import HISTORY_COLUMNS, RUN_COLUMNS
from benchmarks.kt_search import run_kerastuner
from benchmarks.machine import describe_machine
from benchmarks.ray_search import run_raw_ray
from benchmarks.record import RunRecord
from benchmarks.report import HISTORY_FILE, META_FILE, RUNS_FILE, write_report
from benchmarks.task import KERASTUNER, RAY, TUNELAB, Entry, StudyTask
from benchmarks.tunelab_search import run_tunelab
from tunelab.core.checks import did_you_mean

RUNNERS: dict[str, Callable[[StudyTask, Entry, int, str], RunRecord]] = {
    TUNELAB: run_tunelab, RAY: run_raw_ray, KERASTUNER: run_kerastuner,
}


@dataclass(frozen=True)
class RunDone:
    """Progress: one search finished (record) or failed (error)."""

    index: int
    total: int
    entry: Entry
    seed: int
    record: RunRecord | None
    error: str | None
    elapsed_s: float  # since the study started


def select(candidates: Sequence[Entry], only: Sequence[str] = (), leave_out: Sequence[str] = ()) -> list[Entry]:
    """The candidates named in `only` (ValueError for an unknown name), or all but those in `leave_out`."""
    names = [entry.name for entry in candidates]
    for name in only:
        if name not in names:
            raise ValueError(f"--only: {name!r} is not a study entry; allowed: {', '.join(names)}"
                             + did_you_mean(name, names))
    return [entry for entry in candidates if entry.name in only or not only and entry.name not in leave_out]


def kerastuner_missing(chosen: Sequence[Entry]) -> bool:
    """True when an entry needs keras-tuner (the `benchmark` extra) and it is not installed."""
    needed = any(entry.tool == KERASTUNER for entry in chosen)
    return needed and importlib.util.find_spec("keras_tuner") is None


def run_study(task: StudyTask, chosen: Sequence[Entry], seeds: Sequence[int], out: Path, work: Path, *,
              label: str = "", notes: Sequence[str] = (), keep_results: bool = False,
              on_run: Callable[[RunDone], None] | None = None) -> list[RunRecord]:
    """Runs every chosen entry for every seed; writes the frames after each run and the report at the end.

    `notes` (an entry left out, and why) go into the report with the task.
    """
    out.mkdir(parents=True, exist_ok=True)
    work = work / f"study-{time.strftime('%Y%m%d-%H%M%S')}"  # a rerun with the same --work starts afresh
    work.mkdir(parents=True, exist_ok=True)
    meta = {"label": label, "machine": describe_machine(), "task": task.as_dict(), "seeds": list(seeds),
            "budget_epochs": task.budget, "grid_trials": task.grid_trials,
            "entries": [{**dataclasses.asdict(entry), "options": dict(entry.options)} for entry in chosen],
            "notes": list(notes), "failures": []}
    records: list[RunRecord] = []
    began, total, index = time.monotonic(), len(chosen) * len(seeds), 0
    for seed in seeds:
        for entry in chosen:
            index += 1
            record, error = None, None
            try:
                record = RUNNERS[entry.tool](task, entry, seed, str(work / entry.tool))
            except Exception as failure:  # one failed search must not lose the others
                error = f"{type(failure).__name__}: {failure}"
                meta["failures"].append({"name": entry.name, "seed": seed, "error": error})
            if record is not None:
                records.append(record)
                if record.path and not keep_results:
                    shutil.rmtree(record.path, ignore_errors=True)
            _write_frames(out, records, meta)
            if on_run:
                on_run(RunDone(index, total, entry, seed, record, error, time.monotonic() - began))
    meta["study_s"] = time.monotonic() - began
    meta["load_average_1min_end"] = describe_machine()["load_average_1min"]
    runs, history = _write_frames(out, records, meta)
    if records:
        write_report(out, runs, history, meta)
    return records


def _write_frames(out: Path, records: list[RunRecord], meta: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.DataFrame([record.row() for record in records], columns=list(RUN_COLUMNS))
    frames = [record.history for record in records if not record.history.empty]
    history = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(HISTORY_COLUMNS))
    runs.to_csv(out / RUNS_FILE, index=False)
    history.to_csv(out / HISTORY_FILE, index=False)
    (out / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return runs, history
