"""Early-stopping schedulers: integer rung and bracket arithmetic, then real Ray runs.

The Ray runs use a function trainable that behaves like tunelab's Keras one (reports `epoch`,
checkpoints every epoch, resumes after its checkpoint's epoch) but trains nothing, so a trial
costs milliseconds and the tests measure the schedulers. One Keras run on digits checks
successive halving end to end with `trainables.train`.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ray import tune

from tunelab.core.run_folder import EVENTS_FILE
from tunelab.experiments.run.ray_internals import take_back_suggestions
from tunelab.experiments.errors import SpecError
from tunelab.experiments.schedulers import (
    HyperbandScheduler, RecordingASHAScheduler, SuccessiveHalvingScheduler, halving_to_one_rungs, halvings_to_one,
    hyperband_brackets, hyperband_epochs, hyperband_fill, hyperband_rungs, integer_log, refuse_without_checkpoints,
    rung_trials, successive_halving_epochs, successive_halving_rungs,
)
from tunelab.experiments.schedulers.replay import history_epoch, replay_halvings
from tunelab.experiments.schedulers.rungs import hyperband_place
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.trial_events import TrialEventLog, TrialOutcomeCallback
from tunelab.searchspaces.inline import space_from_dict

# --- integer arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "base", "expected"), [
    (243, 3, 5), (242, 3, 4), (81, 3, 4), (9, 3, 2), (8, 2, 3), (10, 3, 2), (1, 3, 0), (2, 3, 0), (3**20, 3, 20),
])
def test_integer_log_is_exact_at_powers(n, base, expected):
    assert integer_log(n, base) == expected


@pytest.mark.parametrize(("max_t", "eta", "min_t", "rungs"), [
    (9, 3, None, [1, 3, 9]),
    (10, 3, None, [1, 3, 10]),
    (243, 3, None, [1, 3, 9, 27, 81, 243]),
    (8, 2, None, [1, 2, 4, 8]),
    (20, 3, None, [2, 6, 20]),
    (9, 3, 3, [3, 9]),
    (9, 3, 9, [9]),
])
def test_successive_halving_rungs(max_t, eta, min_t, rungs):
    assert successive_halving_rungs(max_t, eta, min_t) == rungs


def test_successive_halving_epochs_count_the_whole_budget():
    assert successive_halving_epochs(9, [1, 3, 9], 3) == 9 * 1 + 3 * 2 + 1 * 6 == 21
    assert successive_halving_epochs(8, [1, 3, 9], 3) == 8 * 1 + 3 * 2 + 1 * 6  # ceil(8 / 3) go on
    # resumed trials train only the epochs since their last rung: 81 + 27*2 + 9*6 + 3*18 + 1*54
    assert successive_halving_epochs(81, successive_halving_rungs(81, 3), 3) == 297


@pytest.mark.parametrize(("n", "eta", "halvings"), [
    (1, 3, 0), (2, 3, 1), (3, 3, 1), (4, 3, 2), (9, 3, 2), (10, 3, 3), (27, 3, 3), (28, 3, 4), (243, 3, 5),
    (8, 2, 3), (9, 2, 4),
])
def test_halvings_to_one_are_the_ceiling_of_log_eta_n(n, eta, halvings):
    assert halvings_to_one(n, eta) == halvings
    assert rung_trials(n, [0] * (halvings + 1), eta)[-1] == 1  # keeping ceil(n / eta) each time leaves one


@pytest.mark.parametrize(("n", "epochs", "eta", "rungs", "trials"), [
    (27, 27, 3, [1, 3, 9, 27], [27, 9, 3, 1]),
    (9, 9, 3, [1, 3, 9], [9, 3, 1]),
    (10, 27, 3, [1, 3, 9, 27], [10, 4, 2, 1]),
    (9, 20, 3, [2, 6, 20], [9, 3, 1]),   # epochs // 3**2 = 2 epochs at the first rung
    (5, 9, 2, [1, 2, 4, 9], [5, 3, 2, 1]),
    (1, 9, 3, [9], [1]),                 # nothing to halve
])
def test_sha_halves_n_configurations_to_one_within_the_epochs(n, epochs, eta, rungs, trials):
    assert halving_to_one_rungs(n, epochs, eta) == rungs
    assert rung_trials(n, rungs, eta) == trials


def test_sha_refuses_halvings_that_do_not_fit_in_one_line_naming_the_key():
    with pytest.raises(SpecError, match=r"^epochs: 9 cannot hold the 3 halvings that take 27 configurations to one "
                                        r"at factor 3 .*use epochs >= 27, num_samples <= 9 or a larger "
                                        r"reduction_factor$"):
        halving_to_one_rungs(27, 9, 3)
    with pytest.raises(SpecError, match=r"^strategy.min_epochs: 3 puts the last of 2 halvings at epoch 9, not "
                                        r"before epochs \(9\); use min_epochs <= 1$"):
        halving_to_one_rungs(9, 9, 3, min_epochs=3)
    assert halving_to_one_rungs(9, 27, 3, min_epochs=2) == [2, 6, 27]


@pytest.mark.parametrize(("max_t", "eta", "count"), [
    (243, 3, 6), (81, 3, 5), (9, 3, 3), (8, 2, 4), (10, 3, 3),
    (26, 3, 3),   # Ray rounds log(26)/log(3) = 2.97 up: a 4th bracket starting at 0 epochs
    (729, 3, 7),  # Ray truncates 729 * 3**-6 = 0.99… to 0 and drops the 1-epoch bracket
])
def test_hyperband_bracket_counts_use_integer_logarithms(max_t, eta, count):
    brackets = hyperband_brackets(max_t, eta)
    scheduler = HyperbandScheduler(max_t=max_t, reduction_factor=eta, metric="score", mode="max")
    assert len(brackets) == len(scheduler.brackets) == count
    assert brackets[0][1] == max_t // eta ** (count - 1) >= 1 and brackets[-1] == (count, max_t)


def test_hyperband_epochs_fill_the_brackets_most_aggressive_first():
    # 9 epochs, eta 3: brackets (9 from epoch 1), (5 from 3), (3 from 9); each halves by ceil(n / 3)
    assert hyperband_epochs(9, 9, 3) == 9 * 1 + 3 * 2 + 1 * 6
    assert hyperband_epochs(14, 9, 3) == 21 + 5 * 3 + 2 * 6
    assert hyperband_epochs(17 + 2, 9, 3) == 21 + 27 + 3 * 9 + 2 * 1 + 1 * 2 + 1 * 6  # a second band begins


def test_hyperband_fills_what_its_trials_reach_and_places_each_trial_there():
    """The plan's counts (`hyperband_fill`) and the scheduler's placing (`hyperband_place`) are one rule."""
    assert hyperband_fill(12, 9, 3) == [(0, 0, 9), (0, 1, 3)]  # not the whole band of 9 + 5 + 3
    assert hyperband_fill(20, 9, 3) == [(0, 0, 9), (0, 1, 5), (0, 2, 3), (1, 0, 3)]
    brackets = hyperband_brackets(9, 3)
    assert [hyperband_place(position, brackets) for position in (0, 8, 9, 13, 14, 16, 17, 19)] == [
        (0, 0), (0, 0), (0, 1), (0, 1), (0, 2), (0, 2), (1, 0), (1, 0)]


def test_hyperband_brackets_match_the_paper():
    assert hyperband_brackets(81, 3) == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    assert hyperband_brackets(9, 3) == [(9, 1), (5, 3), (3, 9)]
    assert hyperband_rungs(9, 3) == [1, 3, 9]
    assert hyperband_rungs(10, 3) == [1, 3, 10]


def test_pausing_schedulers_refuse_rungs_without_checkpoints():
    refuse_without_checkpoints(1, [1, 3, 9], "sha")
    refuse_without_checkpoints(3, [3, 9], "sha")
    refuse_without_checkpoints(4, [4, 10], "hyperband")  # the last rung is max_t, always checkpointed
    with pytest.raises(SpecError, match=r"^checkpoint_every: 2 leaves no checkpoint at epoch 1, 3, where sha") as error:
        refuse_without_checkpoints(2, successive_halving_rungs(9, 3), "sha")
    assert "\n" not in str(error.value)
    with pytest.raises(SpecError, match="at epoch 1, 3, where hyperband"):
        refuse_without_checkpoints(9, hyperband_rungs(10, 3), "hyperband")


@pytest.mark.parametrize("build", [
    lambda: SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], metric="score", mode="max"),
    lambda: HyperbandScheduler(max_t=9, metric="score", mode="max"),
    lambda: RecordingASHAScheduler(max_t=9, metric="score", mode="max"),
])
def test_schedulers_accept_the_tuners_metric_and_mode_when_they_are_their_own(build):
    """The runner gives the experiment's metric and mode to the Tuner too; Ray refused any."""
    assert build().set_search_properties("score", "max")
    assert build().set_search_properties(None, None)
    assert not build().set_search_properties("loss", "max")
    assert not build().set_search_properties("score", "min")


