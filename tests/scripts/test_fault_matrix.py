"""Faults injected into real runs: a second writer; kill -9 at start-up, during a checkpoint write
and twice in a row, then a killed worker, in one chain of launches; a full disk. Each run: 4 digits
MLPs of 3 epochs, one at a time.

Every case checks what a user relies on: the planned trials all present at the end, each epoch
once in every trial's history as analysis reads it, finished trials' files untouched by a resume,
and the documented exit status and message. (Ctrl+C, kill -9 mid-trial and during successive
halving, a lost node and a custom model failing mid-trial are in test_crash_resume*.py,
test_cluster.py and test_keras_trainable.py.)
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.scripts.launched import wait_for
from tunelab.analysis import load
from tunelab.core.run_folder import EVENTS_FILE

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]
TRIALS, EPOCHS = 4, 3
EXPERIMENT = {
    "name": "faults", "trainable": "mlp", "data": "digits",
    "space": {"units_1": {"type": "int", "low": 8, "high": 64, "log": True},
              "learning_rate": {"type": "float", "low": 0.001, "high": 0.03, "log": True}, "num_layers": 1},
    "strategy": {"name": "random", "num_samples": TRIALS, "seed": 5},
    "epochs": EPOCHS, "batch_size": 128, "max_concurrent_trials": 1,
}


def experiment_file(tmp_path: Path, storage: Path, **extra: object) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, "storage": str(storage), **extra}, sort_keys=False))
    return path


def launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "launch.py"), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def histories(run: Path) -> dict[str, list[int]]:
    """Every epoch each trial's history records, repeats included."""
    return {path.parent.name: [json.loads(line)["epoch"] for line in path.read_text().splitlines() if line.strip()]
            for path in run.glob("trial_*/tunelab_history.jsonl")}


