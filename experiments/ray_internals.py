"""Ray's private API and private file formats, in one place: a Ray upgrade is checked here.

tests/experiments/test_ray_internals.py holds the canaries: each fails, naming what moved, when a
Ray release changes one of the things below.

What is used, and why:
- `TuneController._set_trial_status`: successive halving puts a survivor that waited at its rung
  back to PAUSED after a crash (`mark_paused`).
- AsyncHyperBandScheduler's brackets and rungs: ASHA's stops are recorded with their cutoff, and
  a resumed run puts back the rung values of restored trials (`AshaInternals`).
- BayesOptSearch's warm-up buffer: tunelab does not ask it for a point while asking would only
  advance its random generator (`bayesopt_awaiting_warm_up`); and its points_to_evaluate queue,
  through which it takes a point it did not choose (`bayesopt_take_point`).
- The experiment snapshot (`experiment_state-*.json`: trial JSON state + run metadata) and the
  search state Ray saves beside it (`search_gen_state-*.json`, cloudpickled, with the
  ConcurrencyLimiter's live trials). A trial that finished after Ray's last snapshot is marked
  finished there before a resume, so Ray does not train it again (see `carry_completions`); and
  a trial the snapshot lacks but the searcher files already count is taken back from them
  (see `take_back_suggestions`).
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


def take_back_suggestions(folder: Path, trials: dict[str, dict], searcher: Any) -> None:
    """`trials` (id -> config), which a resume set aside, are taken back from the saved search state.

    Ray saves the experiment snapshot and the search state as separate files; a driver killed
    between their copies leaves the search state counting a trial the snapshot never lists.
    Restored as it is, the run would end a trial short: the generator's count of created trials is
    ahead, the ConcurrencyLimiter waits for a trial that never comes, the searcher does not suggest
    the configuration again. Each is set back by what it counted of `trials`, and no further: the
    count to the snapshot's, the limiter's live set by id, a searcher that can (`take_back`,
    tunelab's sequences) over the configs it handed out last. Files that agree with the snapshot
    do not hold the trials and are left as they are.
    """
    from ray import cloudpickle

    if not trials:
        return
    search_file = newest(folder, SEARCH_STATE_PATTERN)
    state_file = newest(folder, STATE_PATTERN)
    if search_file is not None and state_file is not None:
        state = cloudpickle.loads(search_file.read_bytes())
        in_snapshot = len(json.loads(state_file.read_text())["trial_data"])
        ahead = min(state["counter"] - in_snapshot, len(trials))
        limiter = state.get("name:ConcurrencyLimiter") or {}
        live = limiter.get("live_trials", set()) & set(trials)
        if ahead > 0 or live:
            state["counter"] -= max(ahead, 0)
            state["finished"] = False
            for trial_id in live:
                limiter["live_trials"].remove(trial_id)
                limiter["num_unfinished_live_trials"] -= 1
            _replace(search_file, lambda path: Path(path).write_bytes(cloudpickle.dumps(state)))
    while hasattr(searcher, "searcher"):
        searcher = searcher.searcher
    searcher_file = newest(folder, SEARCHER_STATE_PATTERN)
    if searcher_file is not None and hasattr(searcher, "take_back"):
        searcher.restore(str(searcher_file))
        if searcher.take_back(list(trials.values())):
            _replace(searcher_file, searcher.save)


def _replace(path: Path, write) -> None:
    """Writes through `write(temporary_path)`, then swaps the file in whole."""
    temporary = path.with_name(f".tunelab-{path.name}")
    write(str(temporary))
    os.replace(temporary, path)


# --- schedulers: Ray's controller and ASHA's rungs ----------------------------------------------


def mark_paused(tune_controller: Any, trial: Any) -> None:
    """Sets a restored trial back to PAUSED without starting it: Ray has no public call for this.

    Successive halving needs it after a crash, for a survivor that was waiting at its rung.
    """
    from ray.tune.experiment import Trial

    tune_controller._set_trial_status(trial, Trial.PAUSED)


class AshaInternals:
    """What tunelab reads and restores of Ray's AsyncHyperBandScheduler: its rungs per trial."""

    def __init__(self, scheduler: Any) -> None:
        self._scheduler = scheduler

    @property
    def metric(self) -> str | None:
        return self._scheduler._metric

    @property
    def mode(self) -> str | None:
        return self._scheduler._mode

    @property
    def max_t(self) -> int:
        return self._scheduler._max_t

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is (Ray keeps every value as sign * value)."""
        return self._scheduler._metric_op

    def knows(self, trial_id: str) -> bool:
        """Whether the trial is in one of ASHA's brackets (Ray drops it once it ends)."""
        return trial_id in self._scheduler._trial_info

    def rungs(self, trial_id: str) -> list[tuple[int, dict[str, float]]]:
        """(milestone, {trial_id: sign * value}) of the trial's bracket, highest rung first; [] if unknown.

        The dicts are Ray's own: a value put in one counts at that rung.
        """
        bracket = self._scheduler._trial_info.get(trial_id)
        return list(bracket._rungs) if bracket is not None else []

    def cutoff(self, trial_id: str, values: dict[str, float]) -> float | None:
        """The value a trial had to reach among `values` at a rung of its bracket (in the metric's own sign)."""
        bracket = self._scheduler._trial_info[trial_id]
        cutoff = bracket.cutoff(values)
        return None if cutoff is None else float(self.sign * cutoff)


# --- searchers -------------------------------------------------------------------------------


def bayesopt_awaiting_warm_up(searcher: Any) -> bool:
    """Whether BayesOptSearch has handed out its random warm-up points and still waits for their results.

    It fits the Gaussian process only once every warm-up result is in; asked before, it draws a
    random point, discards it and returns None.
    """
    return (len(searcher._buffered_trial_results) < searcher.random_search_trials
            and searcher._total_random_search_trials >= searcher.random_search_trials)


def bayesopt_take_point(searcher: Any, point: dict[str, float]) -> None:
    """Makes BayesOptSearch's next suggestion `point`, booked like its own (a warm-up step, a live
    trial), so its result reaches the Gaussian process: the queue behind points_to_evaluate."""
    searcher._points_to_evaluate = [point]
