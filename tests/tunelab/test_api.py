"""The Python API on a real local Ray: run a mapping, get frames back, and the best epoch's own model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest

import tunelab
from tunelab.trainables import load_dataset

EXPERIMENT = {
    "name": "api", "trainable": "tests.tunelab.helpers:scaled_mlp", "data": "digits",
    "space": {"width": {"type": "int", "low": 8, "high": 32}, "learning_rate": {"type": "float", "low": 0.003,
              "high": 0.03, "log": True}, "optimizer": "adam"},
    "strategy": {"name": "random", "num_samples": 3, "seed": 1}, "epochs": 6, "batch_size": 64,
    "checkpoint_every": 10,  # only the last epoch is due: the best one is checkpointed because it is best
}


@pytest.fixture(scope="module")
def results(ray_session, tmp_path_factory):
    storage = tmp_path_factory.mktemp("api")
    return tunelab.run(EXPERIMENT, overrides={"strategy.num_samples": 2, "epochs": 4}, storage=str(storage),
                       name="run")


def test_run_returns_the_results_of_the_experiment_as_written_with_its_overrides(results):
    assert len(results.trials) == 2 and set(results.trials["stop_reason"]) == {"completed"}
    assert len(results.history) == 2 * 4
    assert results.metric == "val_accuracy" and results.experiments[0].spec["epochs"] == 4


def test_best_model_is_the_best_epoch_of_the_best_trial_with_its_custom_layer(results):
    best = results.best_trial()
    checkpoint = results.best_checkpoint()
    assert checkpoint.trial_id == best["trial_id"] and checkpoint.epoch == best["best_epoch"]
    model = results.best_model()  # imports tests.tunelab.helpers, which registers Scale
    data = load_dataset("digits", validation_fraction=0.2, seed=0)
    scores = model.evaluate(data.x_val, keras.utils.to_categorical(data.y_val, data.num_classes), verbose=0,
                            return_dict=True)
    assert scores["accuracy"] == pytest.approx(best["val_accuracy_best"], abs=1e-3)


def test_each_trial_keeps_a_copy_of_its_best_checkpoint_besides_its_two_latest(results):
    for _, trial in results.trials.iterrows():
        folder = Path(trial["path"])
        [kept] = folder.glob("best_checkpoint*")  # one copy: the older one is removed once the new one is whole
        best = json.loads((kept / "state.json").read_text())
        assert kept.name == f"best_checkpoint-epoch{best['epoch']}"
        assert best["epoch"] == trial["best_epoch"]
        assert best["metrics"]["val_accuracy"] == pytest.approx(trial["val_accuracy_best"])
        latest = sorted(json.loads(state.read_text())["epoch"] for state in folder.glob("checkpoint_*/state.json"))
        assert len(latest) == 2 and latest[-1] == 4  # a resume may restore the one before the latest
        history = [json.loads(line)["epoch"] for line in (folder / "tunelab_history.jsonl").read_text().splitlines()]
        assert history == [1, 2, 3, 4]
        assert results.best_checkpoint(trial["trial_id"]).epoch == trial["best_epoch"]


def test_a_mistake_raises_experiment_error_before_ray_and_writes_nothing(tmp_path):
    with pytest.raises(tunelab.ExperimentError, match=r"^strategy.num_sample: not an option"):
        tunelab.run(EXPERIMENT, overrides=["strategy.num_sample=3"], storage=str(tmp_path))
    with pytest.raises(tunelab.ExperimentError, match=r"^epochs: "):
        tunelab.run({**EXPERIMENT, "epochs": 0}, storage=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_importing_tunelab_imports_neither_ray_nor_tensorflow():
    code = "import sys, tunelab; print(sorted(m for m in ('ray', 'tensorflow', 'keras', 'pandas') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
