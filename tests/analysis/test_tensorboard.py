"""TensorBoard logs read back from disk, and the HParams dashboard as Chromium renders it."""
from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.util import tensor_util

from tunelab.analysis.tensorboard import write_logs
from tests.analysis.browser import find_chromium, wait_for_text
from tests.analysis.helpers import EPOCHS, TRIALS

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
