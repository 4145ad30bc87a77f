"""Population based training: the explore step's bounds, the pbt options, and real runs on Ray.

The digits run trains a population of four MLPs for four epochs with an exploit at the second; the
crash and failure runs use the schedulers' trainable that trains nothing, so they measure only PBT.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from tunelab.core.run_folder import EVENTS_FILE, HISTORY_FILE
from tunelab.experiments.errors import SpecError
from tunelab.experiments.schedulers.explore import explore, within
from tunelab.experiments.schedulers.pbt import PopulationBasedScheduler
from tunelab.experiments.strategies import Budget, check_options, plan_strategy
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import Choice, Fixed, Float, Int, Space
from tunelab.searchspaces.inline import space_from_dict
from tunelab.trainables.adjustable import adjustable_params

SPACE = Space({
    "optimizer": Choice(["adam", "sgd"]),
    "momentum": Float(0.0, 0.9, when={"optimizer": "sgd"}),
    "learning_rate": Float(1e-4, 1e-1, log=True),
    "dropout": Float(0.0, 0.5, step=0.1),
    "units_1": Int(8, 64, log=True),
    "num_layers": 1,
})


# --- the explore step -------------------------------------------------------------------------


def test_explore_moves_every_value_within_its_parameter():
    rng = random.Random(0)
    names = ("learning_rate", "momentum", "dropout")
    for _ in range(300):
        config = SPACE.sample(rng)
        new, moves = explore(config, SPACE, names, rng, resample_probability=0.25)
        assert set(new) == set(config) and all(new[key] == config[key] for key in ("optimizer", "units_1"))
        assert set(moves) == {name for name in names if name in config}  # momentum only where active
        for name, move in moves.items():
            assert SPACE[name].contains(new[name]), (name, new[name])
            if move.startswith("*"):
                assert new[name] == pytest.approx(within(SPACE[name], config[name] * float(move[1:])))
            elif move != "resample":
                assert new[name] == pytest.approx(within(SPACE[name], config[name] + float(move)))


def test_explore_multiplies_a_log_scaled_value_and_shifts_a_linear_one_by_a_fifth_of_its_range():
    rng = random.Random(1)
    seen: Counter = Counter()
    for _ in range(200):
        _, moves = explore({"learning_rate": 0.01, "dropout": 0.2}, SPACE, ["learning_rate", "dropout"], rng, 0.0)
        seen.update(moves.values())
    assert set(seen) == {"*0.8", "*1.2", "+0.1", "-0.1"}


def test_explore_clips_to_the_bounds_and_puts_values_on_the_step():
    lr, dropout = SPACE["learning_rate"], SPACE["dropout"]
    assert within(lr, 0.1 * 1.2) == 0.1 and within(lr, 1e-4 * 0.8) == 1e-4
    assert within(dropout, 0.56) == 0.5 and within(dropout, -0.1) == 0.0 and within(dropout, 0.26) == 0.3
    assert within(Float(0.0, 0.9), 1.08) == 0.9


def test_a_donor_without_dropout_passes_on_none():
    rng = random.Random(2)
    for _ in range(50):
        new, moves = explore({"dropout": 0.0}, SPACE, ["dropout"], rng, 0.5, kept_at_zero=["dropout"])
        assert new == {"dropout": 0.0} and moves == {"dropout": "kept at 0"}
    assert {explore({"dropout": 0.1}, SPACE, ["dropout"], rng, 0.0, ["dropout"])[0]["dropout"]
            for _ in range(50)} == {0.0, 0.2}  # down to 0 is fine: the layers are there


def test_explore_is_seeded():
    config = {"learning_rate": 0.01, "dropout": 0.2}
    first = [explore(config, SPACE, ["learning_rate", "dropout"], random.Random(5), 0.5) for _ in range(3)]
    assert first[0] == first[1] == first[2]


# --- options, checked before Ray starts ----------------------------------------------------------

BUDGET = Budget("val_accuracy", "max", epochs=6, trainable="mlp")


def plan(options: dict, space: Space = SPACE, budget: Budget = BUDGET):
    return plan_strategy(space, "pbt", check_options("pbt", options), budget)


def test_the_plan_draws_a_seeded_population_and_perturbs_every_adjustable_float():
    made = plan({"population": 4, "perturbation_interval": 2, "seed": 3})
    assert made.num_samples == 4 and made.max_epochs == 24
    assert [made.searcher.suggest(str(i)) for i in range(4)] == SPACE.sample_many(4, seed=3)
    assert isinstance(made.scheduler, PopulationBasedScheduler)
    assert made.notes[0].startswith("pbt: population 4; at epochs 2, 4 the worst 25% take over one of the best 25% "
                                    "and explore learning_rate, momentum, dropout (resampled with probability 0.25")


def test_a_decaying_schedule_keeps_the_learning_rate_out_and_says_why():
    space = Space({**SPACE, "lr_schedule": Choice(["constant", "cosine"])})
    made = plan({"perturbation_interval": 2, "population": 2}, space)
    assert "explore momentum, dropout (" in made.notes[0]
    assert made.notes[1].startswith("pbt: not perturbed: learning_rate follows lr_schedule (choice constant, cosine)")
    assert "explore learning_rate," in plan({"perturbation_interval": 2, "population": 2},
                                            Space({**SPACE, "lr_schedule": Fixed("constant")})).notes[0]


@pytest.mark.parametrize("options, budget, message", [
    ({"population": 1}, BUDGET, "strategy.population: must be >= 2, got 1"),
    ({"perturbation_interval": 6}, BUDGET, "strategy.perturbation_interval: 6 is not below epochs (6)"),
    ({"perturb": ["units_1"]}, BUDGET, "strategy.perturb: units_1 is int [8, 64], log; PBT perturbs float"),
    ({"perturb": ["optimizer"]}, BUDGET, "strategy.perturb: optimizer is choice adam, sgd; PBT perturbs float"),
    ({"perturb": ["learnig_rate"]}, BUDGET, "'learnig_rate' is not a parameter of the space (did you mean "
                                            "'learning_rate'?)"),
    ({"perturb": ["dropout"]}, Budget("acc", "max", 6, trainable="pkg.mod:build"),
     "strategy.perturb: dropout cannot change while a trial trains; a pkg.mod:build model restored from a checkpoint "
     "changes only learning_rate, momentum"),
    ({"perturb": []}, BUDGET, "strategy.perturb: expected a non-empty list of hyperparameter names"),
    ({"perturb": ["dropout", "dropout"]}, BUDGET, "names a hyperparameter twice"),
    ({"quantile_fraction": 0}, BUDGET, "strategy.quantile_fraction: must be > 0 (0 would copy no trial)"),
    ({"quantile_fraction": 0.75}, BUDGET, "strategy.quantile_fraction: must be <= 0.5, got 0.75"),
    ({"resample_probability": 1.5}, BUDGET, "strategy.resample_probability: must be <= 1, got 1.5"),
    ({"scheduler": "asha"}, BUDGET, "strategy.scheduler: not an option of strategy pbt"),
    ({"population": 8}, Budget("acc", "max", 6, max_concurrent_trials=2, trainable="mlp"),
     "max_concurrent_trials: 2 would leave population based training waiting forever for the rest of its 8 trials"),
    ({"perturbation_interval": 3}, Budget("acc", "max", 6, checkpoint_every=2, trainable="mlp"),
     "checkpoint_every: 2 leaves no checkpoint at some epochs where PBT copies the better trials' checkpoints; use "
     "a divisor of strategy.perturbation_interval (3)"),
])
def test_options_that_cannot_work_are_refused_in_one_line(options, budget, message):
    with pytest.raises(SpecError) as caught:
        plan(options, budget=budget)
    assert message in str(caught.value)


def test_a_space_with_nothing_to_perturb_is_refused():
    with pytest.raises(SpecError, match="strategy: nothing for PBT to perturb; .*learning_rate follows lr_schedule"):
        plan({}, Space({"units_1": Int(8, 64), "learning_rate": Float(1e-3, 0.1), "lr_schedule": Choice(
            ["constant", "step"])}))


def test_a_float_that_decides_another_parameter_is_not_perturbed():
    space = space_from_dict({"dropout": {"type": "float", "low": 0.0, "high": 0.5},
                             "units_2": {"type": "int", "low": 8, "high": 16, "when": {"dropout": [0.0]}}})
    with pytest.raises(SpecError, match="strategy.perturb: dropout decides whether units_2 is active"):
        plan({"perturb": ["dropout"]}, space)


def test_the_trainable_decides_what_can_change_on_restore():
    assert adjustable_params("mlp") == ("learning_rate", "momentum", "dropout", "regularization_strength")
    assert adjustable_params("cnn") == adjustable_params("mlp")
    assert adjustable_params("pkg.mod:build") == adjustable_params(None) == ("learning_rate", "momentum")


# --- real runs ---------------------------------------------------------------------------------

DIGITS = {
    "name": "pbt", "trainable": "mlp", "data": "digits", "epochs": 4, "batch_size": 128,
    "space": {"num_layers": 1, "units_1": 32,
              "learning_rate": {"type": "float", "low": 1.0e-4, "high": 0.05, "log": True},
              "dropout": {"type": "float", "low": 0.0, "high": 0.3}},
    "strategy": {"name": "pbt", "population": 4, "seed": 4, "perturbation_interval": 2},
}


def history(run: Path, trial_id: str) -> dict[int, dict]:
    return {line["epoch"]: line for line in map(json.loads, (run / f"trial_{trial_id}" / HISTORY_FILE).read_text()
                                                 .splitlines())}


@pytest.mark.slow
def test_pbt_on_digits_copies_the_better_trials_and_records_every_exploit(tmp_path, ray_session):
    from tunelab.analysis import load
    from tunelab.analysis.plots import lineage_data
    from tunelab.experiments.run.prepare import prepare
    from tunelab.experiments.run.runner import run
    from tunelab.experiments.spec import spec_from_dict

    spec = spec_from_dict({**DIGITS, "storage": str(tmp_path)})
    outcome = run(prepare(spec, name="run"))

    folder = Path(outcome.path)
    assert outcome.trials == 4 and outcome.errored == 0
    events = [json.loads(line) for line in (folder / EVENTS_FILE).read_text().splitlines()]
    exploits = [event for event in events if event["event"] == "exploited"]
    # One of four is the worst 25% at epoch 2; none at the last epoch. Ray logs each exploit too.
    assert [event["epoch"] for event in exploits] == [2]
    assert len((folder / "pbt_global.txt").read_text().splitlines()) == len(exploits)
    for event in exploits:
        own, donor = history(folder, event["trial_id"]), history(folder, event["donor"])
        assert sorted(own) == [1, 2, 3, 4]  # its epochs continue from the donor's: none trained twice
        epoch = event["epoch"]
        copied = folder / f"trial_{event['trial_id']}" / f"pbt_donor-epoch{epoch}-{event['donor']}"
        saved = json.loads((copied / "state.json").read_text())
        assert saved["epoch"] == epoch and saved["metrics"]["val_accuracy"] == donor[epoch]["val_accuracy"]
        # The copy trains on from the donor's model: one epoch later it is as good as the donor was.
        assert own[epoch + 1]["val_accuracy"] > donor[epoch]["val_accuracy"] - 0.1
        for name, value in event["new"].items():
            assert spec.space[name].contains(value)
        assert set(event["new"]) == set(event["donor_values"]) == {"learning_rate", "dropout"}
    assert any(history(folder, event["trial_id"])[event["epoch"]]["val_accuracy"]
               < history(folder, event["donor"])[event["epoch"]]["val_accuracy"] - 0.3 for event in exploits)

    results = load(folder)
    copied_from = dict(zip(results.trials["trial_id"], results.trials["copied_from"]))
    for event in exploits:
        assert f"{event['donor']} at epoch {event['epoch']}" in copied_from[event["trial_id"]]
    lineages = lineage_data(results)
    assert lineages.params == ["learning_rate", "dropout"] and len(lineages.lineages) == 4
    last = exploits[-1]
    (copy,) = [item for item in lineages.lineages if item.trial_id == last["trial_id"]]
    assert copy.trained_by[last["epoch"]:] == [last["trial_id"]] * (4 - last["epoch"])
    assert copy.trained_by[last["epoch"] - 1] == last["donor"]
    assert copy.values["learning_rate"][-1] == pytest.approx(last["new"]["learning_rate"])


@pytest.mark.slow
def test_pbt_resumed_after_a_driver_crash_keeps_the_explored_configurations(tmp_path, ray_session, monkeypatch):
    from tests.experiments.test_schedulers import crash_then_resume, fast, trained

    space = Space({"key": Choice(list("abc")), "start": Fixed(0.0), "slope": Float(0.01, 1.0, log=True)})
    configs = [{"key": key, "start": 0.0, "slope": slope} for key, slope in zip("abc", (0.8, 0.2, 0.02))]
    trace = tmp_path / "trace"
    pbt = PopulationBasedScheduler(space=space, perturb=["slope"], max_t=3, perturbation_interval=1,
                                   events=TrialEventLog())

    # The crash comes after the exploit at epoch 1, with two trials waiting at epoch 2 for the third.
    trials, events = crash_then_resume(tmp_path, monkeypatch, fast(3), pbt, after=5,
                                       configs=[{**config, "trace": str(trace)} for config in configs])

    assert len(trials) == 3 and all(reports[-1]["epoch"] == 3 for _, reports in trials.values())
    epochs = [epoch for trained_epochs in trained(trace).values() for epoch in trained_epochs]
    assert len(epochs) - 3 * 3 <= 1  # only what was in flight at the crash is trained again
    exploits = [event for event in events if event["event"] == "exploited"]
    assert [event["epoch"] for event in exploits] == [1, 2]  # the rebuilt population met again at epoch 2
    for trial_id in {event["trial_id"] for event in exploits}:  # the explored values survived the crash
        final = [event["new"]["slope"] for event in exploits if event["trial_id"] == trial_id][-1]
        assert trials[trial_id][0]["slope"] == pytest.approx(final)


@pytest.mark.slow
def test_pbt_goes_on_without_a_trial_that_fails_for_good(tmp_path, ray_session):
    """The last trial to start fails while the others wait for it at epoch 1: they meet without it."""
    from tests.experiments.test_schedulers import fast, run

    space = Space({"key": Choice(list("abc")), "start": Fixed(0.0), "slope": Float(0.01, 1.0, log=True)})
    configs = [{"key": "a", "start": 0.0, "slope": 0.5}, {"key": "b", "start": 0.0, "slope": 0.05},
               {"key": "c", "start": 0.0, "slope": 0.2, "fail_marker": str(tmp_path / "failed")}]
    pbt = PopulationBasedScheduler(space=space, perturb=["slope"], max_t=2, perturbation_interval=1,
                                   events=TrialEventLog())

    trials, events = run(tmp_path, fast(2), pbt, configs=configs)

    assert sorted(reports[-1]["epoch"] for _, reports in trials.values()) == [2, 2]
    assert [event["event"] for event in events if event["event"] in ("errored", "exploited")] == [
        "errored", "exploited"]
