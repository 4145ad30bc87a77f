"""Real runs of the shipped regression and binary-AUC examples, and of a user's own compiled model, each
launched as a user would from a folder outside the repository (the examples by their shipped names)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

import tunelab

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

TUNELAB = Path(sys.executable).with_name("tunelab")  # the console script `pip install -e .` installed
COMPILED_MODEL = Path(__file__).resolve().parents[1] / "trainables" / "compiled_model.py"


def start(folder: Path, experiment: str, storage: Path, *overrides: str) -> subprocess.Popen:
    """`tunelab run EXPERIMENT` in `folder`, two trials at most, its output to files beside `storage`
    (pipes read one run at a time could fill and hold up the others)."""
    folder.mkdir(exist_ok=True)
    args = [str(TUNELAB), "run", experiment, "--storage", str(storage), "--name", "run",
            "--set", "strategy.num_samples=2", *(word for text in overrides for word in ("--set", text))]
    with open(storage.with_name("stdout.txt"), "w") as out, open(storage.with_name("stderr.txt"), "w") as err:
        return subprocess.Popen(args, cwd=folder, stdout=out, stderr=err, text=True)


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """The three runs, started together: each is mostly start-up (Python, TensorFlow and its own Ray),
    little training, so side by side they take not much longer than the longest alone. Each test
    asserts its own run's exit status and output."""
    root = tmp_path_factory.mktemp("tasks")
    project = root / "own" / "project"
    project.mkdir(parents=True)
    (project / "my_models.py").write_text(COMPILED_MODEL.read_text())
    (project / "experiment.yaml").write_text(
        "name: own_model\ntrainable: my_models:regressor\ndata: diabetes\ntask: regression\n"
        "space:\n  learning_rate: {type: choice, values: [0.003, 0.03]}\n  loss: huber\n  units: 32\n"
        "metric: val_my_mae\nmode: min\nepochs: 20\nstrategy: {name: random, seed: 0}\n")
    (root / "diabetes").mkdir()
    (root / "auc").mkdir()
    processes = {
        "diabetes": start(root / "diabetes" / "elsewhere", "diabetes_regression", root / "diabetes" / "results"),
        "auc": start(root / "auc" / "elsewhere", "breast_cancer_auc", root / "auc" / "results", "epochs=8"),
        "own": start(project, "experiment.yaml", root / "own" / "results"),
    }
    outputs = {}
    try:
        for name, process in processes.items():
            process.wait(timeout=600)
            outputs[name] = (process.returncode, *((root / name / f"{stream}.txt").read_text()
                                                   for stream in ("stdout", "stderr")))
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return root, outputs


def finished(launched, name: str) -> tuple[str, Path]:
    """The run's stdout and results folder, once it exited 0."""
    root, outputs = launched
    code, out, err = outputs[name]
    assert code == 0, out[-2000:] + err[-2000:]
    return out, root / name / "results" / "run"


def test_the_shipped_diabetes_regression_is_tuned_on_val_mae(launched):
    stdout, path = finished(launched, "diabetes")

    results = tunelab.load(path)
    assert "best val_mae" in stdout
    # The best model is scored once on the 20% the search never saw, in the target's own units.
    [test_line] = [line for line in stdout.splitlines() if line.startswith("test: ")]
    assert test_line.startswith("test: mae ") and 25 < results.test_metrics["mae"] < 70, test_line
    split = results.data()  # the trials' split, targets as numbers
    assert split.task == "regression" and split.y_test.dtype == "float32" and len(split.x_test) == 89
    assert (results.metric, results.mode) == ("val_mae", "min")
    assert {"loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse"} <= set(results.metrics)
    assert len(results.trials) == 2 and (results.trials["status"] == "TERMINATED").all()
    # Predicting the training mean misses by 59 on these disease scores; a trained MLP does better.
    assert 30 < results.best_trial()["val_mae_best"] < 55
    assert results.best_model().output_shape == (None, 1)  # one number per patient, not a class per value


def test_the_shipped_breast_cancer_auc_equals_scikit_learns_auc_of_the_best_model(launched):
    _, path = finished(launched, "auc")

    results = tunelab.load(path)
    assert (results.metric, results.mode) == ("val_auc", "max")
    assert {"val_accuracy", "val_auc", "val_precision", "val_recall"} <= set(results.metrics)
    checkpoint = results.best_checkpoint()
    data = results.data()  # the split the trials used (its test part held out first)
    assert len(data.x_test) == 114 and results.test_metrics["auc"] > 0.9
    malignant_or_benign = results.best_model().predict(data.x_val, verbose=0)
    assert 0.9 < checkpoint.score == pytest.approx(roc_auc_score(data.y_val, malignant_or_benign[:, 1]), abs=1e-3)


def test_a_users_compiled_model_keeps_its_own_compile_and_is_tuned_on_its_custom_metric(launched):
    stdout, path = finished(launched, "own")

    results = tunelab.load(path)
    assert "best val_my_mae" in stdout
    assert set(results.metrics) == {"loss", "my_mae", "val_loss", "val_my_mae"}  # its compile's, no tunelab default
    assert len(results.trials) == 2 and 25 < results.best_trial()["val_my_mae_best"] < 100
    rates = results.trials.set_index("learning_rate")["val_my_mae_best"]
    assert rates[0.003] != rates[0.03]  # the rate reached the user's optimizer
