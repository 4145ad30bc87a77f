"""kill -9 of a running launch.py, then Ctrl+C of its --resume, SIGTERM of the next, then --resume: nothing
finished re-runs, nothing trained twice, and the trials' MLflow runs (a real tracking server) and the user's
own callbacks carry on."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tunelab
from benchmarks.mlflow_server import mlflow_server
from tests.scripts.launched import wait_for
from tunelab.searchspaces import load_space

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 6
EXPERIMENT = {
    "name": "crash", "trainable": "mlp", "data": "digits",
    "space": {"units_1": {"type": "int", "low": 8, "high": 64, "log": True},
              "learning_rate": {"type": "float", "low": 0.001, "high": 0.03, "log": True}, "num_layers": 1},
    "strategy": {"name": "random", "num_samples": 4, "seed": 3},
    "epochs": EPOCHS, "batch_size": 128, "max_concurrent_trials": 1,
}


def epochs_on_disk(path: Path) -> dict[str, list[int]]:
    """Every epoch each trial reported, repeats included, from tunelab's history (Ray's result.json of
    a restored trial is replaced by its copy on storage, which can be an epoch behind)."""
    found = {}
    for history in path.glob("trial_*/tunelab_history.jsonl"):
        lines = [line for line in history.read_text().splitlines() if line.strip()]
        found[history.parent.name] = [json.loads(line)["epoch"] for line in lines]
    return found


def launch(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "launch.py"), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def mlflow_runs(uri: str, experiment: str) -> dict[str, dict]:
    """trial id -> its MLflow run: id, status, params, tags and the epochs val_accuracy was logged at."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return {run.data.tags["tunelab.trial_id"]: {
        "id": run.info.run_id, "status": run.info.status, "params": run.data.params, "tags": run.data.tags,
        "epochs": [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]} for run in found}


@pytest.fixture
def tracking_server(tmp_path):
    pytest.importorskip("mlflow", reason="the tracking server needs mlflow (pip install -e '.[test]')")
    with mlflow_server(tmp_path / "mlflow") as uri:
        yield uri


