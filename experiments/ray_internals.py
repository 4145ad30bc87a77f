"""Ray's private API and private file formats, in one place: a Ray upgrade is checked here.

tests/experiments/test_ray_internals.py holds the canaries: each fails, naming what moved, when a
Ray release changes one of the things below.

What is used, and why:
- The experiment snapshot (`experiment_state-*.json`: trial JSON state + run metadata) and the
  search state Ray saves beside it (`search_gen_state-*.json`, cloudpickled, with the
  ConcurrencyLimiter's live trials). A trial that finished after Ray's last snapshot is marked
  finished there before a resume, so Ray does not train it again (see `carry_completions`).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_PATTERN = "experiment_state-*.json"       # TuneController.CKPT_FILE_TMPL
SEARCH_STATE_PATTERN = "search_gen_state-*.json"  # SearchGenerator.CKPT_FILE_TMPL
SEARCHER_STATE_PATTERN = "searcher-state-*.pkl"   # Searcher.CKPT_FILE_TMPL
FINISHED, UNFINISHED = "TERMINATED", ("PENDING", "RUNNING", "PAUSED")


@dataclass(frozen=True)
class Completion:
    """A trial tunelab saw finish: its id, its folder and its last result as Ray logged it."""

    trial_id: str
    folder: str
    last_result: dict


def newest(folder: Path, pattern: str) -> Path | None:
    """The file Ray restores from: the greatest name (Ray's names carry a sortable timestamp)."""
    files = sorted(folder.glob(pattern))
    return files[-1] if files else None


def unfinished_trials(folder: Path) -> dict[str, str]:
    """trial_id -> trial folder name, for the trials Ray's newest snapshot holds as not yet finished."""
    state_file = newest(folder, STATE_PATTERN)
    if state_file is None:
        return {}
    found = {}
    for trial_json, _ in json.loads(state_file.read_text())["trial_data"]:
        trial = json.loads(trial_json)
        if trial["status"] in UNFINISHED:
            found[trial["trial_id"]] = trial["relative_logdir"]
    return found


def carry_completions(folder: Path, completions: list[Completion], searcher: Any) -> None:
    """Records `completions` in Ray's saved state as Ray itself would have at its next snapshot.

    The trial becomes TERMINATED with its last result, leaves the ConcurrencyLimiter's live set,
    and `searcher` (a fresh instance of the run's own searcher class) replays the completion on
    the saved searcher state, so a Bayesian search still learns the result. The experiment
    snapshot is written last: a kill part-way leaves the trial to be trained again, as before.
    """
    from ray import cloudpickle

    if not completions:
        return
    while hasattr(searcher, "searcher"):  # Ray saves the wrappers' state apart from the searcher's own
        searcher = searcher.searcher
    searcher_file = newest(folder, SEARCHER_STATE_PATTERN)
    if searcher_file is not None:
        searcher.restore(str(searcher_file))
        for completion in completions:
            searcher.on_trial_complete(completion.trial_id, result=completion.last_result)
        _replace(searcher_file, searcher.save)

    search_file = newest(folder, SEARCH_STATE_PATTERN)
    if search_file is not None:
        state = cloudpickle.loads(search_file.read_bytes())
        limiter = state.get("name:ConcurrencyLimiter")
        if limiter is not None and not limiter.get("batch"):
            for completion in completions:
                if completion.trial_id in limiter["live_trials"]:
                    limiter["live_trials"].remove(completion.trial_id)
                    limiter["num_unfinished_live_trials"] -= 1
            _replace(search_file, lambda path: Path(path).write_bytes(cloudpickle.dumps(state)))

    state_file = newest(folder, STATE_PATTERN)
    snapshot = json.loads(state_file.read_text())
    by_id = {completion.trial_id: completion for completion in completions}
    for entry in snapshot["trial_data"]:
        trial, run = json.loads(entry[0]), json.loads(entry[1])
        completion = by_id.get(trial["trial_id"])
        if completion is None:
            continue
        trial["status"] = FINISHED
        run["last_result"], run["last_result_time"] = completion.last_result, time.time()
        entry[0], entry[1] = json.dumps(trial, indent=2), json.dumps(run, indent=2)
    _replace(state_file, lambda path: Path(path).write_text(json.dumps(snapshot)))


def _replace(path: Path, write) -> None:
    """Writes through `write(temporary_path)`, then swaps the file in whole."""
    temporary = path.with_name(f".tunelab-{path.name}")
    write(str(temporary))
    os.replace(temporary, path)
