"""KerasTuner scripts on tunelab: the space KerasTuner would declare, every tuner on Ray, resume.

The scripts are KerasTuner code with `kt` swapped for tunelab's module; the same build_model
also runs under keras_tuner itself to compare the declared spaces.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tunelab
import tunelab.keras_tuner as kt
from tests.keras_tuner.kt_scripts import (
    InterruptOnce, build_model, build_small, custom_objective_class, digits, hypermodel_class,
)
from tunelab.searchspaces import Above, OneOf

pytestmark = pytest.mark.slow  # real runs of several trials: left out of `pytest -m "not slow"`

keras_tuner = pytest.importorskip("keras_tuner")


@pytest.fixture(scope="module")
def data():
    return digits()


def search(tuner, data, **fit):
    x, y, x_val, y_val = data
    tuner.search(x, y, validation_data=(x_val, y_val), **{"epochs": 2, "batch_size": 128, **fit})
    return tuner


def epochs_reported(trial_path: str) -> list[int]:
    """Every epoch a trial reported, in order, repeats included (analysis drops repeats)."""
    lines = (Path(trial_path) / "result.json").read_text().splitlines()
    return [json.loads(line)["epoch"] for line in lines]


# --- the space --------------------------------------------------------------------------------


def test_discovered_space_is_what_keras_tuner_declares(tmp_path):
    ours = kt.RandomSearch(build_model, objective="val_accuracy", directory=tmp_path, project_name="ours")
    theirs = keras_tuner.RandomSearch(build_model, objective="val_accuracy", directory=tmp_path, project_name="kt")
    # KerasTuner declares the first layer's units and no dropout rate up front, and learns the rest
    # when a trial builds with more layers and dropout on: build once that way to complete its space.
    hp = theirs.oracle.get_space()
    hp.values.update(head="dense", num_layers=3, dropout=True)
    build_model(hp)

    declared = {d.name: d for d in ours.discovery.declarations}
    assert sorted(declared) == sorted(p.name for p in hp.space)  # tunelab orders loop layers together
    for p in hp.space:
        mine = declared[p.name]
        assert mine.kind == type(p).__name__
        theirs_config = p.get_config()
        for key, value in mine.config.items():
            if key != "default":  # KerasTuner fills the default in; compared as resolved below
                assert theirs_config[key] == (list(value) if isinstance(value, tuple) else value), (p.name, key)
        assert mine.default == p.default
        assert [(c.name, list(c.values)) for c in p.conditions] == [(n, list(v)) for n, v in mine.scopes]

    # ... and tunelab adds what KerasTuner leaves to chance: when each loop and branch parameter exists.
    space = ours.space
    assert dict(space["units_1"].conditions) == {"head": OneOf(("dense",)), "num_layers": Above(1)}
    assert dict(space["units_2"].conditions) == {"head": OneOf(("dense",)), "num_layers": Above(2)}
    assert dict(space["rate"].conditions) == {"dropout": OneOf((True,))}
    for config in space.sample_many(20, seed=0):
        replayed = ours.discovery.hyperparameters(config)
        build_model(replayed)
        assert replayed.values == config  # a trial's config is exactly what its build uses


def test_search_space_summary_prints_keras_tuners_listing(tmp_path, capsys):
    kt.RandomSearch(build_model, objective="val_accuracy", directory=tmp_path).search_space_summary()
    printed = capsys.readouterr().out
    assert printed.startswith("Search space summary\nDefault search space size: 9\n")
    assert "units_2 (Int)" in printed and "'when': 'num_layers > 2'" in printed
    assert "'default': None" not in printed  # KerasTuner prints the default it will use
    assert "{'min_value': 8, 'max_value': 32, 'step': 8, 'sampling': 'linear', 'default': 8, " in printed
    assert "'sampling': 'log', 'default': 0.001, 'conditions': []}" in printed


def test_bad_arguments_fail_at_construction(tmp_path):
    with pytest.raises(ValueError, match="infer optimization direction"):
        kt.RandomSearch(build_model, objective="val_f1", directory=tmp_path)
    with pytest.raises(TypeError, match="did you mean 'max_concurrent_trials'"):
        kt.RandomSearch(build_model, objective="val_accuracy", directory=tmp_path, max_concurrent_trial=2)
    with pytest.raises(ValueError, match="distribution_strategy"):
        kt.RandomSearch(build_model, objective="val_accuracy", directory=tmp_path, distribution_strategy=object())
    with pytest.raises(ValueError, match="Hyperband is its own scheduler"):
        kt.Hyperband(build_model, objective="val_accuracy", directory=tmp_path, scheduler="asha")
    with pytest.raises(ValueError, match=r"tracking.mlfow: unknown key; .* \(did you mean 'mlflow'\?\)"):
        kt.RandomSearch(build_model, objective="val_accuracy", directory=tmp_path, tracking={"mlfow": "x"})


# --- each tuner on Ray --------------------------------------------------------------------------


def test_random_search_script(tmp_path, data, ray_session, capsys):
    mlflow = pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tuner = kt.tuners.RandomSearch(build_model, objective="val_accuracy", max_trials=3, seed=1,
                                   directory=str(tmp_path / "output_dir"), project_name="digits",
                                   tracking={"mlflow": store})
    search(tuner, data)
    printed = capsys.readouterr().out.splitlines()
    # As KerasTuner: a line per finished trial; Ray's configuration box went to the run's log.
    assert [line for line in printed if "trials done" in line] == printed and len(printed) == 3
    assert "3/3 trials done" in printed[-1]

    results = tuner.results
    assert len(results.trials) == 3 and set(results.trials["stop_reason"]) == {"completed"}
    assert results.trials["log"].notna().all()  # each trial's own output, in its folder
    assert len(results.history) == 6
    ran = [results.config(row) for _, row in results.trials.iterrows()]
    assert sorted(map(repr, ran)) == sorted(map(repr, tuner.space.sample_many(3, seed=1)))

    best_hp = tuner.get_best_hyperparameters(1)[0]
    best = results.best_trial()
    assert best_hp.values == results.config(best)
    assert best_hp.get("filters") == best_hp["filters"] == best["filters"]
    best_model = tuner.get_best_models(1)[0]
    _, accuracy = best_model.evaluate(data[2], data[3], verbose=0)
    assert accuracy == pytest.approx(best["val_accuracy_best"], abs=1e-4)  # the best epoch's own weights
    for model in (tuner.best_model(), tunelab.load(tuner.project_dir).best_model()):
        _, accuracy = model.evaluate(data[2], data[3], verbose=0)
        assert accuracy == pytest.approx(best["val_accuracy_best"], abs=1e-3)
    assert tuner.best_checkpoint().epoch == best["best_epoch"]
    client = mlflow.MlflowClient(store)  # tracked as a YAML run is: the project an MLflow experiment
    runs = client.search_runs([client.get_experiment_by_name("digits").experiment_id])
    assert sorted(run.data.tags["tunelab.trial_id"] for run in runs) == sorted(results.trials["trial_id"])
    assert {run.info.status for run in runs} == {"FINISHED"}

    tuner.results_summary(2)
    printed = capsys.readouterr().out
    assert printed.startswith(f"Results summary\nResults in {tmp_path / 'output_dir' / 'digits'}\n")
    assert f"Trial {best['trial_id']} summary" in printed
    assert 'Objective(name="val_accuracy", direction="max")' in printed


def test_random_search_uses_up_a_small_space_once_and_says_so(tmp_path, data, ray_session, capsys):
    tuner = kt.RandomSearch(build_small, objective="val_accuracy", max_trials=10, seed=0, directory=tmp_path)
    search(tuner, data, epochs=1)

    printed = capsys.readouterr().out
    assert "random: the space holds only 4 configurations; each runs once, 4 trials instead of num_samples 10" \
        in printed
    configs = [repr(tuner.results.config(row)) for _, row in tuner.results.trials.iterrows()]
    assert len(configs) == len(set(configs)) == 4
    assert tuner.remaining_trials == 0


def test_custom_objective_returned_by_fit_with_tensorboard_and_the_oracle(tmp_path, data, ray_session):
    """KerasTuner's custom-objective guide: fit passes **kwargs (our reporter among the callbacks)
    to model.fit, then returns the error rate; no objective given, so it is minimized."""
    logs = tmp_path / "tb"
    tuner = kt.RandomSearch(custom_objective_class(kt)(), max_trials=2, seed=0, directory=tmp_path / "out")
    here = os.getcwd()
    os.chdir(tmp_path)  # a relative log_dir is the user's, not the trial worker's own folder
    try:
        search(tuner, data, callbacks=[keras_tuner_free_tensorboard("tb")])
    finally:
        os.chdir(here)

    trials = tuner.results.trials
    assert set(trials["stop_reason"]) == {"completed"} and len(trials) == 2
    best = tuner.oracle.get_best_trials(2)
    assert [trial.status for trial in best] == ["COMPLETED", "COMPLETED"]
    assert best[0].score <= best[1].score  # the returned error rate, minimized
    x_val, y_val = data[2], data[3]
    model = tuner.get_best_models(1)[0]
    error = float((model.predict(x_val, verbose=0).argmax(axis=1) != y_val).mean())
    assert error == pytest.approx(best[0].score, abs=1e-6)  # scored by what fit returned
    assert tuner.oracle.get_trial(best[1].trial_id).hyperparameters.values == best[1].hyperparameters.values
    assert sorted(tuner.oracle.trials) == sorted(trials["trial_id"])
    # One TensorBoard run per trial, as KerasTuner gives: LOG_DIR/<trial id>/execution0, HParams included.
    assert sorted(path.name for path in logs.iterdir()) == sorted(trials["trial_id"])
    for trial_id in trials["trial_id"]:
        assert list((logs / trial_id / "execution0").rglob("events.out.tfevents.*"))


def keras_tuner_free_tensorboard(log_dir):
    import keras

    return keras.callbacks.TensorBoard(log_dir=str(log_dir))


def test_grid_search_in_keras_tuners_order_with_two_executions(tmp_path, data, ray_session, capsys):
    tuner = kt.GridSearch(build_small, objective="val_accuracy", max_trials=3, directory=tmp_path,
                          executions_per_trial=2)
    search(tuner, data, verbose=0)
    assert capsys.readouterr().out == ""  # verbose=0: silent, as KerasTuner

    results = tuner.results
    trials = results.trials.sort_values("start")
    # KerasTuner's GridSearch: defaults first, the last parameter varying fastest, stopping at max_trials.
    assert [results.config(row) for _, row in trials.iterrows()] == [
        {"units": 16, "activation": "relu"}, {"units": 16, "activation": "tanh"}, {"units": 32, "activation": "relu"},
    ]
    checkpoint = next(Path(trials["path"].iloc[0]).glob("checkpoint_*"))
    assert {p.name for p in checkpoint.iterdir()} >= {"model_0.keras", "model_1.keras", "state.json"}
    assert tuner.get_best_models(1)[0].count_params() > 0


def test_bayesian_optimization_script(tmp_path, data, ray_session):
    tuner = kt.BayesianOptimization(build_model, objective=kt.Objective("val_loss", direction="min"),
                                    max_trials=3, num_initial_points=2, seed=0, directory=tmp_path)
    search(tuner, data)

    results = tuner.results
    assert len(results.trials) == 3 and results.mode == "min"
    best = tuner.get_best_hyperparameters(3)
    losses = [results.trials.set_index(results.trials.apply(results.config, axis=1).map(repr))
              .loc[repr(hp.values), "val_loss_best"] for hp in best]
    assert losses == sorted(losses)


def test_hyperband_pauses_and_resumes_trials_from_checkpoints(tmp_path, data, ray_session):
    tuner = kt.Hyperband(build_model, objective="val_accuracy", max_epochs=3, factor=3, seed=0, directory=tmp_path)
    search(tuner, data, epochs=50)  # ignored, as in KerasTuner: max_epochs is the budget

    trials = tuner.results.trials
    assert len(trials) == 5  # brackets of 3 trials from epoch 1 and 2 trials from epoch 3
    assert sorted(trials["epochs"]) == [1, 1, 3, 3, 3]
    configs = [repr(tuner.results.config(row)) for _, row in trials.iterrows()]
    assert len(set(configs)) == 5  # never the same configuration twice, as KerasTuner
    promoted = trials[trials["resumes"] > 0]
    assert len(promoted) == 1
    assert epochs_reported(promoted["path"].iloc[0]) == [1, 2, 3]  # went on from epoch 1, not from zero


def test_hypermodel_with_its_own_fit_under_asha(tmp_path, data, ray_session):
    tuner = kt.RandomSearch(hypermodel_class(kt)(), objective="val_accuracy", max_trials=2, seed=0,
                            directory=tmp_path, scheduler={"name": "asha", "grace_period": 1})
    assert list(tuner.space) == ["units"]  # fit's hyperparameters show up once search() has the data
    x, y, x_val, y_val = data
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=2)  # fit picks the batch size

    assert list(tuner.space) == ["units", "batch_size", "shuffle"]
    results = tuner.results
    assert len(results.trials) == 2 and {"batch_size", "shuffle"} <= set(results.params)
    assert set(tuner.get_best_hyperparameters(1)[0].values) == {"units", "batch_size", "shuffle"}


def test_resume_continues_interrupted_trials_and_runs_only_the_missing_ones(tmp_path, data, ray_session):
    options = {"objective": "val_accuracy", "seed": 3, "directory": tmp_path, "project_name": "resumed",
               "max_concurrent_trials": 1}
    first = kt.RandomSearch(build_small, max_trials=2, **options)
    interrupt = InterruptOnce(os.getpid(), str(tmp_path / "interrupted"), at=2)
    with pytest.raises(kt.SearchInterrupted, match="overwrite=False"):
        search(first, data, epochs=3, callbacks=[interrupt])
    before = first.results.trials
    assert (before["stop_reason"] == "running").any()

    again = kt.RandomSearch(build_small, max_trials=3, **options)  # overwrite=False: KerasTuner's default
    search(again, data, epochs=3)

    after = again.results.trials
    assert len(after) == 3 and set(after["stop_reason"]) == {"completed"}
    assert set(before["trial_id"]) < set(after["trial_id"])  # the earlier trials, plus one new
    for path in after["path"]:
        assert epochs_reported(path) == [1, 2, 3]  # nothing trained twice: interrupted trials resumed

    unchanged = kt.RandomSearch(build_small, max_trials=3, **options)
    search(unchanged, data, epochs=3)
    assert len(unchanged.results.trials) == 3 and unchanged.remaining_trials == 0