def test_hyperband_brackets_leave_the_concurrency_limit_to_the_plan():
    """A bracket of 27 that gets 10 trials under a limit of 10 waits for nobody: no refusal at run time."""
    hyperband = HyperbandScheduler(max_t=27, metric="score", mode="max", events=TrialEventLog())
    controller = SimpleNamespace(search_alg=SimpleNamespace(max_concurrent=10, searcher=None))
    hyperband.on_trial_add(controller, stub(1, 0))
    assert hyperband.brackets[0] == (27, 1)


def test_constructors_refuse_bad_arguments():
    with pytest.raises(ValueError, match="reduction_factor"):
        SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], reduction_factor=1.5)
    with pytest.raises(ValueError, match="num_trials"):
        SuccessiveHalvingScheduler(num_trials=0, rungs=[1, 3, 9])
    with pytest.raises(ValueError, match="rungs must be ascending"):
        SuccessiveHalvingScheduler(num_trials=9, rungs=[3, 3, 9])
    with pytest.raises(ValueError, match="min_t must be <= max_t"):
        successive_halving_rungs(9, 3, min_t=10)
    with pytest.raises(ValueError, match="min_t 5 leaves no rung before max_t 9 .* use min_t <= 3"):
        successive_halving_rungs(9, 3, min_t=5)
    with pytest.raises(ValueError, match="mode"):
        HyperbandScheduler(max_t=9, mode="maximize")
    with pytest.raises(ValueError, match="grace_period must be <= max_t"):
        RecordingASHAScheduler(max_t=3, grace_period=4)


