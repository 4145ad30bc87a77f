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

from tunelab.core.run_folder import (
    HISTORY_FILE, PARAMS_FILE, RAY_FINISHED, RAY_SESSION_FILES, RAY_STATE_PATTERN, RESULT_FILE, SET_ASIDE_PREFIX,
    TRIAL_PREFIX, epochs_by_number, is_uri, ray_state_stamp, ray_trial_states, read_events, read_json,
    unfinished_trials,
)
from tunelab.experiments.run.ray_internals import Completion, carry_completions, take_back_suggestions
from tunelab.experiments.trial_events import TrialEventLog

RESTORE, RESTART, COMPLETE = "restore", "restart", "complete"


def resume_kind(run_path: str, planned_trials: int) -> str:
    """RESTORE Ray's state, RESTART the plan (no state was saved), or COMPLETE (nothing left to run)."""
    if is_uri(run_path):
        return RESTORE  # URI storage: Ray's own check decides
    folder = Path(run_path)
    if not any(folder.glob(RAY_STATE_PATTERN)):
        return RESTART
    states = ray_trial_states(folder)
    finished = [state for state in states.values() if state.get("status") == RAY_FINISHED]
    return COMPLETE if len(finished) >= planned_trials and len(finished) == len(states) else RESTORE


def set_aside_unrecorded_start(run_path: str) -> Path | None:
    """Moves the trial folders and Ray files of a start Ray never recorded into a dot-folder analysis skips."""
    folder = Path(run_path)
    ray_files = [path for pattern in RAY_SESSION_FILES for path in folder.glob(pattern)]
    return set_aside(folder, [*folder.glob(f"{TRIAL_PREFIX}*"), *ray_files], "start")


def set_aside_unrecorded_trials(run_path: str, searcher: Any) -> Path | None:
    """Trial folders made after Ray's last saved state: the restored searcher suggests them again.

    Folders an earlier state of the folder records (a KerasTuner search continued with more
    trials starts a new state file) and folders older than the newest state are kept. Where a kill
    fell between Ray's saves of the snapshot and of the search state, the search state already
    counts them: they are taken back from it (`searcher`: a fresh instance of the run's own).
    """
    if is_uri(run_path):
        return None
    folder = Path(run_path)
    states = sorted(folder.glob(RAY_STATE_PATTERN))
    if not states:
        return None
    recorded = {state.get("dir") for file in states for state in ray_trial_states(folder, file).values()}
    newest = states[-1].stat().st_mtime
    unrecorded = [path for path in folder.glob(f"{TRIAL_PREFIX}*")
                  if path.name not in recorded and path.stat().st_mtime >= newest - 1]
    configs = {path.name.removeprefix(TRIAL_PREFIX): read_json(path / PARAMS_FILE) for path in unrecorded}
    try:
        take_back_suggestions(folder, {trial: config for trial, config in configs.items() if config}, searcher)
    except Exception as error:  # a Ray whose search state reads differently: the run may end a trial short
        logging.getLogger(__name__).warning("trials set aside may not be suggested again: Ray's search state "
                                            "could not be amended (%r)", error)
    return set_aside(folder, unrecorded, "trials")


def carry_recorded_completions(run_path: str, searcher: Any) -> list[str]:
    """Trials tunelab saw finish after Ray's last snapshot are marked finished in it, not trained again.

    Ray snapshots its state every ten seconds or more, and copies a trial's result.json to the run
    folder with it; a driver killed in between leaves a finished trial recorded as running, and
    Ray's resume trains it again from its last saved checkpoint. tunelab's event log has the
    completion and its history every epoch, so the trial is marked finished with its last result
    and result.json gets the epochs the copy missed (progress.csv and TensorBoard files keep what
    was copied). Returns the ids carried over; none where the records disagree (Ray retrains).
    """
    if is_uri(run_path):
        return []
    folder = Path(run_path)
    try:
        completions = _completions_missing_from_snapshot(folder)
        carry_completions(folder, completions, searcher)
    except Exception as error:  # a Ray whose saved state reads differently, a searcher without restore: retrain
        logging.getLogger(__name__).warning("finished trials will be trained again: Ray's state could not be "
                                            "amended (%r)", error)
        return []
    for completion in completions:
        _complete_result_log(folder / completion.folder, completion.last_result["config"])
    return [completion.trial_id for completion in completions]


