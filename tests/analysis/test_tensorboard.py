"""TensorBoard logs read back from disk, kept in step with a run still going, and the HParams dashboard
as Chromium renders it."""
from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.util import tensor_util

from tunelab.analysis import load
from tunelab.analysis.tensorboard import write_logs
from tunelab.analysis.tensorboard_logs import TensorBoardLogs, follow
from tests.analysis.browser import find_chromium, wait_for_text
from tests.analysis.helpers import EPOCHS, TRIALS, HandMadeRun

ROOT = Path(__file__).resolve().parents[2]


def read_events(folder: Path) -> list[event_pb2.Event]:
    """Every event of the folder's single events file, parsed from its TFRecord framing."""
    (path,) = folder.glob("events.out.tfevents.*")
    data, events, offset = path.read_bytes(), [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        events.append(event_pb2.Event.FromString(data[offset + 12:offset + 12 + length]))
        offset += 12 + length + 4
    return events


def values(events: list[event_pb2.Event]) -> list[tuple[int, str, object]]:
    found = []
    for event in events:
        for value in event.summary.value:
            found.append((event.step, value.tag, value))
    return found


def test_logs_hold_every_trials_scalars_and_hparams(tiny_results, tmp_path):
    logdir = write_logs(tiny_results, tmp_path / "tb")["tiny"]
    assert logdir == tmp_path / "tb"
    trials = tiny_results.trials.set_index("trial_id")
    assert {p.name for p in logdir.iterdir() if p.is_dir()} == set(trials.index)

    experiment = [v for _, tag, v in values(read_events(logdir)) if tag == hparams_metadata.EXPERIMENT_TAG]
    data = hparams_metadata.parse_experiment_plugin_data(experiment[0].metadata.plugin_data.content)
    infos = {info.name: info for info in data.hparam_infos}
    assert set(infos) == set(tiny_results.params)  # conditional and fixed ones too
    assert (infos["learning_rate"].domain_interval.min_value, infos["learning_rate"].domain_interval.max_value) == (
        pytest.approx(1e-3), pytest.approx(0.1))
    assert [v.string_value for v in infos["optimizer"].domain_discrete.values] == ["adam", "sgd"]
    assert {m.name.tag for m in data.metric_infos} == {*tiny_results.metrics, "val_accuracy_best"}

    history = tiny_results.history
    for trial_id, trial in trials.iterrows():
        found = values(read_events(logdir / trial_id))
        start = next(v for _, tag, v in found if tag == hparams_metadata.SESSION_START_INFO_TAG)
        session = hparams_metadata.parse_session_start_info_plugin_data(start.metadata.plugin_data.content)
        assert session.group_name == trial_id
        expected = tiny_results.config(trial)
        assert set(session.hparams) == set(expected)  # inactive conditional ones absent, so empty in the table
        for name, value in expected.items():
            got = session.hparams[name]
            assert (got.string_value if isinstance(value, str) else got.number_value) == pytest.approx(value)
        end = next(v for _, tag, v in found if tag == hparams_metadata.SESSION_END_INFO_TAG)
        status = hparams_metadata.parse_session_end_info_plugin_data(end.metadata.plugin_data.content).status
        assert status == (api_pb2.STATUS_FAILURE if trial["stop_reason"] == "errored" else api_pb2.STATUS_SUCCESS)
        rows = history[history["trial_id"] == trial_id]
        for metric in tiny_results.metrics:
            scalars = [(step, float(tensor_util.make_ndarray(v.tensor))) for step, tag, v in found if tag == metric]
            assert scalars == [(e, pytest.approx(x)) for e, x in zip(rows["epoch"], rows[metric])]
        assert len([1 for _, tag, _ in found if tag == "val_accuracy"]) == (0 if trial["epochs"] == 0 else EPOCHS)


def test_writing_again_replaces_the_logs(tiny_results, tmp_path):
    first = write_logs(tiny_results, tmp_path / "tb")["tiny"]
    before = sorted(p.relative_to(first) for p in first.rglob("*"))
    again = write_logs(tiny_results, tmp_path / "tb")["tiny"]
    assert sorted(p.relative_to(again) for p in again.rglob("*")) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def tags(folder: Path) -> list[tuple[int, str]]:
    return [(step, tag) for step, tag, _ in values(read_events(folder))]


def scalars(folder: Path, name: str) -> list[tuple[int, float]]:
    return [(step, float(tensor_util.make_ndarray(v.tensor))) for step, tag, v in values(read_events(folder))
            if tag == name]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def live_run(tmp_path) -> HandMadeRun:
    """A run whose driver still holds the lock: trial a has trained one epoch of three."""
    run = HandMadeRun(tmp_path / "live")
    run.start("a", units=16, optimizer="adam")
    run.report("a", 1, 0.5)
    return run


def test_a_new_epoch_is_appended_to_the_event_file_tensorboard_already_read(live_run):
    logs = TensorBoardLogs()
    logdir = logs.update(load(live_run.path))["live"]
    (file,) = (logdir / "a").glob("events.out.tfevents.*")
    before, inode = file.read_bytes(), file.stat().st_ino
    logs.update(load(live_run.path))
    assert file.read_bytes() == before  # nothing new, nothing written
    live_run.report("a", 2, 0.4)
    logs.update(load(live_run.path))
    after = file.read_bytes()
    assert file.stat().st_ino == inode and after.startswith(before) and len(after) > len(before)
    assert scalars(logdir / "a", "val_accuracy") == [(1, 0.5), (2, pytest.approx(0.4))]
    assert scalars(logdir / "a", "val_accuracy_best") == [(1, 0.5), (2, 0.5)]  # the best so far


def test_a_trial_that_starts_later_gets_its_folder_and_session_at_once(live_run):
    logs = TensorBoardLogs()
    logdir = logs.update(load(live_run.path))["live"]
    live_run.start("b", units=32, optimizer="sgd")
    logs.update(load(live_run.path))
    found = values(read_events(logdir / "b"))
    assert [tag for _, tag, _ in found] == [hparams_metadata.SESSION_START_INFO_TAG]  # no epoch yet, not ended
    session = hparams_metadata.parse_session_start_info_plugin_data(found[0][2].metadata.plugin_data.content)
    assert session.group_name == "b"
    assert (session.hparams["units"].number_value, session.hparams["optimizer"].string_value) == (32, "sgd")


def test_a_session_ends_when_its_trial_ends(live_run):
    logs = TensorBoardLogs()
    logdir = logs.update(load(live_run.path))["live"]
    live_run.start("b")
    live_run.report("a", 2, 0.6)
    logs.update(load(live_run.path))
    assert hparams_metadata.SESSION_END_INFO_TAG not in {tag for _, tag in tags(logdir / "a")}  # still running
    live_run.report("a", 3, 0.7)
    live_run.end("a")
    live_run.end("b", "errored")
    for _ in range(2):  # ended once, never again
        logs.update(load(live_run.path))
    for trial, status in (("a", api_pb2.STATUS_SUCCESS), ("b", api_pb2.STATUS_FAILURE)):
        ends = [v for _, tag, v in values(read_events(logdir / trial)) if tag == hparams_metadata.SESSION_END_INFO_TAG]
        assert len(ends) == 1, trial
        end = hparams_metadata.parse_session_end_info_plugin_data(ends[0].metadata.plugin_data.content)
        assert end.status == status, trial
    assert [step for step, tag in tags(logdir / "a")][-1] == 3  # after the last epoch


def test_the_experiment_is_described_only_once_the_run_is_no_longer_live(live_run, tmp_path):
    logs = TensorBoardLogs()
    logdir = logs.update(load(live_run.path))["live"]
    assert hparams_metadata.EXPERIMENT_TAG not in {tag for _, tag in tags(logdir)}  # built from the sessions instead
    live_run.end("a")
    live_run.finish()
    for _ in range(2):
        logs.update(load(live_run.path))
    experiments = [v for _, tag, v in values(read_events(logdir)) if tag == hparams_metadata.EXPERIMENT_TAG]
    assert len(experiments) == 1
    data = hparams_metadata.parse_experiment_plugin_data(experiments[0].metadata.plugin_data.content)
    infos = {info.name: info for info in data.hparam_infos}
    units = infos["units"].domain_interval
    assert (units.min_value, units.max_value) == (8, 64)  # the space's, not the values seen
    assert [v.string_value for v in infos["optimizer"].domain_discrete.values] == ["adam", "sgd"]
    assert {m.name.tag for m in data.metric_infos} == {"val_accuracy", "loss", "val_accuracy_best"}
    fresh = write_logs(load(live_run.path), tmp_path / "finished")["live"]  # a finished run: described at once
    assert hparams_metadata.EXPERIMENT_TAG in {tag for _, tag in tags(fresh)}


def test_follow_appends_while_the_run_goes_and_stops_after_its_end(live_run):
    logs = TensorBoardLogs()
    logdir = logs.update(load(live_run.path))["live"]
    stop = threading.Event()
    following = threading.Thread(target=follow, args=(live_run.path, logs, stop, 0.05))
    following.start()
    try:
        live_run.start("b")
        wait_until((logdir / "b").is_dir, 30, "trial b's log folder")
        live_run.end("a")
        live_run.end("b")
        live_run.finish()
        following.join(timeout=30)
        assert not following.is_alive()  # the run ended: the last update written, it stopped by itself
    finally:
        stop.set()
        following.join()
    assert hparams_metadata.EXPERIMENT_TAG in {tag for _, tag in tags(logdir)}


@pytest.fixture(scope="module")
def served(tiny_experiment, tmp_path_factory):
    """`analyze.py tensorboard` on a copy of the tiny experiment: its printed address, while it runs."""
    results = shutil.copytree(tiny_experiment, tmp_path_factory.mktemp("served") / "tiny")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "analyze.py"), "tensorboard", str(results)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    url, seen, deadline = None, [], time.monotonic() + 120
    try:
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("TensorBoard at "):
                url = line.split()[2]
        assert url, "".join(seen)
        yield url, results
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_script_serves_the_logs_on_loopback_only(served):
    url, results = served
    assert url.startswith("http://127.0.0.1:")
    assert (results / "tensorboard").is_dir()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200 and b"TensorBoard" in response.read()


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
@pytest.mark.browser
def test_hparams_dashboard_lists_every_trial_in_chromium(served, tiny_results):
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets (pip install -e '.[test]')")
    from tunelab.analysis.tensorboard import session_groups

    url, _ = served
    deadline = time.monotonic() + 60  # TensorBoard loads the event files in the background
    while len(session_groups(url)) < TRIALS and time.monotonic() < deadline:
        time.sleep(1)
    trial_ids = list(tiny_results.trials["trial_id"])

    def table_lists_every_trial(text: str) -> bool:
        table = text.split("Trial ID", 1)[-1] if "Trial ID" in text else ""
        return all(trial_id in table for trial_id in trial_ids)

    text = wait_for_text(url + "#hparams", table_lists_every_trial)
    assert "Trial ID" in text, text[-2000:]  # the HParams table view is rendered
    table = text.split("Trial ID", 1)[1]
    missing = [trial_id for trial_id in trial_ids if trial_id not in table]
    assert not missing, f"HParams table lacks trials {missing}:\n{table[:3000]}"
    assert f"Number of matching session groups: {TRIALS}" in text
    hparams_pane = text.split("Hyperparameters", 1)[1].split("Metrics", 1)[0]
    assert all(name in hparams_pane for name in tiny_results.params), hparams_pane


