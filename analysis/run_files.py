"""The files of a run folder, each read so that a damaged or missing one gives nothing, never a crash.

Every file's name, Ray's experiment state and the driver's lock are read through
`tunelab.core.run_folder`; analysis.load assembles the frames from what these and it return.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tunelab.core.run_folder import ERROR_FILE, GPUS_FILE, SPEC_FILE, read_json


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
    candidates = [trial_dir / ERROR_FILE] if trial_dir else []
    if trial_dir and state.get("error_filename"):
        candidates.insert(0, trial_dir / state["error_filename"])
    for path in candidates:
        if path.is_file():
            lines = [line for line in path.read_text(errors="replace").strip().splitlines() if line.strip()]
            return lines[-1].strip() if lines else "error"
    return None


def gpus_line(trial_dir: Path | None) -> str | None:
    """The GPUs a trial ran on, `0: NVIDIA H100 80GB HBM3 (limit 40,360 MB); 1: ...`; None: none, or not recorded."""
    gpus = read_json(trial_dir / GPUS_FILE).get("gpus") if trial_dir else None
    if not isinstance(gpus, list) or not gpus:
        return None
    shown = []
    for gpu in gpus:
        if isinstance(gpu, dict):
            limit = gpu.get("memory_limit_mb")
            shown.append(f"{gpu.get('index')}: {gpu.get('name')}" + (f" (limit {limit:,} MB)" if limit else ""))
    return "; ".join(shown) or None