def kill_9(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # the driver and every process of its session, Ray's included
    process.wait()


def finished_trial_files(run: Path) -> dict[str, bytes]:
    """Every file of the trials the event log records as completed: a resume must leave them as they are."""
    events = [json.loads(line) for line in (run / EVENTS_FILE).read_text().splitlines() if line.endswith("}")]
    return trial_files(run, {f"trial_{event['trial_id']}" for event in events if event.get("event") == "completed"})


def trial_files(run: Path, trials: set[str]) -> dict[str, bytes]:
    """Every file of the named trial folders, by path in the run."""
    return {str(path.relative_to(run)): path.read_bytes() for trial in sorted(trials)
            for path in sorted((run / trial).glob("**/*")) if path.is_file()}


def assert_untouched(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """Finished trials were not trained again: every file as it was, except that Ray's result.json,
    copied to the run folder only with Ray's snapshots, may have the epochs its copy missed appended."""
    assert before
    for name, data in before.items():
        if name.endswith("result.json"):
            assert after[name].startswith(data), name
        else:
            assert after[name] == data, name


def assert_whole(run: Path) -> None:
    """The planned trials, every epoch of each exactly once as analysis reads it."""
    results = load(run)
    assert len(results.trials) == TRIALS and set(results.trials["stop_reason"]) == {"completed"}, results.trials
    for _, epochs in results.history.groupby("trial_id")["epoch"]:
        assert sorted(epochs) == list(range(1, EPOCHS + 1))


def test_a_second_launch_and_a_resume_of_a_live_run_are_refused_naming_the_holder(tmp_path):
    spec = experiment_file(tmp_path, tmp_path / "results")
    first, second = launch(str(spec), "--name", "run"), launch(str(spec), "--name", "run")
    run = tmp_path / "results" / "run"
    deadline = time.monotonic() + 240
    while not histories(run):  # one of the two trains; the other was refused
        assert time.monotonic() < deadline and (first.poll() is None or second.poll() is None)
        time.sleep(0.02)
    resumed = launch(str(spec), "--resume", "--name", "run")
    _, resumed_err = resumed.communicate(timeout=120)
    outputs = [process.communicate(timeout=300) for process in (first, second)]

    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 2], outputs
    refused = next(err for (_, err), process in zip(outputs, (first, second)) if process.returncode == 2).strip()
    assert refused.startswith("launch.py: error: ") and ("in use by the driver with pid" in refused
                                                          or "already exists; use --resume" in refused), refused
    assert resumed.returncode == 2 and "in use by the driver with pid" in resumed_err, resumed_err
    assert_whole(run)
    assert not (run / "tunelab.lock").exists()


def new_worker_pid(run: Path, known: set[int]) -> int | None:
    """The process of a worker this launch started, once it has reported an epoch."""
    pids = {json.loads(line)["pid"] for path in run.glob("trial_*/tunelab_history.jsonl")
            for line in path.read_text().splitlines() if line.strip()}
    return next(iter(pids - known), None)


def test_a_run_killed_at_start_mid_checkpoint_and_twice_after_a_trial_then_losing_a_worker_ends_whole(tmp_path):
    """One run through every kill point a user meets, each resumed by the next launch (one chain,
    not a run per kill point: each launch starts Python, TensorFlow and Ray anew, most of the time):

    1. at start-up, most often before Ray's first experiment state (Ray alone would resume one trial);
    2. while a worker copies the model into a checkpoint folder;
    3. just after a trial finished, mostly before Ray's next snapshot (every 10 s or more): the
       finished trial is marked finished from tunelab's record, not trained again, and trials started
       after the snapshot are set aside and suggested again, so no extra trial;
    4. again two epochs into that resume;
    5. then the last resume loses a worker mid-run: its trial is retried from its checkpoint.
    """
    spec = experiment_file(tmp_path, tmp_path / "results")
    run = tmp_path / "results" / "run"
    driver = launch(str(spec), "--name", "run")
    wait_for(lambda: (run / "tuner.pkl").exists(), driver, "Ray's tuner.pkl")
    kill_9(driver)

    driver = launch(str(spec), "--resume", "--name", "run")
    wait_for(lambda: any(path.is_dir() for path in run.glob("trial_*/checkpoint_*")), driver,
             "a checkpoint being written")
    kill_9(driver)

    completed = (run / EVENTS_FILE).read_text().count('"completed"') if (run / EVENTS_FILE).exists() else 0
    driver = launch(str(spec), "--resume", "--name", "run")
    wait_for(lambda: (run / EVENTS_FILE).exists()
             and (run / EVENTS_FILE).read_text().count('"completed"') > completed,
             driver, "a trial finishing after the second resume")
    kill_9(driver)
    finished = finished_trial_files(run)

    driver = launch(str(spec), "--resume", "--name", "run")
    done_before = sum(len(e) for e in histories(run).values())
    wait_for(lambda: sum(len(e) for e in histories(run).values()) >= done_before + 2, driver, "two more epochs")
    kill_9(driver)

    known = {pid for path in run.glob("trial_*/tunelab_history.jsonl")
             for pid in (json.loads(line)["pid"] for line in path.read_text().splitlines() if line.strip())}
    driver = launch(str(spec), "--resume", "--name", "run")
    wait_for(lambda: new_worker_pid(run, known) is not None, driver, "an epoch of the last resume")
    os.kill(new_worker_pid(run, known), signal.SIGKILL)
    out, err = driver.communicate(timeout=300)
    # A known, intermittent Ray race (2 of 4 runs on 2026-12-06): Ray starts the next trial on the dead reused
    # actor, which fails it at once, every retry, before it trains an epoch. The run reports the lost trial
    # (exit 1); until a dead cached actor is dropped (experiments/run/ray_internals.py) that case is expected.
    never_trained = [path.parent.name for path in run.glob("trial_*/error.txt")
                     if not (path.parent / "tunelab_history.jsonl").exists()
                     and "actor died unexpectedly" in path.read_text()]
    if driver.returncode == 1 and never_trained:
        pytest.xfail(f"Ray started {never_trained} on the dead reused actor")
    assert driver.returncode == 0, out[-2000:] + err[-2000:]
    assert_whole(run)
    assert_untouched(finished, finished_trial_files(run))  # (a trial killed mid-epoch may repeat its last
    # epochs in tunelab_history.jsonl, which only appends; assert_whole read each epoch once)
    assert any(run.glob("trial_*/error.txt"))  # the lost worker's trial failed, and was retried


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs: filling it is a full disk under the run, as a user meets one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_run_then_resumes_from_tunelabs_record_past_a_cut_state(tmp_path, small_disk):
    """A full disk stands for storage that stops taking writes: a read-only switch cannot be injected
    under a live run (remount refuses while Ray holds files open; root ignores permissions), and
    every write failure takes the same path. Storage unwritable at launch is refused with exit 2.

    Then, the disk freed, Ray's experiment state cut short as a full disk cuts it: the resume keeps the
    trials tunelab's record shows completed and runs the rest; cut again once finished, the resume
    has nothing left to run."""
    spec = experiment_file(tmp_path, small_disk, max_failures=0)  # no retries into a full disk: a shorter test
    run = small_disk / "run"
    driver = launch(str(spec), "--name", "run")
    wait_for(lambda: any(len(e) == EPOCHS for e in histories(run).values()), driver, "a finished trial")
    subprocess.run(["dd", "if=/dev/zero", f"of={small_disk / 'filler'}", "bs=1M"], capture_output=True, check=False)

    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 1, out[-2000:] + err[-2000:]
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"launch.py: error: could not write to {run} (No space left on device); ")
    assert "trials errored" in lines[0] and "Traceback" not in err
    assert lines[1].strip() == f"python scripts/launch.py {spec} --resume --name run"

    (small_disk / "filler").unlink()
    cut_ray_state(run)
    # completed: the event log's, or every epoch in the history (the full disk may have kept the event out)
    completed = {trial for trial, epochs in histories(run).items() if len(set(epochs)) == EPOCHS}
    finished = trial_files(run, completed)
    resumed = subprocess.run([sys.executable, str(ROOT / "scripts" / "launch.py"), str(spec), "--resume", "--name",
                              "run"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert ("Ray's experiment state is damaged (experiment_state-" in resumed.stdout
            and f": {len(completed)} completed trial{'' if len(completed) == 1 else 's'} kept from tunelab's record; " in resumed.stdout), resumed.stdout
    assert_whole(run)  # the planned trials, each epoch once
    assert_untouched(finished, trial_files(run, completed))  # not trained again, same ids and folders
    assert completed <= {path.name for path in run.glob("trial_*")}
    assert not [path.name for path in run.glob(".unrecorded-*/*") if path.name in completed]
    assert not list(run.glob("tunelab.lock*"))

    cut_ray_state(run)  # the finished run's state, cut: complete from tunelab's record, Ray not started
    finished = finished_trial_files(run)
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "launch.py"), str(spec), "--resume", "--name",
                            "run"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f": {TRIALS} completed trials kept from tunelab's record; nothing left to run" in again.stdout
    assert "is complete: all 4 planned trials finished" in again.stdout
    assert finished_trial_files(run) == finished and not list(run.glob("tunelab.lock*"))
    assert_whole(run)


def cut_ray_state(run: Path) -> None:
    """Ray's newest experiment state cut to half its length, as a disk that filled while Ray copied it leaves it."""
    state = sorted(run.glob("experiment_state-*.json"))[-1]
    state.write_text(state.read_text()[: len(state.read_text()) // 2])
