"""The files of a run folder, each read so that a damaged or missing one gives nothing, never a crash.

Ray writes params.json, result.json and experiment_state-*.json; tunelab writes the spec, the
event log, the per-epoch history and the driver's lock (their names: `tunelab.run_folder`).
analysis.load assembles the frames from what these return.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tunelab.experiments.run_lock import holder_is_gone, read_holder
from tunelab.run_folder import LOCK_FILE, SPEC_FILE


def run_is_live(folder: Path) -> bool:
    """A live driver holds the run folder's lock: the run is still going and its files still grow."""
    holder = read_holder(folder / LOCK_FILE)
    return holder is not None and not holder_is_gone(holder)


def read_spec(folder: Path) -> dict[str, Any]:
    """tunelab_experiment.yaml as run; {} when the folder has none or it cannot be read."""
    path = folder / SPEC_FILE
    if not path.exists():
        return {}
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return {}
    return spec if isinstance(spec, dict) else {}


def error_line(trial_dir: Path | None, state: dict) -> str | None:
    """The last line of a failed trial's error file, e.g. `NonFiniteLossError: loss became nan at epoch 3`."""
    candidates = [trial_dir / "error.txt"] if trial_dir else []
    if trial_dir and state.get("error_filename"):
        candidates.insert(0, trial_dir / state["error_filename"])
    for path in candidates:
        if path.is_file():
            lines = [line for line in path.read_text(errors="replace").strip().splitlines() if line.strip()]
            return lines[-1].strip() if lines else "error"
    return None


def read_json(path: Path) -> dict:
    """A JSON object file (params.json); {} when missing or damaged."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def trial_states(folder: Path, state_file: Path | None = None) -> dict[str, dict]:
    """trial_id -> status, failures, start time, folder, config and last epoch, from Ray's newest experiment state
    (or from `state_file`)."""
    files = [state_file] if state_file else sorted(folder.glob("experiment_state-*.json"))
    if not files:
        return {}
    try:
        data = json.loads(files[-1].read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    states = {}
    for entry in data.get("trial_data", []):
        try:
            trial_json, run_json = entry
            trial = json.loads(trial_json) if isinstance(trial_json, str) else trial_json
            run = json.loads(run_json) if isinstance(run_json, str) else run_json
        except (ValueError, TypeError):
            continue
        states[trial["trial_id"]] = {
            "status": trial.get("status"),
            "dir": trial.get("relative_logdir"),
            "config": trial.get("config"),
            "num_failures": run.get("num_failures", 0),
            "start_time": run.get("start_time"),
            "error_filename": run.get("error_filename"),
            "epoch": (run.get("last_result") or {}).get("epoch"),  # the last one Ray recorded; None before one
        }
    return states
