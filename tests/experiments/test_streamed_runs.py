"""Streamed sources in real runs: an image folder and a TFRecord file train end to end, and a data set larger than
Ray's whole object store trains without entering it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.experiments.run.test_runner import assert_epochs_reported, trials_on_disk
from tests.trainables.data.streamed_files import tfrecord_data, write_image_folder, write_tfrecord
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict

pytestmark = pytest.mark.slow  # real runs: left out of `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]


def experiment(tmp_path: Path, data, trainable: str, space: dict, trials: int, epochs: int) -> dict:
    return {"name": "streamed", "trainable": trainable, "data": data, "space": space, "epochs": epochs,
            "strategy": {"name": "random", "num_samples": trials, "seed": 0}, "batch_size": 32,
            "max_concurrent_trials": 1, "storage": str(tmp_path / "results")}


def test_an_image_folder_trains_a_cnn(tmp_path, ray_session):
    folder = write_image_folder(tmp_path / "digits", count=300)
    space = {"num_conv_layers": 1, "filters_1": 8, "dense_units": 16,
             "learning_rate": {"type": "choice", "values": [0.01, 0.003]}}
    outcome = run(prepare(spec_from_dict(experiment(tmp_path, f"images:{folder}", "cnn", space, trials=2, epochs=1))))

    assert outcome.trials == 2 and outcome.errored == 0 and 0 < outcome.best_value <= 1
    for _, reports in trials_on_disk(outcome.path):
        assert_epochs_reported(reports, 1)
    logs = [log.read_text() for log in Path(outcome.path).glob("trial_*/trial.log")]
    assert sum("files for training" in log for log in logs) == 1  # Keras lists the folder once: the worker reused it


def test_a_tfrecord_file_trains_an_mlp(tmp_path, ray_session):
    data = tfrecord_data(write_tfrecord(tmp_path / "digits.tfrecord", count=400))
    space = {"num_layers": 1, "units_1": 16, "learning_rate": 0.01}
    outcome = run(prepare(spec_from_dict(experiment(tmp_path, data, "mlp", space, trials=1, epochs=2))))

    assert outcome.trials == 1 and outcome.errored == 0 and outcome.best_value > 0.3  # 10 classes: chance is 0.1
    [(_, reports)] = trials_on_disk(outcome.path)
    assert_epochs_reported(reports, 2)


def test_data_larger_than_the_object_store_never_enters_it(tmp_path):
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("small_object_store.py")), str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["data_mib"] > 2 * summary["store_mib"]
    assert summary["trials"] == 1 and summary["errored"] == 0
    assert summary["best"] > 0.9  # ten features give the label away: the batches keep rows and labels paired
    used = summary["used_mib"]
    assert used["probe"] >= 16 and used["samples"] >= 3  # the sampling sees what the store holds
    assert used["peak"] < 10  # the description of the data, never the data
