"""Canaries for a Ray upgrade: each test exercises one private thing experiments/run/ray_internals.py
relies on, on Ray's real objects and files. A failure here names what moved in the new Ray release."""
from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from ray import cloudpickle
from ray.tune import Checkpoint

from tunelab.core.run_folder import (
    EVENTS_FILE, HISTORY_FILE, RAY_SEARCH_STATE_PATTERN, RAY_SEARCHER_STATE_PATTERN, RAY_STATE_PATTERN, newest,
    unfinished_trials,
)
from tunelab.experiments.run.ray_internals import (
    AshaInternals, PopulationBasedTrainingHooks, bayesopt_awaiting_warm_up, bayesopt_take_point, mark_paused,
    running_tune_controller,
    pbt_meet_without_the_failed, pbt_rebuild,
)
from tunelab.experiments.run.resume import carry_recorded_completions
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict

EXPERIMENT = {
    "name": "t", "trainable": "mlp", "data": "digits",
    "space": {"units_1": {"type": "int", "low": 8, "high": 32}, "num_layers": 1},
    "strategy": {"name": "random", "num_samples": 3, "seed": 3},
    "epochs": 2, "batch_size": 128, "max_concurrent_trials": 1,
}


def snapshot_trials(folder: Path) -> dict[str, tuple[dict, dict]]:
    """trial_id -> (trial state, run metadata) from Ray's newest experiment snapshot."""
    data = json.loads(newest(folder, RAY_STATE_PATTERN).read_text())
    pairs = [(json.loads(trial), json.loads(run)) for trial, run in data["trial_data"]]
    return {trial["trial_id"]: (trial, run) for trial, run in pairs}


def make_snapshot_stale(folder: Path, trial_id: str) -> None:
    """What Ray's state holds when the driver dies after `trial_id` finished, before the next snapshot."""
    state_file = newest(folder, RAY_STATE_PATTERN)
    data = json.loads(state_file.read_text())
    for entry in data["trial_data"]:
        trial = json.loads(entry[0])
        if trial["trial_id"] == trial_id:
            trial["status"] = "RUNNING"
            entry[0] = json.dumps(trial)
    state_file.write_text(json.dumps(data))
    search_file = newest(folder, RAY_SEARCH_STATE_PATTERN)
    search = cloudpickle.loads(search_file.read_bytes())
    search["name:ConcurrencyLimiter"]["live_trials"].add(trial_id)
    search["name:ConcurrencyLimiter"]["num_unfinished_live_trials"] += 1
    search_file.write_bytes(cloudpickle.dumps(search))


def trial_files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.glob("trial_*/**/*")) if path.is_file()}


