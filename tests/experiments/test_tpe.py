"""TPE search through Optuna: native conditions and scales, seeds, no repeats, rungs, warm start, state.

The searcher is driven by hand (suggest, then results from a synthetic objective), so these need
no Ray cluster; the last runs a real experiment under Hyperband, and tests/scripts/test_crash_resume.py kills
and resumes a tpe run.
"""
from __future__ import annotations

import json
import math
import pickle
import statistics
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.experiments.test_bayes import FINISHED, SPACE, TINY, distance_to_optimum, drive, score
from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.searchers.tpe import TPESearch
from tunelab.experiments.spec import spec_from_dict
from tunelab.experiments.strategies import Budget, check_options, plan_strategy
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import Choice, Fixed, Float, Int, Space, SpaceError, per_layer

LAYERED = Space({
    "num_layers": Int(1, 3),
    **per_layer(Int(16, 256, log=True), count="num_layers", max_count=3, prefix="units"),
    "dropout": Float(0.0, 0.5, step=0.1),
    "optimizer": Choice(["adam", "sgd"]),
    "momentum": Float(0.0, 0.9, when={"optimizer": "sgd"}),
    "batch_norm": Choice([None, True]),
})


def keys(configs: list[dict]) -> set[str]:
    return {json.dumps(config, sort_keys=True) for config in configs}


