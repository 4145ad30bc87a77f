"""The trainable under a real local Ray Tune: reporting, checkpoints, resume, actor reuse."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from ray import tune

from tests.trainables.helpers import train_failing_once, train_logging_pid, train_mirrored_on_two_cpus
from tunelab.trainables import RunSettings, build_model, compile_model, train

pytestmark = [pytest.mark.usefixtures("ray_session"), pytest.mark.slow]

KERAS_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _run_config(tmp_path: Path, **kwargs: Any) -> tune.RunConfig:
    return tune.RunConfig(
        storage_path=str(tmp_path),
        name="t",
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        verbose=0,
        **kwargs,
    )


def _reported(trial_dir: str) -> list[dict]:
    """Every result the trial wrote to disk, across all of its attempts."""
    with open(Path(trial_dir) / "result.json") as f:
        return [json.loads(line) for line in f if line.strip()]


class ResultsSeen(tune.Callback):
    """Every result the driver received, across a trial's attempts: the ground truth of what was reported.

    Ray's result.json of a retried trial is replaced by its copy on storage, which can lack the epoch
    reported just before the failure.
    """

    def __init__(self) -> None:
        self.results: list[dict] = []

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.results.append(result)


def _saved_state(result: tune.Result) -> tuple[int, int]:
    """Finished epochs and optimizer steps held by a trial's latest checkpoint."""
    import keras

    with result.checkpoint.as_directory() as folder:
        state = json.loads((Path(folder) / "state.json").read_text())
        model = keras.models.load_model(Path(folder) / "model.keras", compile=True)
    return state["epoch"], int(model.optimizer.iterations.numpy())


def _one_mlp_trial(tmp_path: Path, digits, run: RunSettings) -> tune.Result:
    tuner = tune.Tuner(
        tune.with_parameters(train, data=digits, run=run),
        # Adam's default 1e-3 needs more than 3 epochs of 23 steps to pass 50% on digits.
        param_space={"num_layers": 1, "units_1": 16, "learning_rate": 0.01},
        tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
        run_config=_run_config(tmp_path),
    )
    [result] = tuner.fit()
    return result


def test_reports_every_epoch_and_checkpoints(tmp_path, digits):
    # Improvements of the objective are checkpointed too; `epoch` under "min" improves only at epoch 1.
    run = RunSettings(model="mlp", epochs=5, batch_size=64, checkpoint_every=4, metric="epoch", mode="min")
    result = _one_mlp_trial(tmp_path, digits, run)

    assert result.error is None
    reported = _reported(result.path)
    assert [r["epoch"] for r in reported] == [1, 2, 3, 4, 5]
    for r in reported:
        assert all(isinstance(r[key], float) for key in KERAS_METRICS)
    assert reported[-1]["val_accuracy"] > 0.5
    # The best so far (epoch 1), every 4th epoch and the last one; Ray keeps the two latest.
    assert [r["checkpoint_dir_name"] is not None for r in reported] == [True, False, False, True, True]
    assert len(list(Path(result.path).glob("checkpoint_*"))) == 2
    steps_per_epoch = math.ceil(len(digits.x_train) / 64)
    assert _saved_state(result) == (5, 5 * steps_per_epoch)


def test_an_epoch_that_improves_the_objective_is_checkpointed_between_due_ones(tmp_path, digits):
    run = RunSettings(model="mlp", epochs=3, batch_size=64, checkpoint_every=10)  # only the last is due
    result = _one_mlp_trial(tmp_path, digits, run)
    reported = _reported(result.path)
    best = [r["val_accuracy"] > max([0.0] + [p["val_accuracy"] for p in reported[:i]]) for i, r in enumerate(reported)]
    assert [r["checkpoint_dir_name"] is not None for r in reported] == [b or r["epoch"] == 3
                                                                       for b, r in zip(best, reported)]


def test_failed_trial_resumes_after_its_last_finished_epoch(tmp_path, digits):
    trainable = tune.with_parameters(
        train_failing_once,
        data=digits,
        run=RunSettings(model="mlp", epochs=4, batch_size=64),
        marker=str(tmp_path / "failed-once"),
        fail_after=2,
    )
    seen = ResultsSeen()
    tuner = tune.Tuner(
        trainable,
        param_space={"num_layers": 1, "units_1": 16},
        tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
        run_config=_run_config(tmp_path, failure_config=tune.FailureConfig(max_failures=1), callbacks=[seen]),
    )
    [result] = tuner.fit()

    assert result.error is None
    assert (tmp_path / "failed-once").exists()
    # A restart from zero would have reported 1, 2, 1, 2, 3, 4.
    assert [r["epoch"] for r in seen.results] == [1, 2, 3, 4]
    # The optimizer kept counting from its checkpointed state rather than starting over.
    steps_per_epoch = math.ceil(len(digits.x_train) / 64)
    assert _saved_state(result) == (4, 4 * steps_per_epoch)


