"""A run folder's one owner: the name of every file tunelab and Ray write there, whether storage is a
URI, and the readers every layer shares: tunelab's JSON-lines files (a crash can cut a line short),
Ray's experiment state, and the driver's lock.

No Ray here: analysis reads run folders without it. Ray's file names and the shape of its state are
Ray's private format, checked by the canaries in tests/experiments/run/test_ray_internals.py. A
checkpoint's own files are named in `tunelab.trainables.checkpoints`.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

# tunelab's files, at the top of the run folder
SPEC_FILE = "tunelab_experiment.yaml"       # the experiment as run: metric, mode, strategy, space
EVENTS_FILE = "tunelab_trial_events.jsonl"  # why each trial ended: scheduler decisions and outcomes
LOCK_FILE = "tunelab.lock"                  # the driver that writes the folder (host, pid, heartbeat)
DRIVER_LOG = "tunelab_driver.log"           # Ray's console output, kept off the user's terminal
TEST_FILE = "tunelab_test.json"             # the best checkpoint's score on the test part: {trial_id, epoch, metrics}

# in each trial's folder
TRIAL_PREFIX = "trial_"                     # trial_<trial id>/
HISTORY_FILE = "tunelab_history.jsonl"      # tunelab's per-epoch record, appended by the driver
RESULT_FILE = "result.json"                 # Ray's per-epoch record, copied to storage with its snapshots
PROGRESS_FILE = "progress.csv"              # the same, as CSV
PARAMS_FILE = "params.json"                 # the trial's configuration: by tunelab when it starts, by Ray at its snapshots
TRIAL_LOG = "trial.log"                     # what the trial printed, and the traceback that ended it
GPUS_FILE = "tunelab_gpus.json"             # the GPUs a trial ran on: {"gpus": [{index, visible_as, name, memory_limit_mb}]}
SET_ASIDE_PREFIX = ".unrecorded-"          # .unrecorded-WHAT-TIME/: what a resume moved out of analysis' way
DONOR_CHECKPOINT = "pbt_donor"             # pbt_donor-epochN-ID/: PBT's copy of the checkpoint a trial took over
ERROR_FILE = "error.txt"                    # Ray's: the traceback of a trial's last failure

# Ray's files at the top of the run folder (names carry a sortable timestamp; the newest is restored)
RAY_TUNER_FILE = "tuner.pkl"                          # written the moment a run starts
RAY_STATE_PREFIX, RAY_STATE_SUFFIX = "experiment_state-", ".json"  # TuneController.CKPT_FILE_TMPL
RAY_STATE_PATTERN = f"{RAY_STATE_PREFIX}*{RAY_STATE_SUFFIX}"       # every trial's status, folder and config
RAY_SEARCH_STATE_PATTERN = "search_gen_state-*.json"  # SearchGenerator.CKPT_FILE_TMPL (cloudpickled)
RAY_SEARCHER_STATE_PATTERN = "searcher-state-*.pkl"   # Searcher.CKPT_FILE_TMPL
RAY_SESSION_FILES = (RAY_TUNER_FILE, "searcher-state-*", "search_gen_state-*")  # with any temporary copies
RAY_FINISHED, RAY_UNFINISHED = "TERMINATED", ("PENDING", "RUNNING", "PAUSED")

LOCK_STALE_S = 60.0  # another host's lock whose heartbeat is older belongs to a driver that is gone


def is_uri(storage: str) -> bool:
    """Whether `storage` (or a run path in it) is a URI (s3://, gs://): no local files, no lock, no appends."""
    return "://" in storage


def trial_folder_name(trial_id: str) -> str:
    return f"{TRIAL_PREFIX}{trial_id}"


def read_json_lines(path: Path) -> tuple[list[dict], int]:
    """The JSON-object lines of `path` that parse, and how many did not (a crash cuts the last one short).

    A missing or unreadable file reads as empty.
    """
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return [], 0
    found, cut = [], 0
    for line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            cut += 1
            continue
        if isinstance(value, dict):
            found.append(value)
    return found, cut


def read_json(path: Path) -> dict:
    """A JSON object file (params.json); {} when missing or damaged."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def result_config(trial_folder: Path) -> dict:
    """The configuration Ray logs with each of a trial's results (result.json): the trial's own when its
    params.json is lost; {} when no result holds one."""
    for result in read_json_lines(trial_folder / RESULT_FILE)[0]:
        if isinstance(result.get("config"), dict):
            return result["config"]
    return {}


def read_test_score(run_folder: Path) -> dict[str, Any] | None:
    """The run's test score, {"trial_id", "epoch", "metrics": {name: value}}; None when it has none (no test part,
    not scored yet, or a damaged file)."""
    score = read_json(run_folder / TEST_FILE)
    metrics = score.get("metrics")
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float)) for v in metrics.values()):
        return None
    return score if isinstance(score.get("trial_id"), str) and isinstance(score.get("epoch"), int) else None


def read_events(run_folder: Path, event: str | None = None) -> dict[str, list[dict]]:
    """trial_id -> its events (only `event`, if given) in the order written; "" holds the experiment's own."""
    events: dict[str, list[dict]] = {}
    for record in read_json_lines(run_folder / EVENTS_FILE)[0]:
        if isinstance(record.get("trial_id"), str) and (event is None or record.get("event") == event):
            events.setdefault(record["trial_id"], []).append(record)
    return events