# --- real Ray runs ---------------------------------------------------------------------------


def fast_train(config: dict[str, Any], epochs: int) -> None:
    """Like trainables.train, without the training: score = start + slope * epoch.

    With `trace` it appends "key epoch" for every epoch it trains, whatever Ray's logs keep.
    """
    config = config.get("grid", config)
    done = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            done = json.loads((Path(folder) / "state.json").read_text())["epoch"]
    else:
        time.sleep(config.get("delay", 0.0))
    if "fail_marker" in config and not Path(config["fail_marker"]).exists():
        Path(config["fail_marker"]).touch()  # fails once, before its first report
        raise RuntimeError("simulated failure")
    for epoch in range(done + 1, epochs + 1):
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps({"epoch": epoch}))
            score = config["start"] + config["slope"] * epoch
            if "trace" in config:
                with open(config["trace"], "a") as trace:
                    trace.write(f"{config['key']} {epoch}\n")
            tune.report({"epoch": epoch, "score": score}, checkpoint=tune.Checkpoint.from_directory(folder))


def run(tmp_path: Path, trainable, scheduler, *, metric="score", configs=None, grid=None, concurrent=None,
        callbacks=(), retries=0) -> tuple[dict[str, tuple[dict, list[dict]]], list[dict]]:
    """Runs `configs` (one by one, from a searcher) or `grid` (all trials created up front).

    Returns {trial_id: (config, every result it reported)} and the scheduler's recorded events.
    """
    scheduler._events.attach(str(tmp_path / "run"))
    tuner = tune.Tuner(
        trainable,
        param_space={"grid": tune.grid_search(grid)} if grid is not None else {},
        tune_config=tune.TuneConfig(
            metric=metric, mode="max", scheduler=scheduler, reuse_actors=True, max_concurrent_trials=concurrent,
            search_alg=ConfigSequenceSearcher(configs) if configs is not None else None,
            num_samples=len(configs) if configs is not None else 1,
        ),
        run_config=tune.RunConfig(name="run", storage_path=str(tmp_path), verbose=0,
                                  callbacks=[TrialOutcomeCallback(scheduler._events), *callbacks],
                                  failure_config=tune.FailureConfig(max_failures=retries)),
    )
    return collect(tmp_path, tuner.fit())


def collect(tmp_path: Path, results) -> tuple[dict[str, tuple[dict, list[dict]]], list[dict]]:
    trials = {}
    for result in results:
        if result.error is not None:
            continue
        reports = [json.loads(line) for line in (Path(result.path) / "result.json").read_text().splitlines()]
        if not reports:
            continue  # see test_hyperband_resumed_after_a_driver_crash_ends_as_an_uninterrupted_run
        trials[reports[0]["trial_id"]] = (result.config.get("grid", result.config), reports)
    events = [json.loads(line) for line in (tmp_path / "run" / EVENTS_FILE).read_text().splitlines()]
    return trials, events


def fast(epochs: int, cpus: int = 1):
    return tune.with_resources(tune.with_parameters(fast_train, epochs=epochs), {"cpu": cpus})


def epochs_of(reports: list[dict]) -> list[int]:
    return [report["epoch"] for report in reports]


def value_at(reports: list[dict], epoch: int, metric: str) -> float:
    return next(report[metric] for report in reports if report["epoch"] == epoch)


def assert_halved_9_3_1(trials: dict, events: list[dict], metric: str) -> dict[int, set[str]]:
    """9 configurations, eta 3, max_t 9: the best 3 of epoch 1 reach epoch 3, the best of those epoch 9."""
    reached = {rung: {tid for tid, (_, reports) in trials.items() if rung in epochs_of(reports)} for rung in (1, 3, 9)}
    assert [len(reached[rung]) for rung in (1, 3, 9)] == [9, 3, 1]
    for rung, next_rung in ((1, 3), (3, 9)):
        def value(tid: str) -> float:
            return value_at(trials[tid][1], rung, metric)
        assert min(map(value, reached[next_rung])) >= max(map(value, reached[rung] - reached[next_rung]))
    for _, reports in trials.values():  # paused and resumed, yet no epoch reported (trained) twice
        assert epochs_of(reports) == list(range(1, len(reports) + 1))
    assert sum(len(reports) for _, reports in trials.values()) == 9 * 1 + 3 * (3 - 1) + 1 * (9 - 3) == 21

    decisions = Counter((event["event"], event.get("rung")) for event in events if event["event"] != "completed")
    # Each rung's last arrival is answered at once; every other trial pauses there.
    assert decisions[("paused", 1)] == 8 and decisions[("stopped", 1)] == 6
    assert decisions[("paused", 3)] == 2 and decisions[("stopped", 3)] == 2
    resumed = {event["trial_id"] for event in events if event["event"] == "resumed"}
    paused = {event["trial_id"] for event in events if event["event"] == "paused"}
    assert resumed and resumed <= paused & reached[3]
    for event in (event for event in events if event["event"] == "stopped"):
        reports = trials[event["trial_id"]][1]
        assert event["epoch"] == event["rung"] == epochs_of(reports)[-1]
        assert event["cutoff"] >= value_at(reports, event["rung"], metric) and event["rank"] > 1
    return reached


