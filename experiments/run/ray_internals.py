"""Ray's private API and private file formats, in one place: a Ray upgrade is checked here.

tests/experiments/run/test_ray_internals.py holds the canaries: each fails, naming what moved, when a
Ray release changes one of the things below.

What is used, and why:
- `TuneController._set_trial_status`: successive halving puts a survivor that waited at its rung
  back to PAUSED after a crash (`mark_paused`).
- The `TuneController`, found on a callback's stack, and its `stop_trial` with actor reuse off for
  that call: a trial past `trial_timeout` that never reports is stopped from the driver and its hung
  worker is not handed on (`running_tune_controller`, `stop_hung_trial`).
- AsyncHyperBandScheduler's brackets and rungs: ASHA's stops are recorded with their cutoff, a
  resumed run puts back the rung values of restored trials, and `--dry-run` shows the rungs Ray
  built (`AshaInternals`).
- PopulationBasedTraining's searcher check and its exploit step: PBT admits tunelab's population
  from a Searcher, and a copied trial restores tunelab's own copy of the donor's checkpoint, which
  Ray never deletes (`PopulationBasedTrainingHooks`); after a crash its per-trial state and next
  synchronisation epoch are rebuilt (`pbt_rebuild`), and a population left waiting for a trial
  that failed is decided without it (`pbt_meet_without_the_failed`).
- BayesOptSearch's warm-up buffer, not asked while asking would only advance its random generator
  (`bayesopt_awaiting_warm_up`); its points_to_evaluate queue takes a point it did not choose
  (`bayesopt_take_point`).
- The experiment snapshot (trial JSON state + run metadata) and the search state Ray saves beside
  it (cloudpickled, with the ConcurrencyLimiter's live trials); their names, and the one reader of
  the snapshot, are in tunelab.core.run_folder. A trial that finished after Ray's last snapshot is marked
  finished there before a resume, so Ray does not train it again (see `carry_completions`); and
  a trial the snapshot lacks but the searcher files already count is taken back from them
  (see `take_back_suggestions`).
- `Trial.should_recover` and `Trial.error_file`: Ray retries every failure alike; an out-of-memory
  trial only where the experiment asks (`recovery_refused`).
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ray.tune.schedulers import PopulationBasedTraining

from tunelab.core.run_folder import (
    RAY_FINISHED, RAY_SEARCH_STATE_PATTERN, RAY_SEARCHER_STATE_PATTERN, RAY_STATE_PATTERN, newest,
)


@dataclass(frozen=True)
class Completion:
    """A trial tunelab saw finish: its id, its folder and its last result as Ray logged it."""

    trial_id: str
    folder: str
    last_result: dict


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
    searcher_file = newest(folder, RAY_SEARCHER_STATE_PATTERN)
    if searcher_file is not None:
        searcher.restore(str(searcher_file))
        for completion in completions:
            searcher.on_trial_complete(completion.trial_id, result=completion.last_result)
        _replace(searcher_file, searcher.save)

    search_file = newest(folder, RAY_SEARCH_STATE_PATTERN)
    if search_file is not None:
        state = cloudpickle.loads(search_file.read_bytes())
        limiter = state.get("name:ConcurrencyLimiter")
        if limiter is not None and not limiter.get("batch"):
            for completion in completions:
                if completion.trial_id in limiter["live_trials"]:
                    limiter["live_trials"].remove(completion.trial_id)
                    limiter["num_unfinished_live_trials"] -= 1
            _replace(search_file, lambda path: Path(path).write_bytes(cloudpickle.dumps(state)))

    state_file = newest(folder, RAY_STATE_PATTERN)
    snapshot = json.loads(state_file.read_text())
    by_id = {completion.trial_id: completion for completion in completions}
    for entry in snapshot["trial_data"]:
        trial, run = json.loads(entry[0]), json.loads(entry[1])
        completion = by_id.get(trial["trial_id"])
        if completion is None:
            continue
        trial["status"] = RAY_FINISHED
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
    search_file = newest(folder, RAY_SEARCH_STATE_PATTERN)
    state_file = newest(folder, RAY_STATE_PATTERN)
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
    searcher_file = newest(folder, RAY_SEARCHER_STATE_PATTERN)
    if searcher_file is not None and hasattr(searcher, "take_back"):
        searcher.restore(str(searcher_file))
        if searcher.take_back(list(trials.values())):
            _replace(searcher_file, searcher.save)


def _replace(path: Path, write) -> None:
    """Writes through `write(temporary_path)`, then swaps the file in whole."""
    temporary = path.with_name(f".tunelab-{path.name}")
    write(str(temporary))
    os.replace(temporary, path)



def mark_paused(tune_controller: Any, trial: Any) -> None:
    """Sets a restored trial back to PAUSED without starting it: Ray has no public call for this.

    Successive halving needs it after a crash, for a survivor that was waiting at its rung.
    """
    from ray.tune.experiment import Trial

    tune_controller._set_trial_status(trial, Trial.PAUSED)


def running_tune_controller() -> Any | None:
    """The TuneController whose step called the current callback (None if none did): callbacks get no handle."""
    from ray.tune.execution.tune_controller import TuneController

    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, TuneController):
            return candidate
        frame = frame.f_back
    return None


def stop_hung_trial(tune_controller: Any, trial: Any) -> None:
    """Stops a running trial as a stopper would (TERMINATED, callbacks told) though it never reports.

    Its worker may be stuck in the middle of an epoch: it is killed at once, neither kept for the next
    trial (actor reuse) nor asked to stop (Ray waits `TUNE_FORCE_TRIAL_CLEANUP_S`, 10 minutes, for
    that, holding the worker's CPUs).
    """
    worker = tune_controller._trial_to_actor.get(trial)
    reuse = tune_controller._reuse_actors
    tune_controller._reuse_actors = False
    try:
        tune_controller.stop_trial(trial)
    finally:
        tune_controller._reuse_actors = reuse
    if worker is not None and tune_controller._stopping_actors.pop(worker, None) is not None:
        tune_controller._actor_manager.remove_actor(tracked_actor=worker, kill=True)


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

    def milestones(self) -> list[list[int]]:
        """Each bracket's rungs, ascending, as Ray built them (its floating-point logarithm decides how
        many, so they are read, not recomputed); a trial goes to one bracket, drawn at random."""
        return [sorted(int(milestone) for milestone, _ in bracket._rungs) for bracket in self._scheduler._brackets]

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



class _WithoutSearchAlgorithm:
    """The controller as PBT's `on_trial_add` sees it: without a search algorithm to refuse."""

    search_alg = None

    def __init__(self, tune_controller: Any) -> None:
        self._tune_controller = tune_controller

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tune_controller, name)