@pytest.mark.slow  # a real run
def test_a_trial_finished_after_rays_last_snapshot_is_not_trained_again(tmp_path, ray_session):
    spec = spec_from_dict({**EXPERIMENT, "storage": str(tmp_path)})
    folder = Path(run(prepare(spec, name="run")).path)
    # What Ray saved, as the amendment reads it (a canary for Ray's formats).
    trials = snapshot_trials(folder)
    assert {trial["status"] for trial, _ in trials.values()} == {"TERMINATED"}
    assert all((folder / trial["relative_logdir"] / "result.json").is_file() for trial, _ in trials.values())
    assert all(run_metadata["last_result"]["epoch"] == 2 for _, run_metadata in trials.values())
    limiter = cloudpickle.loads(newest(folder, RAY_SEARCH_STATE_PATTERN).read_bytes())["name:ConcurrencyLimiter"]
    assert limiter["live_trials"] == set() and limiter["num_unfinished_live_trials"] == 0 and not limiter["batch"]
    assert newest(folder, RAY_SEARCHER_STATE_PATTERN) is not None

    completed = [json.loads(line) for line in (folder / EVENTS_FILE).read_text().splitlines()]
    last = [event["trial_id"] for event in completed if event["event"] == "completed"][-1]
    make_snapshot_stale(folder, last)
    assert list(unfinished_trials(folder)) == [last]
    before = trial_files(folder)

    assert carry_recorded_completions(str(folder), prepare(spec, name="run", resume=True).plan.searcher) == [last]
    trial, run_metadata = snapshot_trials(folder)[last]
    assert trial["status"] == "TERMINATED" and run_metadata["last_result"]["epoch"] == 2
    limiter = cloudpickle.loads(newest(folder, RAY_SEARCH_STATE_PATTERN).read_bytes())["name:ConcurrencyLimiter"]
    assert limiter["live_trials"] == set() and limiter["num_unfinished_live_trials"] == 0

    make_snapshot_stale(folder, last)  # and now the whole resume, as `--resume` runs it
    result_log = folder / f"trial_{last}" / "result.json"
    result_log.write_text(result_log.read_text().splitlines()[0] + "\n")  # Ray's copy was an epoch behind
    prepared = prepare(spec, name="run", resume=True)
    assert not prepared.complete
    again = run(prepared)

    assert again.trials == 3 and again.errored == 0
    after = trial_files(folder)
    completed_log = after.pop(str(result_log.relative_to(folder)))
    assert after == {name: data for name, data in before.items() if name != str(result_log.relative_to(folder))}
    assert [json.loads(line)["epoch"] for line in completed_log.decode().splitlines()] == [1, 2]
    assert json.loads(completed_log.decode().splitlines()[1])["config"] == json.loads(
        (result_log.parent / "params.json").read_text())
    for history in folder.glob(f"trial_*/{HISTORY_FILE}"):
        assert [json.loads(line)["epoch"] for line in history.read_text().splitlines()] == [1, 2]


@pytest.mark.slow  # a real run
def test_a_trial_the_search_state_counts_but_the_snapshot_lacks_runs_again(tmp_path, ray_session):
    """A kill between Ray's copies of its search state and of its snapshot: the run still gets every trial."""
    from tunelab.searchspaces import load_space

    strategy = {**EXPERIMENT["strategy"], "num_samples": 2}
    spec = spec_from_dict({**EXPERIMENT, "storage": str(tmp_path), "strategy": strategy})
    folder = Path(run(prepare(spec, name="run")).path)
    state_file = newest(folder, RAY_STATE_PATTERN)
    snapshot = json.loads(state_file.read_text())
    last = json.loads(snapshot["trial_data"][-1][0])
    snapshot["trial_data"] = snapshot["trial_data"][:-1]  # the snapshot from before the last trial began ...
    state_file.write_text(json.dumps(snapshot))
    search_file = newest(folder, RAY_SEARCH_STATE_PATTERN)
    search = cloudpickle.loads(search_file.read_bytes())  # ... the search state from after: it counts it
    assert search["counter"] == 2
    search["name:ConcurrencyLimiter"]["live_trials"].add(last["trial_id"])
    search["name:ConcurrencyLimiter"]["num_unfinished_live_trials"] += 1
    search_file.write_bytes(cloudpickle.dumps(search))
    os.utime(folder / last["relative_logdir"])  # the trial folder is newer than the snapshot

    again = run(prepare(spec, name="run", resume=True))

    assert again.trials == 2 and again.errored == 0
    trained = [history.parent for history in folder.glob(f"trial_*/{HISTORY_FILE}")]
    configs = sorted(json.dumps(json.loads((trial / "params.json").read_text()), sort_keys=True) for trial in trained)
    assert configs == sorted(json.dumps(c, sort_keys=True) for c in load_space(EXPERIMENT["space"]).sample_many(2, seed=3))
    assert [p.name for p in folder.glob(".unrecorded-trials-*/*")] == [last["relative_logdir"]]