# Rankings change between rungs: c2 is third at epoch 1 and first at epoch 3.
SHA_CONFIGS = [
    {"start": start, "slope": slope}
    for start, slope in [(0.50, 0.00), (0.10, 0.08), (0.40, 0.06), (0.30, 0.05), (0.20, 0.00),
                         (0.45, 0.02), (0.05, 0.09), (0.35, 0.00), (0.15, 0.03)]
]


class StaleStorage(tune.Callback):
    """Empties each paused trial's result files in storage, as a periodic sync taken before
    its last reports would leave them; Ray restarts a paused trial with the stored copies."""

    def on_trial_save(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        for name in ("result.json", "progress.csv"):
            stored = Path(trial.storage.trial_fs_path, name)
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text("")


@pytest.mark.slow
def test_sha_nine_configurations_halve_to_three_then_one_in_21_epochs(tmp_path, ray_session):
    sha = SuccessiveHalvingScheduler(num_trials=9, rungs=halving_to_one_rungs(9, 9, 3), reduction_factor=3,
                                     events=TrialEventLog())
    assert sha.rungs == [1, 3, 9]

    trials, events = run(tmp_path, fast(9), sha, configs=SHA_CONFIGS, callbacks=[StaleStorage()])

    reached = assert_halved_9_3_1(trials, events, "score")
    starts = {tid: config["start"] for tid, (config, _) in trials.items()}
    assert sorted(starts[tid] for tid in reached[3]) == [0.40, 0.45, 0.50]
    assert [starts[tid] for tid in reached[9]] == [0.40]  # third at epoch 1, first at epoch 3


@pytest.mark.parametrize("retries", [0, 1])
@pytest.mark.slow
def test_sha_drops_a_failed_trial_from_the_rung_unless_ray_retries_it(tmp_path, ray_session, retries):
    configs = [dict(config) for config in SHA_CONFIGS]
    configs[8]["fail_marker"] = str(tmp_path / "failed-once")  # a poor configuration, the last to start

    sha = SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], events=TrialEventLog())
    trials, events = run(tmp_path, fast(9), sha, configs=configs, retries=retries)

    errored = [event for event in events if event["event"] == "errored"]
    if retries:  # retried from scratch, it rejoins the cohort: 9 -> 3 -> 1 as without the failure
        assert not errored
        assert_halved_9_3_1(trials, events, "score")
    else:  # the other 8 meet at epoch 1 without it: 8 -> 3 -> 1
        assert len(errored) == 1 and len(trials) == 8
        assert sorted(len(reports) for _, reports in trials.values()) == [1] * 5 + [3] * 2 + [9]


@pytest.mark.slow
def test_sha_with_room_for_one_trial_still_runs_all_nine_to_the_rung(tmp_path, ray_session):
    """Paused trials free their CPUs: one 2-CPU trial at a time, nine trials meet at epoch 1."""
    sha = SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], events=TrialEventLog())
    trials, _ = run(tmp_path, fast(9, cpus=2), sha, configs=SHA_CONFIGS)
    assert sorted(len(reports) for _, reports in trials.values()) == [1] * 6 + [3] * 2 + [9]


@pytest.mark.slow
def test_sha_refuses_a_concurrency_limit_that_would_wait_forever(tmp_path, ray_session):
    """Ray's max_concurrent_trials counts paused trials, so trials 3 to 9 would never start."""
    sha = SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], events=TrialEventLog())
    with pytest.raises(ValueError, match="max_concurrent_trials: 2 is below the 9 trials"):
        run(tmp_path, fast(9), sha, configs=SHA_CONFIGS, concurrent=2)


@pytest.mark.slow
def test_hyperband_pauses_a_trial_and_resumes_it_without_repeating_epochs(tmp_path, ray_session):
    hyperband = HyperbandScheduler(max_t=3, reduction_factor=3, events=TrialEventLog())
    assert hyperband_brackets(3, 3) == [(3, 1), (2, 3)]
    # The most aggressive bracket fills first: a, b, c meet at epoch 1, where a (no delay) waits,
    # paused, for b and c, then resumes as the best of the three; d and e run 3 epochs.
    # A grid creates every trial up front, so each bracket knows all its trials from the start.
    quality = {"a": 0.9, "b": 0.5, "c": 0.6, "d": 0.2, "e": 0.3}
    grid = [{"key": key, "start": start, "slope": 0.01, "delay": 1.0 * (key in "bc")} for key, start in quality.items()]

    trials, events = run(tmp_path, fast(3), hyperband, grid=grid, callbacks=[StaleStorage()])

    epochs = {config["key"]: epochs_of(reports) for config, reports in trials.values()}
    assert epochs == {"a": [1, 2, 3], "b": [1], "c": [1], "d": [1, 2, 3], "e": [1, 2, 3]}
    key = {tid: config["key"] for tid, (config, _) in trials.items()}
    decisions = {(key[event["trial_id"]], event["event"], event.get("rung")) for event in events
                 if event["event"] not in ("completed", "bracket")}
    expected = {("a", "paused", 1), ("a", "resumed", 1), ("b", "stopped", 1), ("c", "stopped", 1)}
    assert expected <= decisions <= expected | {("b", "paused", 1), ("c", "paused", 1)}  # the first of b, c waits
    (resumed,) = [event for event in events if event["event"] == "resumed"]
    assert resumed["epoch"] == 1 and resumed["next_rung"] == 3 and resumed["rank"] == 1
    placed = {key[event["trial_id"]]: (event["band"], event["bracket"], event["first_rung"])
              for event in events if event["event"] == "bracket"}
    assert placed == {"a": (0, 0, 1), "b": (0, 0, 1), "c": (0, 0, 1), "d": (0, 1, 3), "e": (0, 1, 3)}


