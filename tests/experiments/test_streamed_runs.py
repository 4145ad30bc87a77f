"""Streamed sources in real runs: an image folder, a TFRecord file and a data function next to the experiment train
end to end, and a data set larger than Ray's whole object store trains without entering it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tunelab
from tests.experiments.run.test_runner import assert_epochs_reported, trials_on_disk
from tests.trainables.data.data_functions import MARKER_FOLDER
from tests.trainables.data.streamed_files import tfrecord_data, write_image_folder, write_tfrecord
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict
from tunelab.trainables.data import StreamedSplit

pytestmark = pytest.mark.slow  # real runs: left out of `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]
TUNELAB = Path(sys.executable).with_name("tunelab")  # the console script `pip install -e .` installed


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


def test_a_corrupt_image_the_driver_missed_is_named_by_the_failing_trial(tmp_path, ray_session, monkeypatch):
    """One changed byte of image data: its header and ending are intact, and the driver decodes a sample only, so the
    trial meets it; its error file's last line, which the run's summary shows, names the file, not TensorFlow's op."""
    from tests.trainables.data.test_data_errors import flipped
    from tunelab.core.run_folder import ERROR_FILE
    from tunelab.trainables.data import image_files

    folder = write_image_folder(tmp_path / "digits", count=100)
    flipped(folder / "4" / "24.png")
    monkeypatch.setattr(image_files, "DECODED_IN_FULL", 1)  # the driver runs in this process
    raw = experiment(tmp_path, f"images:{folder}", "cnn", {"num_conv_layers": 1, "filters_1": 4, "dense_units": 8,
                                                           "learning_rate": 0.01}, trials=1, epochs=1)
    outcome = run(prepare(spec_from_dict({**raw, "max_failures": 0})))

    assert outcome.errored == 1 and len(outcome.errored_trials) == 1
    error = (Path(outcome.path) / outcome.errored_trials[0] / ERROR_FILE).read_text().strip().splitlines()[-1]
    assert f"DataError: data: images:{folder}: cannot decode {folder}/4/24.png (Invalid PNG data" in error, error


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


@pytest.mark.ray
def test_a_data_function_next_to_the_experiment_is_called_in_the_workers(tmp_path):
    """Launched from another folder outside the repository: `digits_data.py:pipelines` is found next to the
    experiment file, and the processes that trained called it themselves (its pipelines were never shipped)."""
    project, elsewhere, markers = tmp_path / "project", tmp_path / "elsewhere", tmp_path / "markers"
    for folder in (project, elsewhere, markers):
        folder.mkdir()
    shutil.copy(ROOT / "tests" / "trainables" / "data" / "data_functions.py", project / "digits_data.py")
    experiment = {"name": "fn", "trainable": "mlp", "data": "digits_data.py:pipelines", "epochs": 2,
                  "space": {"num_layers": 1, "units_1": 32, "learning_rate": {"type": "choice", "values": [0.01, 0.1]}},
                  "strategy": {"name": "random", "num_samples": 2, "seed": 0}, "max_concurrent_trials": 1,
                  "storage": str(tmp_path / "results")}
    (project / "fn.yaml").write_text(yaml.safe_dump(experiment))

    driver = subprocess.Popen([str(TUNELAB), "run", "../project/fn.yaml", "--name", "fn"], cwd=elsewhere, text=True,
                              env={**os.environ, MARKER_FOLDER: str(markers)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    stdout, stderr = driver.communicate(timeout=600)

    assert driver.returncode == 0, stdout[-2000:] + stderr[-3000:]
    assert "2/2 trials done (2 completed)" in stdout and "\ntest: accuracy " in stdout
    callers = {int(marker.name.removeprefix("called-")) for marker in markers.iterdir()}
    trained = {report["pid"] for _, reports in trials_on_disk(str(tmp_path / "results" / "fn")) for report in reports}
    assert driver.pid in callers  # once before Ray started, for the shapes and classes
    assert trained and trained <= callers - {driver.pid}  # and in each process that trained
    results = tunelab.load(tmp_path / "results" / "fn")
    assert results.experiments[0].spec["data"] == f"{project}/digits_data.py:pipelines"
    split = results.data()
    assert isinstance(split, StreamedSplit) and split.sizes == {"train": 400, "val": 100, "test": 100}