def test_kill_9_then_ctrl_c_then_resume(tmp_path, tracking_server):
    """kill -9 with one trial finished and the next part-way; the resume, interrupted by Ctrl+C once a
    third trial trains, exits 130 with the resume command; SIGTERM of that command exits 143 with the same
    command; that command completes the run. (One chain:
    each launch starts Python, TensorFlow and Ray anew, most of a run's time.)"""
    spec = tmp_path / "crash.yaml"
    ended = tmp_path / "ended.txt"
    tracking = {"mlflow": tracking_server,
                "callbacks": [{"class": "tests.experiments.helpers:TrialEndRecorder", "path": str(ended)}]}
    spec.write_text(yaml.safe_dump({**EXPERIMENT, "storage": str(tmp_path), "tracking": tracking}, sort_keys=False))
    path = tmp_path / "crash"
    driver = launch(str(spec), "--name", "crash", start_new_session=True)
    wait_for(lambda: any(len(e) == EPOCHS for e in epochs_on_disk(path).values())
             and any(2 <= len(e) < EPOCHS for e in epochs_on_disk(path).values()), driver,
             "one trial finished and the next one part-way", timeout=300)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and every process of its session, Ray's included
    driver.wait()
    before = epochs_on_disk(path)
    finished_before = {trial: (path / trial / "tunelab_history.jsonl").read_text()
                       for trial, epochs in before.items() if len(epochs) == EPOCHS}
    tracked_before = mlflow_runs(tracking_server, "crash")

    interrupted = launch(str(spec), "--resume", "--name", "crash", start_new_session=True)
    wait_for(lambda: set(epochs_on_disk(path)) - set(before), interrupted, "a third trial training", timeout=300)
    os.kill(interrupted.pid, signal.SIGINT)  # Ctrl+C reaches the driver; Ray saves the run
    out, _ = interrupted.communicate(timeout=300)
    assert interrupted.returncode == 130, out[-3000:]
    assert "launch.py: interrupted (SIGINT); Ray saved the run. Continue with:" in out, out[-3000:]
    command = out.strip().splitlines()[-1].strip()
    assert command == f"python scripts/launch.py {spec} --resume --name crash"
    at_ctrl_c = epochs_on_disk(path)
    stopped_part_way = {trial for trial, epochs in at_ctrl_c.items() if len(set(epochs)) < EPOCHS}
    assert stopped_part_way, at_ctrl_c  # the third trial, its first epochs trained
    # The closing block reads as an interrupted run, not a finished one of the trials Ray had created.
    finished = len(at_ctrl_c) - len(stopped_part_way)
    assert "interrupted (SIGINT) after " in out and f": {finished} of 4 trials finished (0 errored)" in out, out[-3000:]
    assert "best val_accuracy so far: " in out and " trials in " not in out, out[-3000:]

    # SIGTERM (a cluster scheduler, docker stop) ends the next resume as Ctrl+C did: the run saved, the lock
    # released, exit 128 + 15 with the same command, and none of Ray's C++ stack dump.
    terminated = launch(*command.split()[2:], start_new_session=True)
    wait_for(lambda: any(len(e) > len(at_ctrl_c.get(t, [])) for t, e in epochs_on_disk(path).items()), terminated,
             "one more epoch after the resume", timeout=300)
    os.kill(terminated.pid, signal.SIGTERM)
    out, _ = terminated.communicate(timeout=300)
    assert terminated.returncode == 143, out[-3000:]
    assert "interrupted (SIGTERM) after " in out and out.strip().splitlines()[-1].strip() == command, out[-3000:]
    assert "*** SIGTERM received" not in out and "Stack trace" not in out, out[-3000:]
    assert not (path / "tunelab.lock").exists()

    resumed = launch(*command.split()[2:])
    out, _ = resumed.communicate(timeout=600)

    assert resumed.returncode == 0, out[-3000:]
    after = epochs_on_disk(path)
    assert len(after) == 4, after
    assert all(sorted(set(epochs)) == list(range(1, EPOCHS + 1)) for epochs in after.values()), after
    assert "4 trials in" in out and "(0 errored)" in out, out[-3000:]
    assert sum(map(len, after.values())) - 4 * EPOCHS <= 3, after  # at most the epochs in flight at the kill,
    # the Ctrl+C and the SIGTERM, again
    for trial, text in finished_before.items():
        assert (path / trial / "tunelab_history.jsonl").read_text() == text  # finished trials did not run again
    configs = sorted(json.dumps(json.loads((p / "params.json").read_text()), sort_keys=True)
                     for p in path.glob("trial_*"))
    expected = load_space(EXPERIMENT["space"]).sample_many(4, seed=3)
    assert configs == sorted(json.dumps(c, sort_keys=True) for c in expected)  # the searcher's sequence went on

    tracked = mlflow_runs(tracking_server, "crash")  # one MLflow run per trial, each epoch logged once
    assert sorted(f"trial_{trial}" for trial in tracked) == sorted(after)
    for trial, run in tracked.items():
        params = json.loads((path / f"trial_{trial}" / "params.json").read_text())
        assert run["params"] == {name: str(value) for name, value in params.items()}
        assert run["epochs"] == list(range(1, EPOCHS + 1)), (trial, run["epochs"])
        assert run["status"] == "FINISHED" and run["tags"]["stop_reason"] == "completed"
    for trial, run in tracked_before.items():  # the runs the killed driver began are the ones continued
        if f"trial_{trial}" in after:  # (a trial Ray never saved is set aside and its run deleted)
            assert tracked[trial]["id"] == run["id"]
    assert sorted(set(ended.read_text().split())) == sorted(tracked)  # the user's own callback, restored too

    resumes = tunelab.load(path).trials.set_index("trial_id")["resumes"]
    assert all(resumes[trial.removeprefix("trial_")] >= 1 for trial in stopped_part_way), resumes  # Ctrl+C, then on
    for log in path.glob("trial_*/trial.log"):  # Ray stops a trial at Ctrl+C with exit 0: a clean stop, no traceback
        assert "Traceback" not in log.read_text(), (log, log.read_text()[-2000:])