@pytest.mark.slow  # a real run
def test_a_history_that_does_not_reach_the_recorded_completion_is_trained_again(tmp_path, ray_session):
    spec = spec_from_dict({**EXPERIMENT, "storage": str(tmp_path), "strategy": {**EXPERIMENT["strategy"],
                                                                              "num_samples": 1}})
    folder = Path(run(prepare(spec, name="run")).path)
    [trial_id] = snapshot_trials(folder)
    make_snapshot_stale(folder, trial_id)
    history = next(folder.glob(f"trial_*/{HISTORY_FILE}"))
    history.write_text(history.read_text().splitlines()[0] + "\n")  # the final epoch's line was lost

    assert carry_recorded_completions(str(folder), prepare(spec, name="run", resume=True).plan.searcher) == []
    assert list(unfinished_trials(folder)) == [trial_id]


def test_a_resume_counts_a_resume_for_each_trial_it_continues_part_way(tmp_path):
    """Those Ray's snapshot holds as running (or pending again) with an epoch: Ctrl+C or a crash stopped them.
    A trial paused at a rung waits for its scheduler, which records its own resume; a new one only starts."""
    from tunelab.experiments.run.resume import record_resumed_trials
    from tunelab.experiments.trial_events import TrialEventLog

    trials = [("running", "RUNNING", {"epoch": 2}), ("new", "PENDING", {}), ("again", "PENDING", {"epoch": 1}),
              ("paused", "PAUSED", {"epoch": 3}), ("done", "TERMINATED", {"epoch": 6})]
    snapshot = {"trial_data": [[json.dumps({"trial_id": trial, "status": status, "relative_logdir": f"trial_{trial}"}),
                                json.dumps({"last_result": result})] for trial, status, result in trials]}
    (tmp_path / "experiment_state-2026-12-06_08-00-00.json").write_text(json.dumps(snapshot))
    events = TrialEventLog()
    events.attach(str(tmp_path))

    assert record_resumed_trials(str(tmp_path), events) == ["again", "running"]
    recorded = [json.loads(line) for line in (tmp_path / EVENTS_FILE).read_text().splitlines()]
    assert [(e["trial_id"], e["event"], e["epoch"], e["reason"]) for e in recorded] == [
        ("running", "resumed", 2, "run resumed"), ("again", "resumed", 1, "run resumed")]


def test_the_controller_still_sets_a_trial_status_privately():
    from ray.tune.execution.tune_controller import TuneController

    calls = []
    controller = SimpleNamespace(_set_trial_status=lambda trial, status: calls.append((trial, status)))
    mark_paused(controller, "t")
    assert calls == [("t", "PAUSED")]
    assert list(inspect.signature(TuneController._set_trial_status).parameters) == ["self", "trial", "status"]


def test_the_controller_still_stops_a_trial_and_kills_its_worker_as_a_hung_trial_needs():
    from ray.air.execution._internal.actor_manager import RayActorManager
    from ray.tune.execution.tune_controller import TuneController

    # what running_tune_controller and stop_hung_trial touch, by name
    assert list(inspect.signature(TuneController.stop_trial).parameters) == ["self", "trial"]
    assert {"_trial_to_actor", "_stopping_actors", "_actor_manager", "_reuse_actors"} <= set(
        re.findall(r"self\.(\w+)", inspect.getsource(TuneController.__init__)))
    assert "self._callbacks.on_step_end(" in inspect.getsource(TuneController.step)
    assert {"tracked_actor", "kill"} <= set(inspect.signature(RayActorManager.remove_actor).parameters)


def test_a_callback_finds_the_controller_whose_step_called_it():
    from ray.tune.execution.tune_controller import TuneController

    controller = TuneController.__new__(TuneController)  # no Ray needed: only its type is looked for

    def step(self):  # stands for TuneController.step calling the callbacks
        return running_tune_controller()

    assert step(controller) is controller
    assert running_tune_controller() is None


