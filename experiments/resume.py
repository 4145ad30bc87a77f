"""What a --resume finds in a run folder: Ray's state to restore, a start Ray never recorded, or a
finished run.

Ray writes tuner.pkl the moment a run starts and its experiment state only later: a driver killed
in between leaves a folder Ray "can restore" into a one-trial run (Ray falls back to a new run
with one sample). tunelab's own record, the experiment file with the plan, is written first, so a
folder without Ray's state restarts the plan in place instead; trial folders of that start, which
no state records, are set aside rather than mixed into the results.
"""
from __future__ import annotations

import datetime
import json
import logging
from pathlib import Path
from typing import Any

from tunelab.analysis.run_files import EVENTS_FILE, HISTORY_FILE, read_json, trial_events, trial_states
from tunelab.experiments.ray_internals import Completion, carry_completions, unfinished_trials

RESTORE, RESTART, COMPLETE = "restore", "restart", "complete"


def resume_kind(run_path: str, planned_trials: int) -> str:
    """RESTORE Ray's state, RESTART the plan (no state was saved), or COMPLETE (nothing left to run)."""
    if "://" in run_path:
        return RESTORE  # URI storage: Ray's own check decides
    folder = Path(run_path)
    if not any(folder.glob("experiment_state-*.json")):
        return RESTART
    states = trial_states(folder)
    finished = [state for state in states.values() if state.get("status") == "TERMINATED"]
    return COMPLETE if len(finished) >= planned_trials and len(finished) == len(states) else RESTORE


def set_aside_unrecorded_start(run_path: str) -> Path | None:
    """Moves the trial folders and Ray files of a start Ray never recorded into a dot-folder analysis skips."""
    folder = Path(run_path)
    return _set_aside(folder, [*folder.glob("trial_*"), *folder.glob("tuner.pkl"), *folder.glob("searcher-state-*"),
                               *folder.glob("search_gen_state-*")], "start")


def set_aside_unrecorded_trials(run_path: str) -> Path | None:
    """Trial folders made after Ray's last saved state: the restored searcher suggests them again.

    Folders an earlier state of the folder records (a KerasTuner search continued with more
    trials starts a new state file) and folders older than the newest state are kept.
    """
    if "://" in run_path:
        return None
    folder = Path(run_path)
    states = sorted(folder.glob("experiment_state-*.json"))
    if not states:
        return None
    recorded = {state.get("dir") for file in states for state in trial_states(folder, file).values()}
    newest = states[-1].stat().st_mtime
    unrecorded = [path for path in folder.glob("trial_*")
                  if path.name not in recorded and path.stat().st_mtime >= newest - 1]
    return _set_aside(folder, unrecorded, "trials")


def carry_recorded_completions(run_path: str, searcher: Any) -> list[str]:
    """Trials tunelab saw finish after Ray's last snapshot are marked finished in it, not trained again.

    Ray snapshots its state every ten seconds or more, and copies a trial's result.json to the run
    folder with it; a driver killed in between leaves a finished trial recorded as running, and
    Ray's resume trains it again from its last saved checkpoint. tunelab's event log has the
    completion and its history every epoch, so the trial is marked finished with its last result
    and result.json gets the epochs the copy missed (progress.csv and TensorBoard files keep what
    was copied). Returns the ids carried over; none where the records disagree (Ray retrains).
    """
    if "://" in run_path:
        return []
    folder = Path(run_path)
    events = trial_events(folder / EVENTS_FILE)
    completions = []
    for trial_id, trial_folder in unfinished_trials(folder).items():
        completed = [event for event in events.get(trial_id, []) if event.get("event") == "completed"]
        history = _reports(folder / trial_folder / HISTORY_FILE)
        if completed and history and history[-1].get("epoch") == completed[-1].get("epoch"):
            config = read_json(folder / trial_folder / "params.json")
            completions.append(Completion(trial_id, trial_folder, {**history[-1], "config": config}))
    try:
        carry_completions(folder, completions, searcher)
    except (KeyError, ValueError, TypeError, OSError) as error:  # a Ray whose saved state reads differently
        logging.getLogger(__name__).warning("finished trials will be trained again: Ray's state could not be "
                                            "amended (%r)", error)
        return []
    for completion in completions:
        _complete_result_log(folder / completion.folder, completion.last_result["config"])
    return [completion.trial_id for completion in completions]


def _reports(path: Path) -> list[dict]:
    """A JSON-lines record's whole lines, one per epoch (the last of a repeated epoch), in epoch order."""
    by_epoch: dict[Any, dict] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                report = json.loads(line)
            except json.JSONDecodeError:  # a line a crash cut short
                continue
            if isinstance(report, dict) and isinstance(report.get("epoch"), int):
                by_epoch[report["epoch"]] = report
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _complete_result_log(trial_dir: Path, config: dict) -> None:
    """Appends to Ray's result.json the epochs tunelab's history has and Ray's copy missed."""
    logged = _reports(trial_dir / "result.json")
    last = logged[-1]["epoch"] if logged else 0
    missing = [report for report in _reports(trial_dir / HISTORY_FILE) if report["epoch"] > last]
    if missing:
        with (trial_dir / "result.json").open("a") as file:
            file.writelines(json.dumps({**report, "config": config}) + "\n" for report in missing)


def _set_aside(folder: Path, leftovers: list[Path], what: str) -> Path | None:
    if not leftovers:
        return None
    aside = folder / f".unrecorded-{what}-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}"
    aside.mkdir()
    for path in leftovers:
        path.rename(aside / path.name)
    return aside