TPE_EXPERIMENT = {
    "name": "tpe_crash", "trainable": "mlp", "data": "digits",
    "space": {"units_1": {"type": "int", "low": 8, "high": 64, "log": True},
              "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
              "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
              "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sgd"}}, "num_layers": 1},
    "strategy": {"name": "tpe", "num_samples": 6, "random_steps": 2, "seed": 7},
    # One epoch: a trial in flight at the kill trains again from the start, so its result (training is
    # seeded) and what the model learns from it are an uninterrupted run's.
    "epochs": 1, "batch_size": 128, "max_concurrent_trials": 1,
}


def learned_configs(path: Path) -> list[str]:
    """The run's configurations in the order the model learned their results (one trial at a time: the
    order the searcher suggested them). A trial Ray's snapshot never recorded was set aside by the resume
    (its configuration is suggested again, as a new trial): it is not the run's."""
    events = [json.loads(line) for line in (path / "tunelab_trial_events.jsonl").read_text().splitlines()]
    learned = dict.fromkeys(event["trial_id"] for event in events if event["event"] == "learned")
    return [json.dumps(json.loads((path / f"trial_{trial}" / "params.json").read_text()), sort_keys=True)
            for trial in learned if (path / f"trial_{trial}").is_dir()]


TPE_TEST = "test_tpe_is_reproducible_with_its_seed_and_a_kill_9_then_resume_neither_repeats_nor_loses_a_config"


@pytest.fixture(scope="module", autouse=True)
def tpe_uninterrupted(request, tmp_path_factory):
    """The tpe test's uninterrupted launch, started with this module when that test is selected: a launch is
    mostly start-up (Python, TensorFlow, its own Ray), so it runs beside the kill -9 chain above and the tpe
    test's own killed launch instead of after them; no other run reads its folder. Yields the process, its
    run folder and its output file (not a pipe, which nothing reads while it runs), or None."""
    if not any(item.name == TPE_TEST and item.module is request.module for item in request.session.items):
        yield None
        return
    storage = tmp_path_factory.mktemp("tpe_whole")
    (storage / "whole.yaml").write_text(yaml.safe_dump(
        {**TPE_EXPERIMENT, "name": "whole", "storage": str(storage)}, sort_keys=False))
    output = storage / "whole.log"
    with output.open("w") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "launch.py"), str(storage / "whole.yaml"),
                                    "--name", "whole"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
    try:
        yield process, storage / "whole", output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the driver and its Ray
        process.wait()


def test_tpe_is_reproducible_with_its_seed_and_a_kill_9_then_resume_neither_repeats_nor_loses_a_config(
        tmp_path, tpe_uninterrupted):
    """Two launches of one seeded experiment suggest the same sequence; the second, killed after three trials
    and resumed, too. (tpe under Hyperband is run in tests/experiments/test_tpe.py.) The uninterrupted launch
    runs beside the others (the tpe_uninterrupted fixture)."""
    whole, whole_path, whole_log = tpe_uninterrupted
    (tmp_path / "killed.yaml").write_text(yaml.safe_dump(
        {**TPE_EXPERIMENT, "name": "killed", "storage": str(tmp_path)}, sort_keys=False))
    path = tmp_path / "killed"
    driver = launch(str(tmp_path / "killed.yaml"), "--name", "killed", start_new_session=True)
    wait_for(lambda: len(epochs_on_disk(path)) >= 4, driver, "three trials finished, the fourth started", timeout=300)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    resumed = launch(str(tmp_path / "killed.yaml"), "--resume", "--name", "killed")
    out, _ = resumed.communicate(timeout=600)
    whole.wait(timeout=600)

    assert whole.returncode == 0, whole_log.read_text()[-3000:]
    expected = learned_configs(whole_path)
    assert len(expected) == len(set(expected)) == 6

    assert resumed.returncode == 0, out[-3000:]
    events = (path / "tunelab_trial_events.jsonl").read_text()
    assert learned_configs(path) == expected, events  # the same sequence: none repeated, none lost
    trained = epochs_on_disk(path)
    assert len(trained) == 6 and sum(map(len, trained.values())) - 6 <= 1, trained  # at most the one in flight again