@pytest.mark.parametrize("model", ["tests.tunelab.helpers:scaled_mlp", "tests.trainables.helpers:shifted_mlp"])
def test_a_custom_model_resumes_after_a_failure_like_a_catalog_one(tmp_path, digits, model):
    """scaled_mlp's layer is registered when its module is imported; shifted_mlp's is not, so Keras
    cannot deserialize it and the trial's own builder rebuilds it before the saved state loads."""
    trainable = tune.with_parameters(
        train_failing_once, data=digits, run=RunSettings(model=model, epochs=4, batch_size=64),
        marker=str(tmp_path / "failed-once"), fail_after=2,
    )
    seen = ResultsSeen()
    tuner = tune.Tuner(
        trainable, param_space={"width": 16},
        tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
        run_config=_run_config(tmp_path, failure_config=tune.FailureConfig(max_failures=1), callbacks=[seen]),
    )
    [result] = tuner.fit()

    assert result.error is None and (tmp_path / "failed-once").exists()
    reported = seen.results
    assert [r["epoch"] for r in reported] == [1, 2, 3, 4]  # a restart from zero: 1, 2, 1, 2, 3, 4
    assert reported[2]["val_accuracy"] > reported[0]["val_accuracy"]  # epoch 3 went on from epoch 2's weights
    with result.checkpoint.as_directory() as folder:
        model = build_model({"width": 16}, digits.input_shape, digits.num_classes, model)
        compile_model(model, {}, steps_per_epoch=1, epochs=1)
        model.optimizer.build(model.trainable_variables)
        model.load_weights(Path(folder) / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == 4 * math.ceil(len(digits.x_train) / 64)


def test_trials_run_one_after_another_in_a_reused_worker(tmp_path, digits):
    log = tmp_path / "pids"
    trainable = tune.with_parameters(
        train_logging_pid,
        data=digits,
        run=RunSettings(model="mlp", epochs=1, batch_size=128, cpus=2),
        log=str(log),
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 2}),
        param_space={"num_layers": 1, "units_1": tune.grid_search([8, 16])},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=_run_config(tmp_path),
    )
    results = tuner.fit()

    assert [r.error for r in results] == [None, None]
    assert [r.metrics["epoch"] for r in results] == [1, 1]
    pids, registrations = zip(*(line.split() for line in log.read_text().splitlines()))
    assert len(pids) == 2 and pids[0] == pids[1], "the second trial should reuse the worker"
    assert registrations == ("0", "0"), "a finished trial's graph must not stay in the worker"


def test_a_users_compiled_model_is_only_fitted_and_resumes_with_its_own_optimizer(tmp_path):
    from tunelab.trainables import load_dataset

    diabetes = load_dataset("diabetes", task="regression")
    run = RunSettings(model="tests.trainables.compiled_model:regressor", epochs=4, batch_size=64, task="regression",
                      metric="val_my_mae", mode="min", metrics=())
    trainable = tune.with_parameters(train_failing_once, data=diabetes, run=run, marker=str(tmp_path / "failed-once"),
                                     fail_after=2)
    seen = ResultsSeen()
    tuner = tune.Tuner(
        trainable, param_space={"learning_rate": 0.02, "loss": "huber"},
        tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
        run_config=_run_config(tmp_path, failure_config=tune.FailureConfig(max_failures=1), callbacks=[seen]),
    )
    [result] = tuner.fit()

    assert result.error is None and [r["epoch"] for r in seen.results] == [1, 2, 3, 4]
    assert {"my_mae", "val_my_mae"} <= set(seen.results[-1]) and "mae" not in seen.results[-1]  # its compile's only
    import keras

    with result.checkpoint.as_directory() as folder:
        model = keras.models.load_model(Path(folder) / "model.keras", compile=True)
    assert type(model.optimizer) is keras.optimizers.Adam
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)
    assert int(model.optimizer.iterations.numpy()) == 4 * math.ceil(len(diabetes.x_train) / 64)


def test_a_model_mirrored_over_two_devices_trains_checkpoints_and_resumes(tmp_path, digits):
    # A 2-GPU trial builds, compiles and restores its model under MirroredStrategy; two logical CPU
    # devices stand in for the GPUs. batch_size is the global batch: the optimizer counts global steps.
    log = tmp_path / "replicas"
    trainable = tune.with_parameters(
        train_mirrored_on_two_cpus, data=digits,
        run=RunSettings(model="tests.trainables.helpers:mlp_noting_its_replicas", epochs=3, batch_size=64),
        marker=str(tmp_path / "failed-once"), fail_after=2,
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"learning_rate": 0.01, "replicas_log": str(log)},
        tune_config=tune.TuneConfig(num_samples=1, reuse_actors=True),
        run_config=_run_config(tmp_path, failure_config=tune.FailureConfig(max_failures=1)),
    )
    [result] = tuner.fit()

    assert result.error is None
    # Built once per attempt, the second time to take the checkpoint: under the strategy, mirrored on 2 devices.
    assert log.read_text().split() == ["2", "2", "2", "2"]
    assert _saved_state(result) == (3, 3 * math.ceil(len(digits.x_train) / 64))
