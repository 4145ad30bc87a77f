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
from pathlib import Path

from tunelab.analysis.run_files import trial_states

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


def _set_aside(folder: Path, leftovers: list[Path], what: str) -> Path | None:
    if not leftovers:
        return None
    aside = folder / f".unrecorded-{what}-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}"
    aside.mkdir()
    for path in leftovers:
        path.rename(aside / path.name)
    return aside
