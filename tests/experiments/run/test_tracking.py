"""The `tracking:` key and the MLflow callback: checked before Ray starts, then each trial one MLflow run.

The callback tests drive `MlflowTracking` with stand-in trials against a real MLflow store (a sqlite
database, no server); the real server, a kill -9 and a resume are in tests/scripts/test_crash_resume.py.
"""
from __future__ import annotations

import json
import pickle
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.experiments.test_spec import VALID
from tunelab.experiments.errors import SpecError
from tunelab.experiments.spec import load_spec, spec_from_dict
from tunelab.experiments.tracking import TrackingSpec, check_mlflow, describe, tracking_callbacks

mlflow = pytest.importorskip("mlflow", reason="the tracking tests need mlflow (pip install -e '.[test]')")


def spec_with(tracking):
    return spec_from_dict({**VALID, "tracking": tracking})


def test_a_spec_without_tracking_tracks_nothing():
    assert spec_from_dict(VALID).tracking == TrackingSpec()


def test_the_tracking_key_and_its_set_override(tmp_path):
    server = spec_with({"mlflow": "http://127.0.0.1:5000", "checkpoint": True}).tracking
    assert server.mlflow == "http://127.0.0.1:5000" and server.checkpoint
    assert spec_with({"mlflow": "~/mlruns"}).tracking.mlflow == (Path.home() / "mlruns").as_uri()
    assert spec_with({"mlflow": "sqlite:////tmp/x/mlflow.db"}).tracking.mlflow == "sqlite:////tmp/x/mlflow.db"
    path = tmp_path / "e.yaml"
    path.write_text(json.dumps(VALID))
    spec = load_spec(path, ["tracking.mlflow=http://tracking.example:5000"])
    assert spec.tracking.mlflow == "http://tracking.example:5000"
    assert describe(server) == ["tracking: MLflow at http://127.0.0.1:5000 (with each trial's best checkpoint)"]