def test_asha_keeps_its_rungs_per_trial_as_the_schedulers_read_them():
    from ray.tune.schedulers import AsyncHyperBandScheduler

    asha = AsyncHyperBandScheduler(time_attr="epoch", metric="score", mode="max", max_t=9, grace_period=1,
                                   reduction_factor=3)
    view = AshaInternals(asha)
    trial = SimpleNamespace(trial_id="t1")
    assert not view.knows("t1") and view.rungs("t1") == []
    asha.on_trial_add(None, trial)
    assert view.knows("t1") and (view.metric, view.mode, view.max_t, view.sign) == ("score", "max", 9, 1.0)
    assert [milestone for milestone, _ in view.rungs("t1")] == [9, 3, 1]  # highest first, as Ray keeps them
    view.rungs("t1")[-1][1]["t2"] = 0.5  # Ray's own dict: the value counts at that rung
    assert asha._trial_info["t1"]._rungs[-1][1] == {"t2": 0.5}
    assert view.cutoff("t1", {"t2": 0.5, "t3": 0.9}) == pytest.approx(0.5 + (0.9 - 0.5) * 2 / 3)  # 1 - 1/3 quantile
    brackets = AshaInternals(AsyncHyperBandScheduler(time_attr="epoch", metric="score", mode="max", max_t=9,
                                                     grace_period=1, reduction_factor=3, brackets=3))
    assert brackets.milestones() == [[1, 3, 9], [3, 9], [9]]  # what --dry-run shows (last: max_t, no stop)


class RecordingHooks(PopulationBasedTrainingHooks):
    """Ray's PBT as tunelab's scheduler sees it, every hook call recorded."""

    def __init__(self, **options) -> None:
        super().__init__(time_attr="epoch", metric="score", mode="max", perturbation_interval=2,
                         hyperparam_mutations={}, custom_explore_fn=self.explore, log_config=False, synch=True,
                         **options)
        self.calls: list = []

    def explore(self, config: dict) -> dict:
        self.calls.append(("explore", dict(config)))
        return {**config, "x": config["x"] * 2}

    def exploring(self, trial, donor) -> None:
        self.calls.append(("exploring", trial.trial_id, donor.trial_id))

    def exploited(self, trial, donor, old_config, checkpoint):
        self.calls.append(("exploited", trial.trial_id, donor.trial_id, old_config, checkpoint.path))
        return Checkpoint("/copies/of-the-donor")


def pbt_trial(tag: int, x: float, epoch: int = 0, status: str = "PENDING"):
    from ray.tune.experiment import Trial

    trial = Trial("fn", config={"x": x}, stub=True, experiment_tag=f"{tag}_x={x}")
    trial.run_metadata.last_result = {"epoch": epoch, "score": x} if epoch else {}
    trial.set_status(status)
    return trial


def test_pbt_admits_tunelabs_searcher_only_through_the_hooks():
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.search import SearchGenerator

    from tunelab.experiments.searchers import ConfigSequenceSearcher

    controller = SimpleNamespace(search_alg=SearchGenerator(ConfigSequenceSearcher([])))
    plain = PopulationBasedTraining(time_attr="epoch", metric="score", mode="max", hyperparam_mutations={"x": [1, 2]})
    with pytest.raises(ValueError, match="Search algorithms cannot be used"):
        plain.on_trial_add(controller, pbt_trial(1, 1.0))
    hooks, trial = RecordingHooks(), pbt_trial(1, 1.0)
    hooks.on_trial_add(controller, trial)
    assert trial in hooks._trial_state


def test_pbt_exploit_sets_the_explored_config_and_the_checkpoint_the_hooks_return():
    from ray.train._internal.session import _TrainingResult

    hooks = RecordingHooks()
    controller = SimpleNamespace(search_alg=None, marked=[])
    controller._mark_trial_to_checkpoint = controller.marked.append
    worse, better = pbt_trial(1, 1.0, 2, "PAUSED"), pbt_trial(2, 3.0, 2, "PAUSED")
    for trial in (worse, better):
        hooks.on_trial_add(controller, trial)
    for trial in (worse, better):  # what Ray's PBT keeps of each trial at the interval
        hooks._trial_state[trial].last_score = trial.config["x"]
        hooks._trial_state[trial].last_result = {"epoch": 2, "score": trial.config["x"]}
    hooks._trial_state[better].last_checkpoint = Checkpoint("/the/donors/checkpoint_000001")

    hooks._exploit(controller, worse, better)

    assert hooks.calls == [("exploring", worse.trial_id, better.trial_id), ("explore", {"x": 3.0}),
                           ("exploited", worse.trial_id, better.trial_id, {"x": 1.0}, "/the/donors/checkpoint_000001")]
    assert worse.config == {"x": 6.0} and controller.marked == [worse]
    restored = worse.run_metadata.checkpoint_manager._latest_checkpoint_result
    assert isinstance(restored, _TrainingResult) and restored.checkpoint.path == "/copies/of-the-donor"
    assert restored.metrics == {"epoch": 2, "score": 3.0}