@pytest.mark.slow
def test_asha_stops_a_poor_trial_at_the_grace_period_and_records_the_cutoff(tmp_path, ray_session):
    asha = RecordingASHAScheduler(max_t=9, grace_period=1, reduction_factor=3, events=TrialEventLog())
    configs = [{"key": "good", "start": 0.9, "slope": 0.01}, {"key": "poor", "start": 0.1, "slope": 0.01}]

    trials, events = run(tmp_path, fast(9), asha, configs=configs, concurrent=1)  # good first

    epochs = {config["key"]: epochs_of(reports) for config, reports in trials.values()}
    assert epochs == {"good": list(range(1, 10)), "poor": [1]}
    (stop,) = [event for event in events if event["event"] == "stopped"]
    assert trials[stop["trial_id"]][0]["key"] == "poor"
    assert stop["epoch"] == stop["rung"] == 1
    assert stop["cutoff"] == pytest.approx(0.91) and stop["value"] == pytest.approx(0.11)


@pytest.mark.slow
def test_sha_on_keras_digits_resumes_paused_models_from_their_checkpoints(tmp_path, ray_session):
    from tunelab.trainables import RunSettings, load_dataset, train

    space = space_from_dict({
        "num_layers": 1,
        "units_1": {"type": "int", "low": 4, "high": 32, "log": True},
        "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
    })
    configs = space.sample_many(9, seed=3)
    trainable = tune.with_parameters(train, data=load_dataset("digits"),
                                     run=RunSettings(model="mlp", epochs=9, batch_size=256))
    sha = SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], events=TrialEventLog())

    trials, events = run(tmp_path, trainable, sha, metric="val_accuracy", configs=configs)

    assert_halved_9_3_1(trials, events, "val_accuracy")
    winner = next(reports for _, reports in trials.values() if len(reports) == 9)
    assert winner[-1]["val_accuracy"] > 0.5


# --- resuming after the driver died ----------------------------------------------------------
# Ray restores trials (status, last result, checkpoint) but not the scheduler's rungs and brackets.


class Restored(SimpleNamespace):
    __hash__ = object.__hash__  # a Trial is hashable by identity


def stub(tag: int, epoch: int, score: float = 0.0, status: str = "PENDING", started: bool = True) -> Restored:
    """A restored trial as the schedulers see it: status, last result, the searcher's counter, its folder."""
    last = {"epoch": epoch, "score": score} if epoch else {}
    return Restored(trial_id=f"t{tag}", experiment_tag=f"{tag}_x=1", status=status,
                    run_metadata=SimpleNamespace(last_result=last), relative_logdir=f"trial_t{tag}" if started else None)


def replay(trials, rungs=(1, 3, 9), first_rung_complete=True, history=None, unsuggested=0, decisions=None, whole=False):
    replayed = replay_halvings(
        trials, list(rungs), keep=lambda _, reached: -(-reached // 3),
        rank=lambda trial: (-trial.run_metadata.last_result["score"], trial.experiment_tag),
        first_rung_complete=first_rung_complete, unsuggested=unsuggested,
        recorded_epoch=lambda trial: (history or {}).get(trial.trial_id, 0),
        recorded_decision=lambda trial, rung: (decisions or {}).get((trial.trial_id, rung)),
    )
    ids = lambda trials: {t.trial_id for t in trials}  # noqa: E731
    if whole:
        return replayed.halvings, ids(replayed.survivors), ids(replayed.losers), ids(replayed.ahead), replayed.lost_there
    assert not replayed.ahead and not replayed.lost_there
    return replayed.halvings, ids(replayed.survivors), ids(replayed.losers)


def test_replay_tells_survivors_from_losers_that_ray_restores_as_paused():
    # The last of nine reached epoch 1 and went on: Ray had stopped six paused losers, but its
    # snapshot still says PAUSED for them, so all eight come back PENDING at epoch 1.
    trials = [stub(i, 1, score) for i, score in enumerate([0.5, 0.9, 0.1, 0.2, 0.8, 0.3, 0.4, 0.6], start=1)]
    trials.append(stub(9, 2, 0.95))
    assert replay(trials) == (1, {"t9", "t2", "t5"}, {"t1", "t3", "t4", "t6", "t7", "t8"})


def test_replay_keeps_a_trial_the_snapshot_lags_behind_when_its_history_went_past_the_rung():
    # Found by a kill -9 in the full suite: the ninth trial started after Ray's last snapshot (PENDING,
    # no result there), reached epoch 1 first of all, decided the rung and trained epoch 2. Counted a
    # loser, it was stopped on resume and the run ended with exit 0 without its result.
    trials = [stub(i, 1, score, status="TERMINATED") for i, score in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 1)]
    trials += [stub(7, 1, 0.8, status="PAUSED"), stub(8, 1, 0.7, status="PAUSED"), stub(9, 0)]
    assert replay(trials, history={"t9": 2}) == (1, {"t7", "t8", "t9"}, {f"t{i}" for i in range(1, 7)})
    assert replay(trials, history={"t9": 1})[2] >= {"t9"}  # no further than the rung: no sign it survived
    ended_there = trials[:8] + [stub(9, 1, 0.9, status="TERMINATED")]
    assert replay(ended_there, history={"t1": 5})[1] == {"t7", "t8", "t9"}  # an ended trial's snapshot decides


