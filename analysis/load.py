"""Results directory -> pandas, without Ray: works on a laptop over results copied from a cluster.

Reads what Ray and tunelab wrote: each trial folder's params.json and result.json (one JSON
line per epoch), Ray's experiment_state-*.json for each trial's status and failures, and
tunelab_experiment.yaml for the metric and mode.
"""
from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

SPEC_FILE = "tunelab_experiment.yaml"
_RAY_KEYS = {
    "timestamp", "checkpoint_dir_name", "should_checkpoint", "done", "training_iteration", "trial_id",
    "date", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config",
    "time_since_restore", "iterations_since_restore", "experiment_tag",
}


_TRIAL_COLUMNS = ("experiment", "trial_id", "status", "epochs", "wall_s", "start", "end", "failures", "error", "path")


class ResultsError(ValueError):
    """The path is not a results directory tunelab can read."""


@dataclass(frozen=True)
class Results:
    """`trials`: one row per trial; `history`: one row per trial and reported epoch."""

    trials: pd.DataFrame
    history: pd.DataFrame
    params: tuple[str, ...]    # hyperparameter column names
    metrics: tuple[str, ...]   # metric names reported by the trainable
    metric: str | None         # the experiment's objective, from its spec
    mode: str | None


def load(paths: str | Path | Iterable[str | Path]) -> Results:
    """Loads one experiment folder, or several (column `experiment` tells them apart)."""
    folders = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not folders:
        raise ResultsError("no results directory given")
    parts = [_load_one(folder) for folder in folders]
    trials = pd.concat([p[0] for p in parts], ignore_index=True)
    history = pd.concat([p[1] for p in parts], ignore_index=True)
    specs = [p[2] for p in parts]
    params = tuple(dict.fromkeys(name for p in parts for name in p[3]))
    metrics = tuple(dict.fromkeys(name for p in parts for name in p[4]))
    metric = specs[0].get("metric", "val_accuracy") if specs[0] else None
    mode = specs[0].get("mode", "max") if specs[0] else None
    return Results(trials, history, params, metrics, metric, mode)


def _load_one(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict, list[str], list[str]]:
    if not folder.is_dir():
        raise ResultsError(f"{folder}: not a directory")
    spec = yaml.safe_load((folder / SPEC_FILE).read_text()) if (folder / SPEC_FILE).exists() else {}
    states = _trial_states(folder)
    trial_dirs = sorted(p.parent for p in folder.glob("*/params.json"))
    if not trial_dirs:
        raise ResultsError(f"{folder}: no trial folders (*/params.json); is this an experiment directory?")
    experiment = folder.name
    rows, epochs = [], []
    params: list[str] = []
    metrics: list[str] = []
    for trial_dir in trial_dirs:
        config = json.loads((trial_dir / "params.json").read_text() or "{}")
        clashes = [key for key in config if key in _TRIAL_COLUMNS]
        if clashes:
            raise ResultsError(f"{trial_dir}: hyperparameter {clashes[0]!r} clashes with a results column")
        params.extend(k for k in config if k not in params)
        reports = _read_results(trial_dir / "result.json")
        trial_id = reports[-1].get("trial_id") if reports else trial_dir.name.removeprefix("trial_")
        for report in reports:
            values = {k: v for k, v in report.items() if k not in _RAY_KEYS and _is_number(v)}
            metrics.extend(k for k in values if k not in metrics and k != "epoch")
            epochs.append({"experiment": experiment, "trial_id": trial_id, **values,
                           "time_total_s": report.get("time_total_s"), "timestamp": report.get("timestamp")})
        state = states.get(trial_id, {})
        rows.append(_trial_row(experiment, trial_id, trial_dir, config, reports, state, spec))
    trials = pd.DataFrame(rows)
    history = pd.DataFrame(epochs)
    metrics = [m for m in metrics if m in history]
    for metric in metrics:
        grouped = history.groupby("trial_id")[metric]
        trials[f"{metric}_last"] = trials["trial_id"].map(grouped.last())
        best = grouped.min() if _minimize(metric, spec) else grouped.max()
        trials[f"{metric}_best"] = trials["trial_id"].map(best)
    return trials, history, spec, params, metrics


def _minimize(metric: str, spec: dict) -> bool:
    if spec.get("metric") == metric:
        return spec.get("mode", "max") == "min"
    return "loss" in metric or "error" in metric


def _trial_row(experiment: str, trial_id: str, trial_dir: Path, config: dict, reports: list[dict],
               state: dict, spec: dict) -> dict[str, Any]:
    timestamps = [r["timestamp"] for r in reports if "timestamp" in r]
    error_file = trial_dir / "error.txt"
    status = state.get("status") or ("ERROR" if error_file.exists() else ("TERMINATED" if reports else "PENDING"))
    return {
        "experiment": experiment,
        "trial_id": trial_id,
        "status": status,
        "epochs": max((r.get("epoch", r.get("training_iteration", 0)) for r in reports), default=0),
        "wall_s": reports[-1].get("time_total_s") if reports else None,
        "start": pd.to_datetime(min(timestamps) - (reports[0].get("time_this_iter_s") or 0), unit="s")
        if timestamps else pd.NaT,
        "end": pd.to_datetime(max(timestamps), unit="s") if timestamps else pd.NaT,
        "failures": state.get("num_failures", 0),
        "error": error_file.read_text().strip().splitlines()[-1] if error_file.exists() else None,
        "path": str(trial_dir),
        **config,
    }


def _read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    reports = []
    for line in path.read_text().splitlines():
        try:
            reports.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash mid-write
    return reports


def _trial_states(folder: Path) -> dict[str, dict]:
    """trial_id -> {status, num_failures} from Ray's newest experiment state file."""
    files = sorted(glob.glob(str(folder / "experiment_state-*.json")))
    if not files:
        return {}
    try:
        data = json.loads(Path(files[-1]).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    states = {}
    for trial_json, run_json in data.get("trial_data", []):
        trial = json.loads(trial_json)
        run = json.loads(run_json) if isinstance(run_json, str) else run_json
        states[trial["trial_id"]] = {"status": trial.get("status"), "num_failures": run.get("num_failures", 0)}
    return states


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