def test_pbt_rebuild_puts_the_population_back_at_the_interval_it_was_heading_for():
    hooks = RecordingHooks()
    controller = SimpleNamespace(search_alg=None, statuses=[])
    controller._set_trial_status = lambda trial, status: controller.statuses.append((trial.trial_id, status))
    # Two trials wait at epoch 4 for one at 3; one ended. Ray restores them as PENDING.
    waiting, behind, done = pbt_trial(1, 0.9, 4), pbt_trial(2, 0.5, 3), pbt_trial(3, 0.7, 6, "TERMINATED")
    also_waiting = pbt_trial(4, 0.8, 4)
    trials = [waiting, behind, done, also_waiting]
    for trial in trials:
        hooks.on_trial_add(controller, trial)

    pbt_rebuild(hooks, controller, trials, interval=2, max_t=6)

    assert hooks._next_perturbation_sync == 4
    assert sorted(controller.statuses) == sorted([(waiting.trial_id, "PAUSED"), (also_waiting.trial_id, "PAUSED")])
    state = hooks._trial_state
    assert (state[waiting].last_train_time, state[waiting].last_perturbation_time, state[waiting].last_score) == (
        4, 4, 0.9)
    assert (state[behind].last_train_time, state[behind].last_score) == (2, None)
    assert hooks.choose_trial_to_run(SimpleNamespace(get_trials=lambda: trials)) is behind  # the others wait


def test_pbt_keeps_a_retried_trials_place_in_the_population():
    hooks, trial = RecordingHooks(), pbt_trial(1, 1.0, 4)
    controller = SimpleNamespace(search_alg=None)
    hooks.on_trial_add(controller, trial)
    hooks._trial_state[trial].last_perturbation_time = hooks._trial_state[trial].last_train_time = 4
    hooks.on_trial_add(controller, trial)  # how Ray retries a failed trial
    assert (hooks._trial_state[trial].last_perturbation_time, hooks._trial_state[trial].last_train_time) == (4, 4)


def test_pbt_population_waiting_for_a_failed_trial_meets_without_it():
    from ray.train._internal.session import _TrainingResult

    hooks = RecordingHooks()
    controller = SimpleNamespace(search_alg=None, marked=[], get_trials=lambda: trials)
    controller._mark_trial_to_checkpoint = controller.marked.append
    worse, better, failed = pbt_trial(1, 1.0, 2, "PAUSED"), pbt_trial(2, 3.0, 2, "PAUSED"), pbt_trial(3, 2.0, 1)
    trials = [worse, better, failed]
    for trial in trials:
        hooks.on_trial_add(controller, trial)
    for trial in (worse, better):  # both reported epoch 2 and wait there for the third
        state = hooks._trial_state[trial]
        state.last_train_time, state.last_score = 2, trial.config["x"]
        state.last_result = {"epoch": 2, "score": trial.config["x"]}
    better.run_metadata.checkpoint_manager._latest_checkpoint_result = _TrainingResult(
        checkpoint=Checkpoint("/the/donors/checkpoint_000001"), metrics={"epoch": 2, "score": 3.0})
    assert not pbt_meet_without_the_failed(hooks, controller)  # the third can still come
    failed.set_status("ERROR")

    assert pbt_meet_without_the_failed(hooks, controller)

    assert [call[0] for call in hooks.calls] == ["exploring", "explore", "exploited"] and worse.config == {"x": 6.0}
    assert hooks._next_perturbation_sync == 4 and hooks.choose_trial_to_run(controller) in (worse, better)