LIVE_TRIALS = 4
LIVE_EXPERIMENT = {  # one trial at a time, ~10 s each on 2 cores: a search still going while TensorBoard starts
    "name": "live", "trainable": "mlp", "data": "digits",
    "space": {"units_1": {"type": "int", "low": 8, "high": 64, "log": True}, "num_layers": 1},
    "strategy": {"name": "random", "num_samples": LIVE_TRIALS, "seed": 0},
    "epochs": 20, "batch_size": 32, "max_concurrent_trials": 1,
}


def started_trials(run: Path) -> set[str]:
    return {params.parent.name.removeprefix("trial_") for params in run.glob("trial_*/params.json")}


def hparams_table(text: str) -> str:
    return text.split("Trial ID", 1)[1] if "Trial ID" in text else ""


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
@pytest.mark.browser
def test_a_running_search_shows_in_the_hparams_dashboard_and_its_new_trials_follow(tmp_path):
    """TensorBoard starts as the first trial does (its params.json is written then), so that its own
    start overlaps the trial's; every later trial must appear in the same TensorBoard."""
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets (pip install -e '.[test]')")
    from tunelab.analysis.tensorboard import session_groups

    experiment = tmp_path / "live.yaml"
    experiment.write_text(yaml.safe_dump(LIVE_EXPERIMENT, sort_keys=False))
    run = tmp_path / "live"
    search = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "launch.py"), str(experiment),
                               "--storage", str(tmp_path), "--name", "live"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    board = None
    try:
        wait_until(lambda: started_trials(run) or search.poll() is not None, 180, "the first trial")
        board = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "analyze.py"), "tensorboard", str(run)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        printed = []
        while not printed or not printed[-1].startswith("the run is still going"):
            printed.append(board.stdout.readline())
            assert printed[-1], "".join(printed)
        url = next(line.split()[2] for line in printed if line.startswith("TensorBoard at "))
        before = started_trials(run)

        text = wait_for_text(url + "#hparams", lambda text: any(trial in hparams_table(text) for trial in before))
        assert search.poll() is None, "the search ended before the check: make its trials longer"
        assert any(trial in hparams_table(text) for trial in before), text[-2000:]

        wait_until(lambda: started_trials(run) - before, 120, "a trial started after TensorBoard")
        (later, *_) = started_trials(run) - before
        wait_until(lambda: later in {group["name"] for group in session_groups(url)}, 60,
                   f"trial {later} in TensorBoard's session groups")
        text = wait_for_text(url + "#hparams", lambda text: later in hparams_table(text))
        assert later in hparams_table(text), text[-2000:]
        board.send_signal(signal.SIGINT)  # Ctrl-C ends the follower and TensorBoard, which served throughout
        assert board.wait(timeout=30) == 0
    finally:
        for process in (board, search):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            if process is not None:
                process.wait()