def test_a_trial_added_since_the_restore_has_no_history_to_read():
    class NoFolderYet:  # Ray's storage context of a trial the searcher created after the restore
        @property
        def trial_fs_path(self):
            raise RuntimeError("Should not access `trial_fs_path` without setting `trial_dir_name`")

    assert history_epoch(SimpleNamespace(storage=NoFolderYet())) == 0  # found by the kill -9 test: the resume crashed


def test_a_rung_decided_with_trials_the_snapshot_lost_is_decided_again_once_they_reach_it():
    # Found by a kill -9 in the full suite: Ray's snapshot held 5 of 9 trials; the resume sets the other
    # four aside and suggests their configurations again. The first rung had been decided with them:
    # t5 went past it and t4 was recorded promoted (both keep their places), t1 recorded stopped and t3
    # ended there (both count in the comparison); t2 waits at the rung with the four new trials for the
    # one place left of ceil(9 / 3). Before, the new trials were stopped before they started: exit 1.
    restored = [stub(1, 1, 0.1), stub(2, 1, 0.6), stub(3, 1, 0.2, status="TERMINATED"), stub(4, 1, 0.8),
                stub(5, 1, 0.9)]
    new = [stub(tag, 0, started=False) for tag in range(6, 10)]
    decisions = {("t1", 1): "stopped", ("t4", 1): "resumed"}
    assert replay(restored + new, history={"t5": 2}, decisions=decisions, whole=True) == (
        0, {"t2", "t6", "t7", "t8", "t9"}, {"t1", "t3"}, {"t4", "t5"}, 2)
    # The searcher has yet to suggest them again: the same, the newcomers arriving later.
    assert replay(restored, history={"t5": 2}, decisions=decisions, unsuggested=4, whole=True) == (
        0, {"t2"}, {"t1", "t3"}, {"t4", "t5"}, 2)
    # Without any trial lost, the rung is replayed as decided.
    assert replay(restored + [stub(t, 1, 0.05) for t in range(6, 10)], history={"t5": 2})[0] == 1


def test_replay_waits_at_a_rung_that_was_not_decided():
    trials = [stub(1, 1, 0.5), stub(2, 1, 0.9), stub(3, 0), stub(4, 0)]  # two still training to epoch 1
    assert replay(trials) == (0, {"t1", "t2", "t3", "t4"}, set())
    everyone_there = [stub(i, 1, 0.1 * i) for i in range(1, 4)]
    assert replay(everyone_there, first_rung_complete=False)[0] == 0  # the searcher has more to hand out
    assert replay(everyone_there) == (1, {"t3"}, {"t1", "t2"})  # the last arrival decided it at once


def test_replay_after_the_second_rung():
    trials = [stub(i, 1, 0.1) for i in range(1, 7)]  # lost at epoch 1
    trials += [stub(7, 3, 0.7, status="TERMINATED"),  # the last arrival at epoch 3, stopped there
               stub(8, 3, 0.6), stub(9, 5, 0.9)]       # stopped while paused (stale), and the winner
    assert replay(trials) == (2, {"t9"}, {f"t{i}" for i in range(1, 9)})


def test_replay_drops_a_trial_that_failed_before_a_decided_rung():
    # t3 errored at epoch 0 and comes back with resume_errored; the rung went on without it.
    trials = [stub(1, 2, 0.9), stub(2, 1, 0.5), stub(3, 0)]
    assert replay(trials, rungs=(1, 3)) == (1, {"t1"}, {"t2", "t3"})


class DriverCrash(tune.Callback):
    """Raises out of Ray's event loop once `after` results have come in, as a killed driver would.

    What a resumed run gets is Ray's last saved experiment state (saved every step here, with
    TUNE_GLOBAL_CHECKPOINT_S=0) as uploaded to storage. The crash waits for a step where no
    checkpoint is being saved and uploads that state first: Ray records a result one step before
    its checkpoint, and a trial restored in between retrains that epoch whatever the scheduler
    does (tests/scripts/test_crash_resume_schedulers.py kills a real driver). Only once: the
    resumed run gets this callback back from tuner.pkl and finds the marker.
    """

    def __init__(self, marker: Path, after: int) -> None:
        self.marker, self.after, self.results = str(marker), after, 0

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.results += 1

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if self.results < self.after or Path(self.marker).exists() or any(t.is_saving for t in trials):
            return
        storage = trials[0].storage
        storage.syncer.wait()
        storage.syncer.sync_up(storage.experiment_driver_staging_path, storage.experiment_fs_path)
        storage.syncer.wait()
        # A new driver starts a new Ray session with empty local copies; this one would reuse them.
        shutil.rmtree(storage.experiment_driver_staging_path)
        Path(self.marker).touch()
        raise RuntimeError("driver killed")


