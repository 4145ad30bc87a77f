"""A trial's per-epoch reports, from the most complete of its three records, with any damage named.

tunelab's tunelab_history.jsonl, Ray's result.json and Ray's progress.csv each hold a row per
reported epoch. A crash can cut a line short, a retry can lose lines of Ray's files, a copy can
lose a file. The reports come from the record with the most epochs (the most trusted one on a
tie), and a record that was cut short, or a more trusted one that was passed over, is said, so a
best value is never silently wrong. `epoch_end_times` dates each report finer than Ray's stamps.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunelab.core.run_folder import HISTORY_FILE, PROGRESS_FILE, RESULT_FILE, read_json_lines

SOURCES = (HISTORY_FILE, RESULT_FILE, PROGRESS_FILE)  # most trusted first


@dataclass(frozen=True)
class TrialHistory:
    reports: list[dict[str, Any]]
    source: str | None         # the file the reports come from; None when the trial reported nothing yet
    damage: tuple[str, ...]    # e.g. "result.json: a line cut short; read progress.csv (6 epochs, not 2)"


def read_trial_history(trial_dir: Path, live: bool = False) -> TrialHistory:
    """The reports of the record with the most epochs, and what was wrong with the others.

    `live`: the trial still runs, so a last line cut short is one being written, not damage.
    """
    found: dict[str, tuple[list[dict], int]] = {}
    for name in SOURCES:
        path = trial_dir / name
        if path.is_file():
            found[name] = _read_csv(path) if name.endswith(".csv") else read_json_lines(path)
    if not found:
        return TrialHistory([], None, ())
    epochs = {name: _epochs(reports) for name, (reports, _) in found.items()}
    best = max(found, key=lambda name: (len(epochs[name]), -SOURCES.index(name)))
    damage = []
    for name in SOURCES[:SOURCES.index(best) + 1]:
        if name not in found:
            continue
        cut = 0 if live else found[name][1]
        problem = f"{cut} line{'s' if cut > 1 else ''} cut short" if cut else ""
        if name != best:
            problem = (f"{problem}; " if problem else "") + (
                f"{len(epochs[name])} epochs; read {best} ({len(epochs[best])} epochs)")
        if problem:
            damage.append(f"{name}: {problem}")
    return TrialHistory(found[best][0], best, tuple(damage))


def epoch_end_times(frame: pd.DataFrame) -> np.ndarray:
    """Wall-clock end of each epoch, to well under Ray's one-second `timestamp` resolution.

    Within one uninterrupted run of a trial (a segment: it restarts after a pause or a retry),
    every epoch bounds the segment's start: it lies in [timestamp, timestamp + 1) minus
    time_since_restore. The middle of the tightest bounds, plus time_since_restore, dates each epoch.
    """
    if "timestamp" not in frame:
        return np.full(len(frame), np.nan)
    stamps = frame["timestamp"].to_numpy(dtype="float64")
    if "time_since_restore" not in frame:
        return stamps
    since = frame["time_since_restore"].to_numpy(dtype="float64")
    trials = frame["trial_id"].to_numpy()
    new_segment = np.r_[True, (np.diff(since) <= 0) | (trials[1:] != trials[:-1])]
    if "pid" in frame:
        pids = frame["pid"].to_numpy()
        new_segment |= np.r_[True, pids[1:] != pids[:-1]]
    segment = np.cumsum(new_segment)
    by_segment = pd.Series(stamps - since).groupby(segment)
    lower, upper = by_segment.transform("max").to_numpy(), by_segment.transform("min").to_numpy() + 1.0
    exact = (lower + np.maximum(lower, upper)) / 2 + since
    return np.where(np.isnan(exact), stamps, exact)


def _epochs(reports: list[dict]) -> set:
    return {report.get("epoch", report.get("training_iteration")) for report in reports} - {None}


def _read_csv(path: Path) -> tuple[list[dict], int]:
    """Ray's progress.csv rows with numbers parsed; a row with fields missing counts as cut short."""
    try:
        with path.open(newline="", errors="replace") as file:
            rows = list(csv.DictReader(file))
    except (OSError, csv.Error):
        return [], 0
    reports, cut = [], 0
    for row in rows:
        if None in row.values() or None in row:
            cut += 1
            continue
        reports.append({key: _value(text) for key, text in row.items()})
    return reports, cut


def _value(text: str) -> Any:
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "": None}.get(text, text)