class PopulationBasedTrainingHooks(PopulationBasedTraining):
    """Ray's PBT with the private steps tunelab changes behind public hooks.

    - PBT refuses every searcher in `on_trial_add`: one that learns from results would be misled by
      configurations that change under it. tunelab's population comes from a ConfigSequenceSearcher,
      which learns nothing (Ray's own generator cannot hand out a conditional space's configs), so
      the check is given a controller without it.
    - Ray's `_exploit` explores the donor's config (`exploring` comes first), sets it on the trial
      and points the trial's next restore at the donor's checkpoint, which Ray deletes once the
      donor has saved `num_to_keep` newer ones: a donor that trains on before the copy restarts
      would leave it nothing to restore. `exploited` returns the checkpoint to restore instead.
    - Ray's snapshot re-reads only trials it marked as changed, and an exploit does not mark the
      paused trial: a resume would restore it as it was before. The exploit marks it.
    - Ray retries a failed trial by adding it again, and PBT's `on_trial_add` then forgets when it
      was last perturbed (synchronous PBT would compare it early, at its next epoch); it keeps it.
    """

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        known = self._trial_state.get(trial)
        super().on_trial_add(_WithoutSearchAlgorithm(tune_controller), trial)
        if known is not None:  # Ray retries a failed trial by adding it again: it keeps its place
            self._trial_state[trial] = known

    def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
        from ray.train._internal.session import _TrainingResult

        old_config = dict(trial.config)
        self.exploring(trial, trial_to_clone)
        super()._exploit(tune_controller, trial, trial_to_clone)
        manager = trial.run_metadata.checkpoint_manager
        latest = manager._latest_checkpoint_result
        checkpoint = self.exploited(trial, trial_to_clone, old_config, latest.checkpoint)
        manager._latest_checkpoint_result = _TrainingResult(checkpoint=checkpoint, metrics=latest.metrics)
        tune_controller._mark_trial_to_checkpoint(trial)  # a paused trial's new config is not in Ray's snapshot else

    def exploring(self, trial: Any, donor: Any) -> None:
        """Called before Ray explores `donor`'s config for `trial` (through `custom_explore_fn`)."""

    def exploited(self, trial: Any, donor: Any, old_config: dict, checkpoint: Any) -> Any:
        """Called once `trial` has the explored config and `donor`'s checkpoint; returns the checkpoint it restores."""
        return checkpoint