def record_resumed_trials(run_path: str, events: TrialEventLog) -> list[str]:
    """A `resumed` event for each trial this resume continues from its checkpoint part-way; returns their ids.

    Those are the ones Ray's snapshot holds as running (or pending again) with an epoch reported: a
    Ctrl+C or a crash stopped them mid-training. A trial paused at a rung is not one of them: its
    scheduler resumes it, and records that itself. Without this the trials table's `resumes` stays 0
    for a trial that was stopped and continued.
    """
    if is_uri(run_path):
        return []
    continued = {trial_id: state["epoch"] for trial_id, state in ray_trial_states(Path(run_path)).items()
                 if state["status"] in ("RUNNING", "PENDING") and state.get("epoch")}
    for trial_id, epoch in continued.items():
        events.record(trial_id, "resumed", epoch=epoch, reason="run resumed")
    return sorted(continued)


def _completions_missing_from_snapshot(folder: Path) -> list[Completion]:
    """Trials the event log says completed, at the epoch their history ends, that Ray's snapshot holds as running."""
    completed = read_events(folder, "completed")
    completions = []
    for trial_id, trial_folder in unfinished_trials(folder).items():
        history = epochs_by_number(folder / trial_folder / HISTORY_FILE)
        if trial_id in completed and history and history[-1]["epoch"] == completed[trial_id][-1].get("epoch"):
            config = read_json(folder / trial_folder / PARAMS_FILE)
            completions.append(Completion(trial_id, trial_folder, {**history[-1], "config": config}))
    return completions


def set_aside_trial_ids(run_path: str) -> set[str]:
    """The trials a resume set aside (their configurations run again under new ids)."""
    if is_uri(run_path):
        return set()
    folders = Path(run_path).glob(f"{SET_ASIDE_PREFIX}*/{TRIAL_PREFIX}*")
    return {path.name.removeprefix(TRIAL_PREFIX) for path in folders}


def set_aside_damaged_states(run_path: str) -> Path | None:
    """Ray's snapshots that a kill cut short, with the searcher files of the same session, set aside.

    Ray copies its snapshot into the run folder every ten seconds or more; a driver killed during
    the copy leaves it cut short, and Ray's restore would fail on it. Without it Ray restores the
    snapshot before (or, with none left, the plan restarts in place).
    """
    if is_uri(run_path):
        return None
    folder = Path(run_path)
    damaged: set[Path] = set()
    for state in folder.glob(RAY_STATE_PATTERN):
        try:
            json.loads(state.read_text())
        except (OSError, ValueError):
            stamp = ray_state_stamp(state)
            damaged.update(path for path in folder.iterdir() if path.is_file() and stamp in path.name)
    return set_aside(folder, sorted(damaged), "damaged")


def _complete_result_log(trial_dir: Path, config: dict) -> None:
    """Appends to Ray's result.json the epochs tunelab's history has and Ray's copy missed."""
    logged = epochs_by_number(trial_dir / RESULT_FILE)
    last = logged[-1]["epoch"] if logged else 0
    missing = [report for report in epochs_by_number(trial_dir / HISTORY_FILE) if report["epoch"] > last]
    if missing:
        with (trial_dir / RESULT_FILE).open("a") as file:
            file.writelines(json.dumps({**report, "config": config}) + "\n" for report in missing)


def set_aside(folder: Path, leftovers: list[Path], what: str) -> Path | None:
    """Moves `leftovers` into a new dot-folder `.unrecorded-WHAT-TIME/` of `folder`, which analysis skips."""
    if not leftovers:
        return None
    aside = folder / f"{SET_ASIDE_PREFIX}{what}-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}"
    aside.mkdir()
    for path in leftovers:
        path.rename(aside / path.name)
    return aside