def crash_then_resume(tmp_path: Path, monkeypatch, trainable, scheduler, after: int, **kwargs):
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0")
    with pytest.raises(RuntimeError, match="driver killed"):
        run(tmp_path, trainable, scheduler, callbacks=[DriverCrash(tmp_path / "crashed", after)], **kwargs)
    # What launch.py --resume does; the scheduler comes back as pickled before the first trial.
    return collect(tmp_path, tune.Tuner.restore(str(tmp_path / "run"), trainable, resume_errored=True).fit())


# Three brackets in ten trials: max_t 4, eta 2 gives brackets of 4 trials from epoch 1 (2, then 1
# go on), 3 from epoch 2 (2 go on) and 3 from epoch 4; in the first, rankings change by epoch 2.
HYPERBAND_GRID = [{"key": key, "start": start, "slope": slope} for key, start, slope in [
    ("a", 0.7, 0.0), ("b", 0.2, 0.3), ("c", 0.55, 0.1), ("d", 0.1, 0.0),
    ("e", 0.3, 0.2), ("f", 0.6, 0.0), ("g", 0.5, 0.01),
    ("h", 0.5, 0.01), ("i", 0.6, 0.0), ("j", 0.4, 0.02),
]]


def trained(trace: Path) -> dict[str, list[int]]:
    epochs: dict[str, list[int]] = {}
    for line in trace.read_text().splitlines():
        key, epoch = line.split()
        epochs.setdefault(key, []).append(int(epoch))
    return epochs


@pytest.mark.slow
def test_hyperband_resumed_after_a_driver_crash_ends_as_an_uninterrupted_run(tmp_path, ray_session, monkeypatch):
    """Epochs are counted as the trainable trains them: Ray's result.json of a trial that pauses and
    resumes can lose its first lines (its background upload can rewrite the stored copy while the
    restarted trial reads it back), with or without a crash."""
    assert hyperband_brackets(4, 2) == [(4, 1), (3, 2), (3, 4)]
    reference = tmp_path / "reference.trace"
    run(tmp_path / "reference", fast(4), HyperbandScheduler(max_t=4, reduction_factor=2, events=TrialEventLog()),
        grid=[{**config, "trace": str(reference)} for config in HYPERBAND_GRID])
    expected = {key: sorted(epochs) for key, epochs in trained(reference).items()}
    # a-d meet at 1, where a leads, and at 2, where c has overtaken it; e-g meet at 2; h-j run 4 epochs.
    assert {key: len(epochs) for key, epochs in expected.items()} == {
        "a": 2, "b": 1, "c": 4, "d": 1, "e": 4, "f": 4, "g": 2, "h": 4, "i": 4, "j": 4}

    crashed = tmp_path / "crashed.trace"
    _, events = crash_then_resume(
        tmp_path / "crashed", monkeypatch, fast(4), HyperbandScheduler(
            max_t=4, reduction_factor=2, events=TrialEventLog()),
        after=12, grid=[{**config, "trace": str(crashed)} for config in HYPERBAND_GRID])

    epochs = trained(crashed)
    assert {key: sorted(set(trained_epochs)) for key, trained_epochs in epochs.items()} == expected
    # Only what was in flight when the driver died is trained again: an epoch per running trial.
    assert sum(map(len, epochs.values())) - sum(map(len, expected.values())) <= 2
    placed = sorted((event["band"], event["bracket"], event["first_rung"]) for event in events
                    if event["event"] == "bracket")
    assert placed == [(0, 0, 1)] * 4 + [(0, 1, 2)] * 3 + [(0, 2, 4)] * 3


@pytest.mark.slow
def test_asha_resumed_after_a_driver_crash_keeps_the_rungs_of_finished_trials(tmp_path, ray_session, monkeypatch):
    asha = RecordingASHAScheduler(max_t=9, grace_period=1, reduction_factor=3, events=TrialEventLog())
    configs = [{"key": "good", "start": 0.9, "slope": 0.01}, {"key": "poor", "start": 0.1, "slope": 0.01}]

    # The crash comes once good has finished: after resuming, poor must still meet good's rung values.
    trials, events = crash_then_resume(tmp_path, monkeypatch, fast(9), asha, after=9, configs=configs, concurrent=1)

    epochs = {config["key"]: epochs_of(reports) for config, reports in trials.values()}
    assert epochs == {"good": list(range(1, 10)), "poor": [1]}  # good not run again, nor any epoch twice
    (stop,) = [event for event in events if event["event"] == "stopped"]
    assert trials[stop["trial_id"]][0]["key"] == "poor"
    assert stop["rung"] == 1 and stop["cutoff"] == pytest.approx(0.91)