def pbt_rebuild(scheduler: Any, tune_controller: Any, trials: list, interval: int, max_t: int) -> None:
    """Puts a synchronous PBT's state back after a driver crash, from each trial's last result.

    Ray restores the scheduler as it was before the first trial: every trial last perturbed at
    epoch 0 and the next synchronisation at the first interval. Restored trials are further on,
    and would meet there never (the population then waits forever) or out of step. In
    synchronous PBT no trial passes an interval before all have reached it, so the population was
    heading for the interval after its slowest unfinished trial's epoch; trials already there wait,
    paused, with their score, as they did, and the others train to it.
    """
    from ray.tune.experiment import Trial

    unfinished = [trial for trial in trials if trial.status not in (Trial.TERMINATED, Trial.ERROR)
                  and trial in scheduler._trial_state]
    epochs = {trial: trial.run_metadata.last_result.get(scheduler._time_attr, 0) for trial in unfinished}
    if not unfinished:
        return
    heading_for = interval * (min(epochs.values()) // interval + 1)
    scheduler._next_perturbation_sync = heading_for
    for trial in unfinished:
        state, epoch = scheduler._trial_state[trial], epochs[trial]
        waiting = epoch == heading_for < max_t
        state.last_perturbation_time = state.last_train_time = epoch if waiting else interval * (epoch // interval)
        if waiting:
            state.last_result = dict(trial.run_metadata.last_result)
            state.last_score = scheduler._metric_op * state.last_result[scheduler._metric]
            mark_paused(tune_controller, trial)


def pbt_meet_without_the_failed(scheduler: Any, tune_controller: Any) -> bool:
    """Decides the interval a synchronous population waits at, when the trial it waits for has failed.

    Ray's synchronous PBT decides an interval when the last trial reports reaching it. If that
    trial fails for good instead, no result comes, and every other trial waits, paused, forever.
    When no live trial can run before the interval, this makes the decision as Ray's
    `on_trial_result` makes it; True if it did.
    """
    from ray.tune.experiment import Trial

    trials = tune_controller.get_trials()
    live = [trial for trial in trials if trial.status in (Trial.PENDING, Trial.RUNNING, Trial.PAUSED)]
    epoch = scheduler._next_perturbation_sync
    if not live or any(trial.status == Trial.RUNNING or trial not in scheduler._trial_state
                       or scheduler._trial_state[trial].last_train_time < epoch for trial in live):
        return False
    lower, upper = scheduler._quantiles()
    for trial in upper + [t for t in trials if t not in lower and t not in upper] + lower:
        if trial in scheduler._trial_state:
            scheduler._trial_state[trial].last_perturbation_time = epoch
            scheduler._checkpoint_or_exploit(trial, tune_controller, upper, lower)
    scheduler._next_perturbation_sync = max(
        epoch + scheduler._perturbation_interval,
        max(scheduler._trial_state[trial].last_train_time for trial in live))
    return True



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


@contextlib.contextmanager
def recovery_refused(refuse: Callable[[str], bool]) -> Iterator[None]:
    """While the block runs, a failed trial whose latest failure's text `refuse` names is not retried,
    whatever FailureConfig.max_failures allows: Ray ends it as errored instead.

    Ray writes each failure to the trial's error file (`Failure # N ...` then the error) before it
    asks `Trial.should_recover`; the driver runs one experiment at a time, so patching the class
    for the block's length touches no other run.
    """
    from ray.tune.experiment.trial import Trial

    original = Trial.should_recover

    def should_recover(trial: Any) -> bool:
        return original(trial) and not refuse(_latest_failure(trial))

    Trial.should_recover = should_recover
    try:
        yield
    finally:
        Trial.should_recover = original


def _latest_failure(trial: Any) -> str:
    """The text of the trial's latest failure in its error file ("" when there is none to read)."""
    try:
        text = Path(trial.error_file).read_text(errors="replace") if trial.error_file else ""
    except OSError:
        return ""
    return text.rsplit("Failure # ", 1)[-1]