def test_conditions_inclusive_ints_steps_and_log_scales_stay_native():
    configs = drive(TPESearch(LAYERED, "score", "max", seed=1, random_steps=4),
                    60, objective=lambda c: {"score": c["num_layers"] - c.get("momentum", 0)})
    for config in configs:
        LAYERED.check_config(config)  # inactive units and momentum absent, steps on the grid, ints in range
    assert {config["num_layers"] for config in configs} == {1, 2, 3}  # both bounds reached
    assert {config["dropout"] for config in configs} <= {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    assert len(keys(configs)) == 60


def test_the_same_seed_gives_the_same_sequence_and_the_first_random_steps_at_any_concurrency():
    first = drive(TPESearch(SPACE, "score", "max", seed=3, random_steps=4), 15)
    assert drive(TPESearch(SPACE, "score", "max", seed=3, random_steps=4), 15) == first
    assert drive(TPESearch(SPACE, "score", "max", seed=4, random_steps=4), 15) != first
    concurrent = drive(TPESearch(SPACE, "score", "max", seed=3, random_steps=4), 15, concurrent=3)
    assert concurrent[:4] == first[:4]
    assert len(keys(concurrent)) == 15


def test_the_model_closes_in_on_the_optimum():
    """Its later suggestions sit nearer the optimum than random search's (median 0.36 decades against 0.86)."""
    configs = drive(TPESearch(SPACE, "score", "max", seed=0, random_steps=5), 40)
    modelled = statistics.median(map(distance_to_optimum, configs[20:]))
    at_random = statistics.median(map(distance_to_optimum, SPACE.sample_many(20, seed=0)))
    assert modelled < at_random / 2


@pytest.mark.parametrize("concurrent", [1, 4])
def test_a_tiny_space_is_tried_config_by_config_then_finished(concurrent):
    searcher = TPESearch(TINY, "score", "max", seed=0, random_steps=2)
    configs = drive(searcher, 20, objective=lambda c: {"score": float(c["layers"])}, concurrent=concurrent)
    assert len(configs) == 6 == len(keys(configs))
    assert searcher.suggest("late") == FINISHED


def test_a_stopped_trial_is_told_as_pruned_at_its_rung_and_the_event_says_so(tmp_path):
    events = TrialEventLog()
    events.attach(str(tmp_path))
    searcher = TPESearch(SPACE, "acc", "max", seed=0, random_steps=2, epochs=9, events=events)
    stopped, completed, failed = (searcher.suggest(trial) for trial in ("s", "c", "f"))
    assert stopped != completed
    searcher.on_trial_result("s", {"acc": 0.5, "epoch": 1})
    searcher.on_trial_complete("s", {"acc": 0.6, "epoch": 3})  # stopped at epoch 3's rung
    for epoch in range(1, 9):
        searcher.on_trial_result("c", {"acc": 0.7, "epoch": epoch})
    searcher.on_trial_complete("c", {"acc": 0.9, "epoch": 9})
    searcher.on_trial_complete("f", error=True)

    told = {t.number: t for t in searcher._study.trials}
    assert told[0].state == TrialState.PRUNED and told[0].intermediate_values == {1: 0.5, 3: 0.6}
    assert told[1].state == TrialState.COMPLETE and told[1].value == 0.9
    assert told[2].state == TrialState.FAIL
    learned = [json.loads(line) for line in (tmp_path / "tunelab_trial_events.jsonl").read_text().splitlines()]
    assert [(e["trial_id"], e["outcome"], e["epoch"], e["value"]) for e in learned] == [
        ("s", "stopped at its rung", 3, 0.6), ("c", "completed", 9, 0.9), ("f", "failed", None, None)]


def test_a_paused_trial_stopped_without_a_result_is_told_at_its_last_rung():
    searcher = TPESearch(SPACE, "acc", "max", seed=0, epochs=9)
    searcher.suggest("p")
    searcher.on_trial_result("p", {"acc": 0.4, "epoch": 1})
    searcher.on_trial_result("p", {"acc": 0.45, "epoch": 1})  # the epoch again, after a resume: ignored
    searcher.on_trial_complete("p")  # Ray stops a paused trial without a result
    [trial] = searcher._study.trials
    assert trial.state == TrialState.PRUNED and trial.intermediate_values == {1: 0.4}


def test_save_and_restore_continue_with_the_same_suggestions(tmp_path):
    searcher = TPESearch(SPACE, "score", "max", seed=5, random_steps=3)
    drive(searcher, 6)
    running = searcher.suggest("running")
    searcher.save(str(tmp_path / "state.pkl"))
    ahead = drive(searcher, 5, prefix="a")

    restored = TPESearch(SPACE, "score", "max", seed=99)  # the run's own class, rebuilt, then restored
    restored.restore(str(tmp_path / "state.pkl"))
    assert drive(restored, 5, prefix="a") == ahead
    restored.on_trial_complete("running", score(running))  # a trial running at the save still reports
    assert restored._study.trials[6].state == TrialState.COMPLETE


def test_a_trial_taken_back_on_resume_is_suggested_again_first_and_never_twice():
    searcher = TPESearch(SPACE, "score", "max", seed=0, random_steps=2)
    drive(searcher, 3)
    lost = searcher.suggest("lost")  # a trial Ray's snapshot never recorded
    assert searcher.take_back([lost]) == 1
    assert searcher.suggest("again") == lost
    searcher.on_trial_complete("again", score(lost))
    configs = drive(searcher, 10, prefix="n")
    assert json.dumps(lost, sort_keys=True) not in keys(configs)


def test_published_configs_warm_start_the_model_and_are_never_suggested():
    published = [{"learning_rate": 1e-3, "units": 32, "optimizer": "adam", "epochs_seen": 3},
                 {"learning_rate": 1e-2, "units": 8, "optimizer": "sgd", "momentum": 0.5, "epochs_seen": 3}]
    searcher = TPESearch(SPACE, "score", "max", seed=0, random_steps=2)
    for config in published:
        searcher.add_evaluated_point(config, score(config)["score"])
    assert [t.state for t in searcher._study.trials] == [TrialState.COMPLETE] * 2
    configs = drive(searcher, 10)
    assert not keys(configs) & keys(published)
    assert distance_to_optimum(configs[0]) < 1  # two results in: the model starts near the published best


def test_a_repeat_of_a_finished_config_teaches_the_model_and_another_is_tried():
    searcher = TPESearch(TINY, "score", "max", seed=0, random_steps=1)
    configs = drive(searcher, 5, objective=lambda c: {"score": 1.0 if c["activation"] == "relu" else 0.0})
    assert len(keys(configs)) == 5
    assert len(searcher._study.trials) > 5  # TPE proposed tried configs again; each was told, none ran


def test_nan_and_missing_metrics_neither_crash_nor_stall_the_search():
    results = iter([{"score": math.nan}, {}, {"score": "x"}] + [{"score": 1.0}] * 20)
    configs = drive(TPESearch(SPACE, "score", "max", seed=0, random_steps=2), 10, objective=lambda c: next(results))
    assert len(keys(configs)) == 10


def test_the_searcher_pickles_whole_as_ray_saves_it():
    searcher = TPESearch(SPACE, "score", "min", seed=0)
    drive(searcher, 3)
    copy = pickle.loads(pickle.dumps(searcher.get_state()))
    assert len(copy["_study"].trials) == 3 and copy["_study"].direction.name == "MINIMIZE"


@pytest.mark.parametrize("space, message", [
    (Space({"flag": Choice([1, True, "x"])}), "space.flag: choice 1, True, 'x' holds 1 and True, which tpe"),
    (Space({"size": Choice([1, 1.0])}), "space.size: choice 1, 1.0 holds 1 and 1.0"),
    (Space({"lr": Fixed(0.1)}), "every parameter is fixed"),
])
def test_a_space_tpe_cannot_represent_is_refused(space, message):
    with pytest.raises(SpaceError, match=message.replace("(", r"\(")):
        TPESearch(space, "score", "max")


def test_a_space_tpe_cannot_represent_fails_the_spec_before_ray_naming_the_key(tmp_path):
    spec = spec_from_dict({
        "name": "x", "trainable": "mlp", "data": "digits", "storage": str(tmp_path),
        "space": {"num_layers": 1, "units_1": {"type": "choice", "values": [32, 32.0, 64]}},
        "strategy": "tpe",
    })
    with pytest.raises(SpecError, match=r"^strategy tpe: space.units_1: choice 32, 32.0, 64 holds 32 and 32.0"):
        prepare(spec)
    assert list(tmp_path.iterdir()) == []


def test_defaults_and_a_scheduler_plan():
    options = check_options("tpe", {})
    assert {k: options[k] for k in ("num_samples", "seed", "random_steps", "scheduler")} == {
        "num_samples": 20, "seed": 0, "random_steps": 5, "scheduler": None}
    plan = plan_strategy(SPACE, "tpe", check_options("tpe", {"num_samples": 17, "scheduler": "hyperband"}),
                         Budget("acc", "max", 9))
    assert isinstance(plan.searcher, TPESearch) and plan.num_samples == 17 and plan.scheduler is not None
    with pytest.raises(SpecError, match="strategy.random_steps: must be >= 1"):
        check_options("tpe", {"random_steps": 0})


@pytest.mark.slow
@pytest.mark.ray
def test_tpe_under_hyperband_learns_every_stopped_trials_rung_result(tmp_path, ray_session):
    """Model-based Hyperband: a trial Hyperband stops at epoch 1 is told to the model as pruned there (its
    `learned` event says so), each completed one with its epoch-3 value."""
    spec = spec_from_dict({
        "name": "tpe_hyperband", "trainable": "mlp", "data": "digits",
        "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                  "units_1": {"type": "int", "low": 8, "high": 32}, "num_layers": 1},
        "strategy": {"name": "tpe", "num_samples": 5, "random_steps": 2, "seed": 0, "scheduler": "hyperband"},
        "epochs": 3, "batch_size": 128, "storage": str(tmp_path),
    })
    outcome = run(prepare(spec))  # brackets 3 + 2: 2 of the first 3 stop at epoch 1

    assert outcome.errored == 0
    events = [json.loads(line) for line in (Path(outcome.path) / "tunelab_trial_events.jsonl").read_text().splitlines()]
    stopped = {e["trial_id"]: e["epoch"] for e in events if e["event"] == "stopped"}
    learned = {e["trial_id"]: e for e in events if e["event"] == "learned"}
    assert sorted(stopped.values()) == [1, 1] and len(learned) == 5
    for trial_id, event in learned.items():
        history = [json.loads(line) for line in
                   (Path(outcome.path) / f"trial_{trial_id}" / "tunelab_history.jsonl").read_text().splitlines()]
        assert event["value"] == history[-1]["val_accuracy"] and event["epoch"] == history[-1]["epoch"]
        assert event["outcome"] == ("stopped at its rung" if trial_id in stopped else "completed")
    configs = [json.loads(p.read_text()) for p in Path(outcome.path).glob("trial_*/params.json")]
    assert len(keys(configs)) == 5


def test_manual_then_tpe_learns_the_published_results_before_its_first_suggestion():
    options = check_options("manual", {
        "configs": [{"source": "a paper", "params": {"learning_rate": 1e-3, "units": 32, "optimizer": "adam"}},
                    {"source": "a tutorial", "params": {"learning_rate": 0.05}}],  # partial: defaults apply
        "then": {"name": "tpe", "num_samples": 3, "random_steps": 2}})
    plan = plan_strategy(SPACE, "manual", options, Budget("score", "max", 3))
    published = [plan.searcher.suggest("p0"), plan.searcher.suggest("p1")]
    for trial_id, config in zip(("p0", "p1"), published):
        plan.searcher.on_trial_complete(trial_id, {"score": 0.5, "epoch": 3})
    then = plan.searcher._then
    assert [t.params for t in then._study.trials] == [
        {"learning_rate": 1e-3, "units": 32, "optimizer": "adam"}, {"learning_rate": 0.05}]
    assert plan.num_samples == 5 and plan.searcher.suggest("s0") not in published