@pytest.mark.parametrize("tracking, message", [
    ("http://x", "tracking: expected a mapping like {mlflow: http://127.0.0.1:5000}, got 'http://x'"),
    ({"mlfow": "http://x"}, "tracking.mlfow: unknown key; allowed: mlflow, checkpoint, callbacks (did you mean 'mlflow'?)"),
    ({"mlflow": "mlruns"}, "tracking.mlflow: 'mlruns' is relative"),
    ({"mlflow": "sqlite:///mlflow.db"}, "use four slashes and an absolute path: sqlite:////abs/mlflow.db"),
    ({"mlflow": "ftp://host/x"}, "tracking.mlflow: 'ftp://host/x' has scheme 'ftp'; allowed: http, https, sqlite"),
    ({"mlflow": ""}, "tracking.mlflow: expected a tracking URI"),
    ({"mlflow": "http://x", "checkpoint": "yes"}, "tracking.checkpoint: expected true or false, got 'yes'"),
    ({"checkpoint": True}, "tracking.checkpoint: logs checkpoints to MLflow; give tracking.mlflow too"),
    ({"callbacks": "mod:Class"}, "tracking.callbacks: expected a list of module:Class entries"),
    ({"callbacks": ["no_colon"]}, "tracking.callbacks[0]: expected module:Class or {class: module:Class"),
    ({"callbacks": ["no_such_module_xyz:Logger"]}, "tracking.callbacks[0]: cannot import module 'no_such_module_xyz'"),
    ({"callbacks": ["json:JSONDecoder"]}, "tracking.callbacks[0]: json:JSONDecoder is a type, not a ray.tune.Callback"),
    ({"callbacks": ["json:Missing"]}, "tracking.callbacks[0]: json:Missing is not found"),
])
def test_tracking_mistakes_name_the_key(tracking, message):
    with pytest.raises(SpecError) as raised:
        spec_with(tracking)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_mlflow_missing_is_refused_with_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` meets where it is not installed
    with pytest.raises(SpecError, match=r"tracking.mlflow: the mlflow package is not installed; "
                                        r"pip install 'tunelab\[mlflow\]' \(in a checkout: pip install -e '.\[mlflow\]'\)"):
        check_mlflow("http://127.0.0.1:5000")


def test_a_server_that_does_not_answer_is_refused_before_anything_runs(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SpecError, match=rf"tracking.mlflow: no MLflow tracking server answers at "
                                        rf"http://127.0.0.1:{port} \(.*refused"):
        check_mlflow(f"http://127.0.0.1:{port}")
    with pytest.raises(SpecError, match="the database's folder /nonexistent/dir does not exist"):
        check_mlflow("sqlite:////nonexistent/dir/mlflow.db")


def test_user_callbacks_are_built_with_their_arguments_and_a_wrong_one_is_one_line(tmp_path):
    spec = spec_with({"callbacks": [{"class": "tests.experiments.helpers:TrialEndRecorder",
                                     "path": str(tmp_path / "ended.txt")}]})
    built = tracking_callbacks(spec.tracking, run_name="r", run_path=str(tmp_path), metric="val_accuracy",
                               mode="max", epochs=2, storage_is_local=True)
    assert type(built[0]).__name__ == "TrialEndRecorder" and built[0].path == str(tmp_path / "ended.txt")
    wrong = spec_with({"callbacks": [{"class": "tests.experiments.helpers:TrialEndRecorder", "folder": "x"}]})
    with pytest.raises(SpecError, match=r"tracking.callbacks\[0\]: tests.experiments.helpers:TrialEndRecorder"
                                        r"\(folder='x'\) raised TypeError"):
        tracking_callbacks(wrong.tracking, run_name="r", run_path=str(tmp_path), metric="val_accuracy",
                           mode="max", epochs=2, storage_is_local=True)


def test_checkpoint_artifacts_need_a_run_folder_on_a_filesystem(tmp_path):
    spec = spec_with({"mlflow": f"sqlite:///{tmp_path}/mlflow.db", "checkpoint": True})
    with pytest.raises(SpecError, match="tracking.checkpoint: artifacts are uploaded from the run folder"):
        tracking_callbacks(spec.tracking, run_name="r", run_path="s3://bucket/r", metric="val_accuracy",
                           mode="max", epochs=2, storage_is_local=False)


# --- the callback, against a real MLflow store -----------------------------------------------------


def trial(trial_id: str, **config) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config=config, error_file=None, status="TERMINATED")


def result(epoch: int, accuracy: float) -> dict:
    return {"epoch": epoch, "val_accuracy": accuracy, "loss": 1.0 / epoch, "training_iteration": epoch,
            "time_total_s": 1.5 * epoch, "timestamp": 1_790_000_000 + epoch, "done": False}


def tracker(run_path: Path, store: Path, **options):
    from tunelab.experiments.run.mlflow_tracking import MlflowTracking

    callback = MlflowTracking(f"sqlite:///{store}", run_path.name, str(run_path), metric="val_accuracy",
                              mode="max", epochs=3, **options)
    callback.setup()
    return callback


def runs_by_trial(store: Path, experiment: str) -> dict:
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return {run.data.tags["tunelab.trial_id"]: (run, {name: [(m.step, m.value) for m in
                                                          client.get_metric_history(run.info.run_id, name)]
                                                   for name in run.data.metrics}) for run in found}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One database for the module (creating one takes seconds); each test tracks into its own experiment."""
    return tmp_path_factory.mktemp("mlflow") / "mlflow.db"


@pytest.fixture
def run_folder(tmp_path):
    path = tmp_path / "results" / f"digits-{tmp_path.name}"
    path.mkdir(parents=True)
    return path


def test_each_trial_is_a_run_with_its_active_params_per_epoch_metrics_and_stop_reason(tmp_path, run_folder, store):
    callback = tracker(run_folder, store)
    done, cut = trial("aaaa1111", units_1=32, units_2=None, optimizer="adam"), trial("bbbb2222", units_1=8)
    for one in (done, cut):
        callback.on_trial_start(0, [], one)
    for epoch in (1, 2, 3):
        callback.on_trial_result(0, [], done, result(epoch, 0.5 + epoch / 10))
    callback.on_trial_result(0, [], cut, result(1, 0.2))
    (run_folder / "tunelab_trial_events.jsonl").write_text(json.dumps(
        {"trial_id": "bbbb2222", "event": "stopped", "time": 1.0, "epoch": 1, "rung": 1, "cutoff": 0.5}) + "\n")
    callback.on_trial_complete(0, [], done)
    callback.on_trial_complete(0, [], cut)

    runs = runs_by_trial(store, run_folder.name)
    run, metrics = runs["aaaa1111"]
    assert run.data.params == {"units_1": "32", "optimizer": "adam"}  # the inactive units_2 is absent
    assert metrics["val_accuracy"] == [(1, 0.6), (2, 0.7), (3, pytest.approx(0.8))]
    assert set(metrics) == {"val_accuracy", "loss"}  # Ray's bookkeeping is not a metric
    assert run.info.status == "FINISHED" and run.data.tags["stop_reason"] == "completed"
    assert run.info.run_name == "trial_aaaa1111"
    stopped, _ = runs["bbbb2222"]
    assert stopped.data.tags["stop_reason"] == "stopped"
    assert stopped.data.tags["stop_detail"] == "epoch 1, rung 1, cutoff 0.5"


def test_a_resumed_driver_continues_the_trials_run_and_logs_each_epoch_once(tmp_path, run_folder, store):
    first = tracker(run_folder, store)
    killed = trial("cccc3333", learning_rate=0.01)
    first.on_trial_start(0, [], killed)
    first.on_trial_result(0, [], killed, result(1, 0.5))
    # epoch 2 reached the run folder's history but the driver was killed before MLflow got it
    history = run_folder / "trial_cccc3333" / "tunelab_history.jsonl"
    history.parent.mkdir()
    history.write_text("".join(json.dumps(result(epoch, 0.4 + epoch / 10)) + "\n" for epoch in (1, 2)))

    resumed = pickle.loads(pickle.dumps(first))  # what Ray restores: the callback as pickled, no session
    resumed.setup()
    resumed.on_trial_start(0, [], killed)
    for epoch in (2, 3):  # the trial restarts from its epoch-1 checkpoint and trains epoch 2 again
        resumed.on_trial_result(0, [], killed, result(epoch, 0.45 + epoch / 10))
    resumed.on_trial_complete(0, [], killed)

    runs = runs_by_trial(store, run_folder.name)
    assert list(runs) == ["cccc3333"]
    run, metrics = runs["cccc3333"]
    assert [step for step, _ in metrics["val_accuracy"]] == [1, 2, 3]
    assert metrics["val_accuracy"][1] == (2, pytest.approx(0.6))  # from the run folder, logged on resume
    assert run.info.status == "FINISHED"


def test_the_run_of_a_trial_a_resume_set_aside_is_ended_and_deleted(run_folder, store):
    first = tracker(run_folder, store)
    kept, unsaved = trial("eeee5555", learning_rate=0.01), trial("ffff6666", learning_rate=0.02)
    for one in (kept, unsaved):
        first.on_trial_start(0, [], one)
        first.on_trial_result(0, [], one, result(1, 0.5))
    # killed before Ray saved ffff6666: the resume moves its folder aside and runs its config again
    (run_folder / ".unrecorded-trials-20261202-000000-000000" / "trial_ffff6666").mkdir(parents=True)

    resumed = pickle.loads(pickle.dumps(first))
    resumed.setup()

    assert list(runs_by_trial(store, run_folder.name)) == ["eeee5555"]
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    [gone] = client.search_runs([client.get_experiment_by_name(run_folder.name).experiment_id],
                                filter_string="tags.`tunelab.trial_id` = 'ffff6666'",
                                run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert gone.info.status == "KILLED" and gone.data.tags["stop_reason"] == "set_aside"


def test_an_errored_trial_ends_failed_with_its_error_and_checkpoints_are_artifacts(tmp_path, run_folder, store):
    callback = tracker(run_folder, store, log_checkpoint=True)
    error = tmp_path / "error.txt"
    error.write_text("Traceback (most recent call last):\n  ...\nValueError: loss became nan at epoch 2\n")
    failed = SimpleNamespace(trial_id="dddd4444", config={"learning_rate": 3.0}, error_file=str(error))
    good = trial("eeee5555", learning_rate=0.01)
    best = run_folder / "trial_eeee5555" / "best_checkpoint-epoch2"
    best.mkdir(parents=True)
    (best / "model.keras").write_bytes(b"weights")
    for one in (failed, good):
        callback.on_trial_start(0, [], one)
        callback.on_trial_result(0, [], one, result(1, 0.3))
    callback.on_trial_error(0, [], failed)
    callback.on_trial_complete(0, [], good)

    runs = runs_by_trial(store, run_folder.name)
    run, _ = runs["dddd4444"]
    assert run.info.status == "FAILED" and run.data.tags["stop_reason"] == "errored"
    assert run.data.tags["stop_detail"] == "ValueError: loss became nan at epoch 2"
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    artifacts = client.list_artifacts(runs["eeee5555"][0].info.run_id, "best_checkpoint")
    assert [item.path for item in artifacts] == ["best_checkpoint/model.keras"]
    assert (store.parent / "mlartifacts").is_dir()  # beside the database, not under the launch folder


def test_a_store_that_fails_never_stops_the_run_and_what_waited_is_logged_later(run_folder, store):
    from tunelab.experiments.run.mlflow_tracking import PAUSE_AFTER_FAILURE_S, MlflowTracking

    callback = MlflowTracking("http://127.0.0.1:9", run_folder.name, str(run_folder), metric="val_accuracy",
                              mode="max", epochs=3)  # nothing answers there: every call fails at once
    callback.setup()  # fails, is recorded, and calls pause
    one = trial("ffff6666", units_1=16)
    callback.on_trial_start(0, [], one)
    for epoch in (1, 2):
        callback.on_trial_result(0, [], one, result(epoch, 0.4 + epoch / 10))  # paused: they wait in memory
    callback.on_trial_complete(0, [], one)
    events = [json.loads(line) for line in (run_folder / "tunelab_trial_events.jsonl").read_text().splitlines()]
    assert [(e["event"], e["action"]) for e in events] == [("tracking_failed", "connecting")]
    assert PAUSE_AFTER_FAILURE_S >= 10

    callback.uri = f"sqlite:///{store}"  # the store answers again: the experiment's end logs what waited
    callback.on_experiment_end([one])
    run, metrics = runs_by_trial(store, run_folder.name)["ffff6666"]
    assert [step for step, _ in metrics["val_accuracy"]] == [1, 2] and run.info.status == "FINISHED"


def test_after_an_outage_that_outlives_the_run_a_resume_replays_every_trial_from_the_run_folder(run_folder, store):
    """The store goes down mid-run and is still down when the run ends: a trial started during the outage has
    no run, the others stay RUNNING an epoch behind. `--resume` of the complete run replays the folder's record:
    one ended run per trial with every epoch; a second replay changes nothing."""
    from tunelab.experiments.run.history import HistoryLog
    from tunelab.experiments.run.mlflow_tracking import replay_complete_run
    from tunelab.experiments.trial_events import TrialEventLog, TrialOutcomeCallback

    events = TrialEventLog()
    events.attach(str(run_folder))
    record = (HistoryLog(str(run_folder)), TrialOutcomeCallback(events))  # tunelab's own record, as in a run
    callback = tracker(run_folder, store)
    callbacks = (*record, callback)
    done, failed, late = trial("aaaa0001", units=8), trial("bbbb0002", units=16), trial("cccc0003", units=32)

    def start(one):
        one.last_result = None
        for each in callbacks:
            each.on_trial_start(0, [], one)

    def report(one, epoch):
        one.last_result = result(epoch, 0.4 + epoch / 10)
        for each in callbacks:
            each.on_trial_result(0, [], one, one.last_result)

    for one in (done, failed):
        start(one)
        report(one, 1)
    callback._client = mlflow.MlflowClient("http://127.0.0.1:9")  # the server goes down: every call fails at once
    for epoch in (2, 3):
        report(done, epoch)
    report(failed, 2)
    start(late)
    for epoch in (1, 2, 3):
        report(late, epoch)
    for one in (done, late):
        for each in callbacks:
            each.on_trial_complete(0, [], one)
    for each in callbacks:
        each.on_trial_error(0, [], failed)
    callback.on_experiment_end([done, failed, late])  # still down: its last try and its replay fail too

    before = runs_by_trial(store, run_folder.name)
    assert {trial_id: run.info.status for trial_id, (run, _) in before.items()} == {
        "aaaa0001": "RUNNING", "bbbb0002": "RUNNING"}  # the picture: one missing, the others RUNNING

    line = replay_complete_run(f"sqlite:///{store}", run_folder.name, str(run_folder), metric="val_accuracy",
                               mode="max", epochs=3)

    assert line.endswith("3 trial run(s) brought in step with the run folder"), line
    runs = runs_by_trial(store, run_folder.name)
    assert {trial_id: (run.info.status, run.data.tags["stop_reason"]) for trial_id, (run, _) in runs.items()} == {
        "aaaa0001": ("FINISHED", "completed"), "bbbb0002": ("FAILED", "errored"), "cccc0003": ("FINISHED", "completed")}
    assert {trial_id: [step for step, _ in metrics["val_accuracy"]] for trial_id, (_, metrics) in runs.items()} == {
        "aaaa0001": [1, 2, 3], "bbbb0002": [1, 2], "cccc0003": [1, 2, 3]}  # every epoch, each once
    assert runs["cccc0003"][0].data.params == {"units": "32"} and set(runs["cccc0003"][1]) == {"val_accuracy", "loss"}
    assert replay_complete_run(f"sqlite:///{store}", run_folder.name, str(run_folder), metric="val_accuracy",
                               mode="max", epochs=3).endswith("holds every trial of the run")


def test_an_outage_that_ends_before_the_run_does_is_replayed_at_the_runs_end(run_folder, store):
    from tunelab.experiments.run.history import HistoryLog

    history = HistoryLog(str(run_folder))
    callback = tracker(run_folder, store)
    callback._client = mlflow.MlflowClient("http://127.0.0.1:9")  # down from the first trial on
    one = trial("dddd0004", units=8)
    for each in (history, callback):
        each.on_trial_start(0, [], one)
        for epoch in (1, 2):
            each.on_trial_result(0, [], one, result(epoch, 0.5))
    callback._client = None  # back before the end: the next call connects again
    (run_folder / "tunelab_trial_events.jsonl").open("a").write(
        json.dumps({"trial_id": "dddd0004", "event": "timed_out", "time": 2.0, "epoch": 2, "seconds": 61.0,
                    "limit": 60.0}) + "\n")
    one.status = "TERMINATED"
    callback.on_experiment_end([one])  # the run's end: what the outage lost is replayed from the folder

    run, metrics = runs_by_trial(store, run_folder.name)["dddd0004"]
    assert [step for step, _ in metrics["val_accuracy"]] == [1, 2] and run.info.status == "FINISHED"
    assert run.data.tags["stop_reason"] == "trial_timeout" and "limit 60" in run.data.tags["stop_detail"]