def epochs_by_number(path: Path) -> list[dict]:
    """A per-epoch JSON-lines record, one report per epoch (the last of a repeated one), in epoch order."""
    by_epoch = {report["epoch"]: report for report in read_json_lines(path)[0] if isinstance(report.get("epoch"), int)}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def newest(folder: Path, pattern: str) -> Path | None:
    """The file of `pattern` Ray restores from: the greatest name (Ray's names carry a sortable timestamp)."""
    files = sorted(folder.glob(pattern))
    return files[-1] if files else None


def ray_state_stamp(state_file: Path) -> str:
    """The timestamp in an experiment state's name, which the searcher files of the same session share."""
    return state_file.name.removeprefix(RAY_STATE_PREFIX).removesuffix(RAY_STATE_SUFFIX)


def ray_trial_states(folder: Path, state_file: Path | None = None) -> dict[str, dict[str, Any]]:
    """trial_id -> status, folder ("dir"), config, failures, start time, error file and last epoch, from Ray's
    newest experiment state (or `state_file`); {} when there is none or it cannot be read (cut short, damaged)."""
    state_file = state_file or newest(folder, RAY_STATE_PATTERN)
    if state_file is None:
        return {}
    try:
        data = json.loads(state_file.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    states = {}
    for entry in data.get("trial_data", []) if isinstance(data, dict) else []:
        try:
            trial_json, run_json = entry
            trial = json.loads(trial_json) if isinstance(trial_json, str) else trial_json
            run = json.loads(run_json) if isinstance(run_json, str) else run_json
            states[trial["trial_id"]] = {
                "status": trial.get("status"),
                "dir": trial.get("relative_logdir"),
                "config": trial.get("config"),
                "num_failures": run.get("num_failures", 0),
                "start_time": run.get("start_time"),
                "error_filename": run.get("error_filename"),
                "epoch": (run.get("last_result") or {}).get("epoch"),  # the last one Ray recorded; None before one
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return states


def unfinished_trials(folder: Path) -> dict[str, str]:
    """trial_id -> trial folder name, for the trials Ray's newest snapshot holds as not yet finished."""
    return {trial_id: state["dir"] for trial_id, state in ray_trial_states(folder).items()
            if state["status"] in RAY_UNFINISHED}


def read_lock_holder(lock: Path) -> dict[str, Any] | None:
    """The lock's holder (host, pid, heartbeat), or None when the file is gone or written by no tunelab."""
    try:
        holder = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and {"host", "pid", "heartbeat"} <= set(holder) else None


def lock_holder_is_gone(holder: dict[str, Any], now: float | None = None) -> bool:
    """On this host, whether its process no longer runs (a stopped or busy driver keeps its run, however old
    its heartbeat: Ctrl+Z, a debugger); on another host, whether its heartbeat stopped a minute ago."""
    if holder["host"] != socket.gethostname():
        return (now or time.time()) - float(holder["heartbeat"]) > LOCK_STALE_S
    pid = int(holder["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user runs under that pid
        pass
    started = holder.get("started")  # its process's start: a pid reused by a later process is not the holder
    return started is not None and process_start(pid) not in (None, started)


def process_start(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (Linux's /proc); None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[19])  # starttime, the 22nd field of the whole line
    except (OSError, ValueError, IndexError):
        return None


def run_is_live(folder: Path) -> bool:
    """A live driver holds the run folder's lock: the run is still going and its files still grow."""
    holder = read_lock_holder(folder / LOCK_FILE)
    return holder is not None and not lock_holder_is_gone(holder)
