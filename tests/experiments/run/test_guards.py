"""Experiments stop for what no retry fixes, and a failing or diverging trial never loses the rest."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict

pytestmark = pytest.mark.slow  # real runs of several trials: left out of `pytest -m "not slow"`

SPACE = {"units_1": {"type": "int", "low": 8, "high": 32}, "num_layers": 1}


def experiment(tmp_path: Path, **changes) -> dict:
    return {
        "name": "g", "trainable": "mlp", "data": "digits", "space": SPACE,
        "strategy": {"name": "random", "num_samples": 4, "seed": 0}, "epochs": 2, "batch_size": 128,
        "storage": str(tmp_path), "max_concurrent_trials": 1, **changes,
    }


def test_a_metric_the_trainable_never_reports_stops_the_run_at_the_first_report(tmp_path, ray_session):
    # The spec refuses a metric no trial reports before Ray starts; the guard is the backstop for
    # trainables whose metrics are not known in advance (a KerasTuner HyperModel's own fit).
    prepared = prepare(spec_from_dict(experiment(tmp_path)))
    prepared = dataclasses.replace(prepared, spec=dataclasses.replace(prepared.spec, metric="val_acc"))
    outcome = run(prepared)
    assert outcome.bad_input
    assert outcome.stopped.startswith("metric: the trainable never reports 'val_acc'; it reports ")
    assert "val_accuracy" in outcome.stopped
    assert outcome.trials < 4  # the search was cut short, not run to the end


def test_consecutive_failures_stop_the_experiment_with_the_cause(tmp_path, ray_session):
    raw = experiment(tmp_path, trainable="tests.experiments.helpers:broken_model", max_failures=0,
                     max_consecutive_failures=2)
    outcome = run(prepare(spec_from_dict(raw)))
    assert not outcome.bad_input
    assert outcome.stopped.startswith("2 trials in a row failed (max_consecutive_failures: 2)")
    assert "broken model for units_1=" in outcome.stopped
    assert outcome.errored == 2 and outcome.trials == 2


def test_an_epoch_budget_ends_the_experiment_normally_once_spent(tmp_path, ray_session):
    # 4 trials x 2 epochs would train 8 epochs; one at a time, the budget of 5 ends the third trial's first.
    outcome = run(prepare(spec_from_dict(experiment(tmp_path, max_total_epochs=5))))
    assert outcome.stopped is None and outcome.errored == 0
    trained = {path.parent.name: len(path.read_text().splitlines())
               for path in Path(outcome.path).glob("trial_*/result.json")}
    assert sorted(trained.values(), reverse=True) == [2, 2, 1]
    events = [json.loads(line) for line in (Path(outcome.path) / "tunelab_trial_events.jsonl").read_text().splitlines()]
    assert [event["epochs"] for event in events if event["event"] == "budget_spent"] == [5]


def test_a_diverging_trial_errors_with_its_epoch_and_is_retried(tmp_path, ray_session):
    space = {"num_layers": 1, "units_1": 16, "optimizer": "sgd", "learning_rate": 1.0e30}
    raw = experiment(tmp_path, space=space, strategy={"name": "random", "num_samples": 1}, max_failures=1)
    outcome = run(prepare(spec_from_dict(raw)))
    assert outcome.errored == 1 and outcome.ended_well == 0  # the command exits 1, naming the trial
    errors = list(Path(outcome.path).glob("trial_*/error.txt"))
    assert outcome.errored_trials == (errors[0].parent.name,)
    text = errors[0].read_text()
    assert "NonFiniteLossError" in text and "loss became nan at epoch 1" in text
    assert text.count("Failure #") == 2  # the first try and one retry, as max_failures says


def test_resources_no_node_has_are_refused_before_anything_is_written(tmp_path, ray_session):
    prepared = prepare(spec_from_dict(experiment(tmp_path, resources={"cpu": 1, "gpu": 1})))
    with pytest.raises(SpecError, match=r"resources: a trial needs 1 CPU and 1 GPU, but no node .* 0 GPU"):
        run(prepared)
    assert not Path(prepared.path).exists()


def test_relative_storage_is_refused():
    with pytest.raises(SpecError, match="storage: 'results' is relative"):
        spec_from_dict(experiment(Path("results")))
