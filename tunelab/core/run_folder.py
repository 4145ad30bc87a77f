"""A run folder's layout: the name of every file tunelab and Ray write there, and the one reader of
tunelab's JSON-lines files, which a crash can leave with a line cut short.

No Ray here: analysis reads run folders without it. A checkpoint's own files are named in
`tunelab.trainables.checkpoint_files`.
"""
from __future__ import annotations

import json
from pathlib import Path

# tunelab's files, at the top of the run folder
SPEC_FILE = "tunelab_experiment.yaml"       # the experiment as run: metric, mode, strategy, space
EVENTS_FILE = "tunelab_trial_events.jsonl"  # why each trial ended: scheduler decisions and outcomes
LOCK_FILE = "tunelab.lock"                  # the driver that writes the folder (host, pid, heartbeat)
DRIVER_LOG = "tunelab_driver.log"           # Ray's console output, kept off the user's terminal

# in each trial's folder
TRIAL_PREFIX = "trial_"                     # trial_<trial id>/
HISTORY_FILE = "tunelab_history.jsonl"      # tunelab's per-epoch record, appended by the driver
RESULT_FILE = "result.json"                 # Ray's per-epoch record, copied to storage with its snapshots
PROGRESS_FILE = "progress.csv"              # the same, as CSV
PARAMS_FILE = "params.json"                 # the trial's configuration: by tunelab when it starts, by Ray at its snapshots
TRIAL_LOG = "trial.log"                     # what the trial printed, and the traceback that ended it
DONOR_CHECKPOINT = "pbt_donor"             # pbt_donor-epochN-ID/: PBT's copy of the checkpoint a trial took over


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