def test_bayesopt_still_buffers_its_warm_up_results():
    from ray.tune.search.bayesopt import BayesOptSearch

    searcher = BayesOptSearch(space={"x": (0.0, 1.0)}, metric="score", mode="max", random_search_steps=2)
    assert not bayesopt_awaiting_warm_up(searcher)  # nothing handed out yet
    searcher.suggest("a"), searcher.suggest("b")
    assert bayesopt_awaiting_warm_up(searcher)  # both warm-up points out, no result back
    searcher.on_trial_complete("a", {"score": 0.5}), searcher.on_trial_complete("b", {"score": 0.7})
    assert not bayesopt_awaiting_warm_up(searcher)
    bayesopt_take_point(searcher, {"x": 0.25})
    assert searcher.suggest("c") == {"x": 0.25}  # the point given, booked as a live trial
    assert "c" in searcher._live_trial_mapping


def test_a_snapshot_cut_short_by_a_kill_is_set_aside_with_its_sessions_files(tmp_path):
    """Ray copies its snapshot into the run folder; a kill during the copy leaves it cut short."""
    from tunelab.experiments.run.resume import set_aside_damaged_states

    older, newer = "2026-12-01_10-00-00", "2026-12-01_10-05-00"
    for stamp, text in ((older, '{"trial_data": []}'), (newer, '{"trial_data": [["{\\"tri')):
        (tmp_path / f"experiment_state-{stamp}.json").write_text(text)
        (tmp_path / f"search_gen_state-{stamp}.json").write_bytes(b"x")
        (tmp_path / f"searcher-state-{stamp}.pkl").write_bytes(b"x")
    (tmp_path / "trial_abc").mkdir()

    aside = set_aside_damaged_states(str(tmp_path))

    assert sorted(path.name for path in aside.iterdir()) == sorted(
        [f"experiment_state-{newer}.json", f"search_gen_state-{newer}.json", f"searcher-state-{newer}.pkl"])
    assert newest(tmp_path, RAY_STATE_PATTERN).name == f"experiment_state-{older}.json"  # what Ray restores now
    assert (tmp_path / "trial_abc").is_dir()
    assert set_aside_damaged_states(str(tmp_path)) is None  # nothing left to set aside


def test_a_refused_trial_is_not_recovered_and_its_latest_failure_is_what_is_read(tmp_path):
    # Ray writes each failure to the trial's error file, then asks Trial.should_recover (TuneController).
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment.trial import Trial

    from tunelab.experiments.run.ray_internals import recovery_refused

    assert "trial.handle_error(exception)" in inspect.getsource(TuneController._process_trial_failure)
    assert "trial.should_recover()" in inspect.getsource(TuneController._process_trial_failure)
    trial = Trial("f", stub=True, max_failures=3)
    error_file = tmp_path / "error.txt"
    error_file.write_text("Failure # 1 (occurred at x)\nTrialOutOfMemory: out of memory\n"
                          "Failure # 2 (occurred at y)\nValueError: other\n")
    trial.run_metadata.error_filename = error_file.name
    trial.storage = SimpleNamespace(trial_working_directory=str(tmp_path), trial_driver_staging_path=str(tmp_path))
    seen = []
    with recovery_refused(lambda failure: seen.append(failure) or "OOM" in failure or "out of memory" in failure):
        assert trial.error_file == str(error_file)
        assert trial.should_recover() is True  # the latest failure is ValueError: retried as Ray would
        error_file.write_text(error_file.read_text() + "Failure # 3 (occurred at z)\nTrialOutOfMemory: out of memory\n")
        assert trial.should_recover() is False
    assert seen[0].startswith("2 (occurred at y)") and trial.should_recover() is True  # Ray's own again