def forget_trials_after(run_folder: Path, kept: int, searcher: ConfigSequenceSearcher) -> set[str]:
    """Ray's newest saved state cut back to its first `kept` trials, as a snapshot taken before the rest
    started leaves it; the searcher's state takes them back, as a resume does for the trials it sets aside.
    Returns the ids of the trials forgotten."""
    state_file = sorted(run_folder.glob("experiment_state-*.json"))[-1]
    state = json.loads(state_file.read_text())
    trials = sorted((json.loads(trial) for trial, _ in state["trial_data"]),
                    key=lambda trial: int(trial["experiment_tag"].split("_")[0]))
    state["trial_data"] = [entry for entry in state["trial_data"]
                           if json.loads(entry[0])["trial_id"] in {trial["trial_id"] for trial in trials[:kept]}]
    state_file.write_text(json.dumps(state))
    take_back_suggestions(run_folder, {trial["trial_id"]: trial["config"] for trial in trials[kept:]}, searcher)
    return {trial["trial_id"] for trial in trials[kept:]}


@pytest.mark.slow
def test_sha_resumed_from_a_snapshot_that_lacked_trials_keeps_the_survivors_of_an_uninterrupted_run(
        tmp_path, ray_session, monkeypatch):
    """Killed after the first halving, with Ray's saved state holding 5 of the 9 trials (found by the
    kill -9 test): the resume sets the other four aside, their configurations are suggested again,
    train to epoch 1 and the rung is decided again without undoing what it had decided. Epochs are
    counted as the trainable trains them (Ray's result.json of a paused trial can lose lines)."""
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0")
    trace = tmp_path / "trained.trace"
    configs = [{**config, "key": str(index), "trace": str(trace)} for index, config in enumerate(SHA_CONFIGS)]
    sha = SuccessiveHalvingScheduler(num_trials=9, rungs=[1, 3, 9], events=TrialEventLog())
    with pytest.raises(RuntimeError, match="driver killed"):
        run(tmp_path, fast(9), sha, configs=configs, callbacks=[DriverCrash(tmp_path / "crashed", after=10)])
    forgotten = forget_trials_after(tmp_path / "run", kept=5, searcher=ConfigSequenceSearcher(configs))

    _, events = collect(tmp_path, tune.Tuner.restore(str(tmp_path / "run"), fast(9), resume_errored=True).fit())
    epochs = {key: sorted(set(trained_epochs)) for key, trained_epochs in trained(trace).items()}
    # Epoch 1: c0 0.50, c5 0.47, c2 0.46 go on; epoch 3: c2 0.58 beats c5 0.51 and c0 0.50.
    assert {int(key): len(trained_epochs) for key, trained_epochs in epochs.items()} == {
        0: 3, 1: 1, 2: 9, 3: 1, 4: 1, 5: 3, 6: 1, 7: 1, 8: 1}, epochs
    assert all(trained_epochs == list(range(1, len(trained_epochs) + 1)) for trained_epochs in epochs.values())
    stopped = [event for event in events if event["event"] == "stopped" and event["trial_id"] not in forgotten]
    assert sorted(event["rung"] for event in stopped) == [1] * 6 + [3] * 2  # each once, none twice
    assert all(event["of"] == 9 for event in stopped if event["rung"] == 1)


@pytest.mark.slow
def test_hyperband_resumed_from_a_snapshot_that_lacked_trials_ends_as_an_uninterrupted_run(
        tmp_path, ray_session, monkeypatch):
    """Killed once the second bracket's trials (e, f, g) had all reached its first rung, epoch 2, with Ray's
    saved state holding only the first 5 trials (the first bracket and e): the rung was decided with f and
    g, which the snapshot lacks. The configurations suggested again take the forgotten trials' places in
    the brackets (by creation order) and every configuration trains the epochs of the uninterrupted run
    (test_hyperband_resumed_after_a_driver_crash_ends_as_an_uninterrupted_run)."""
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0")
    trace = tmp_path / "trained.trace"
    configs = [{**config, "trace": str(trace)} for config in HYPERBAND_GRID]
    scheduler = HyperbandScheduler(max_t=4, reduction_factor=2, events=TrialEventLog())
    with pytest.raises(RuntimeError, match="driver killed"):
        run(tmp_path, fast(4), scheduler, configs=configs, callbacks=[DriverCrash(tmp_path / "crashed", after=12)])
    at_crash = trained(trace)
    assert all(2 in at_crash.get(key, []) for key in "efg"), at_crash  # the second bracket's first rung decided
    forgotten = forget_trials_after(tmp_path / "run", kept=5, searcher=ConfigSequenceSearcher(configs))
    assert len(forgotten) >= 3, forgotten  # f and g of the second bracket, h of the third, and any created after

    _, events = collect(tmp_path, tune.Tuner.restore(str(tmp_path / "run"), fast(4), resume_errored=True).fit())
    epochs = {key: sorted(set(trained_epochs)) for key, trained_epochs in trained(trace).items()}
    assert {key: len(trained_epochs) for key, trained_epochs in epochs.items()} == {
        "a": 2, "b": 1, "c": 4, "d": 1, "e": 4, "f": 4, "g": 2, "h": 4, "i": 4, "j": 4}, epochs
    assert all(trained_epochs == list(range(1, len(trained_epochs) + 1)) for trained_epochs in epochs.values())
    placed = sorted((event["band"], event["bracket"]) for event in events
                    if event["event"] == "bracket" and event["trial_id"] not in forgotten)
    assert placed == [(0, 0)] * 4 + [(0, 1)] * 3 + [(0, 2)] * 3  # the newcomers in the forgotten trials' places
