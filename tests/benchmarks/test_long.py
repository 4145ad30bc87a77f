"""The long study's plan, without running it: its task, each entry's size, pbt joining once tunelab has it."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.long import LONG, LONG_NAMES, PBT, long_entries, pbt_entry
from benchmarks.study import select
from benchmarks.task import hyperband_epochs, spec_dict
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.spec import spec_from_dict
from tunelab.experiments.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[2]
needs_pbt = pytest.mark.skipif(PBT not in STRATEGIES, reason="tunelab has no pbt strategy yet")


def free(space) -> list[str]:
    return [name for name, param in space.items() if type(param).__name__ != "Fixed"]


def test_the_long_task_is_plain_sgd_on_the_mlp_space_with_a_14_point_grid():
    assert (LONG.space, LONG.epochs, LONG.batch_size) == ("mlp", 54, 64)
    assert free(LONG.searched_space()) == ["num_layers", "units_1", "units_2", "units_3", "activation",
                                           "learning_rate", "dropout"]
    assert LONG.searched_space()["optimizer"].value == "sgd" and LONG.searched_space()["momentum"].value == 0.0
    assert free(LONG.grid_space()) == ["num_layers", "units_1", "units_2", "units_3"]
    assert (LONG.grid_trials, LONG.budget) == (14, 756)  # 1-3 layers of 32 or 128 units: 2 + 4 + 8


def test_every_long_entry_is_sized_to_the_budget(monkeypatch):
    monkeypatch.delitem(STRATEGIES, PBT, raising=False)
    found, notes = long_entries(LONG)
    assert [entry.name for entry in found] == [name for name in LONG_NAMES if name != PBT]
    assert notes == [f"{PBT} (not in tunelab's strategies yet)"]
    by_name = {entry.name: entry for entry in found}
    assert by_name["random"].trials == by_name["bayes"].trials == 14
    for name in ("grid", "random", "bayes", "hyperband", "asha"):
        assert LONG.budget * 0.9 <= by_name[name].planned_epochs <= LONG.budget, name
    # Halving to one from 2 epochs (rungs 2, 6, 18, 54) takes at most 27 configurations: 162 epochs.
    assert (by_name["sha"].trials, by_name["sha"].planned_epochs) == (27, 162)
    # One whole Hyperband band: brackets of 27, 12, 6 and 4 trials, from epochs 2, 6, 18 and 54.
    assert by_name["hyperband"].trials == 49 and hyperband_epochs(50, 54, 3) > LONG.budget
    assert by_name["asha"].trials > by_name["hyperband"].trials > 14


@needs_pbt
def test_pbt_trains_a_population_as_large_as_the_grid():
    found, notes = long_entries(LONG)
    assert [entry.name for entry in found] == list(LONG_NAMES) and notes == []
    pbt = found[-1]
    assert dict(pbt.options) == {"population": 14, "perturbation_interval": 18}  # meets at epochs 18 and 36
    assert pbt.trials == 14 and pbt.planned_epochs == LONG.budget


@needs_pbt
def test_pbt_is_left_out_with_the_reason_when_its_plan_cannot_work():
    entry, note = pbt_entry(dataclasses.replace(LONG, epochs=1))  # no interval ends before the last epoch
    assert entry is None and note.startswith(f"{PBT} (the strategy registry refuses its options: ")


def test_smoke_runs_scale_every_budget_with_the_epochs():
    smoke = dataclasses.replace(LONG, epochs=9)
    found, _ = long_entries(smoke)
    assert smoke.budget == 14 * 9
    assert all(entry.planned_epochs <= smoke.budget for entry in found)


def test_every_long_entry_is_a_valid_experiment(tmp_path):
    found, _ = long_entries(LONG)
    for entry in found:
        spec = spec_from_dict(spec_dict(LONG, entry, seed=1, storage=str(tmp_path)))
        prepared = prepare(spec, name=spec.name)
        assert (spec.trainable, spec.epochs, spec.batch_size) == ("mlp", 54, 64)
        assert prepared.plan.num_samples == (entry.trials or LONG.grid_trials), entry.name


def test_only_names_the_long_entries(monkeypatch):
    monkeypatch.delitem(STRATEGIES, PBT, raising=False)
    found, _ = long_entries(LONG)
    assert [entry.name for entry in select(found, ["hyperband", "grid"])] == ["grid", "hyperband"]
    with pytest.raises(ValueError, match="--only: 'pbt' is not a study entry; allowed: grid, random, bayes, sha, "
                                         "hyperband, asha$"):
        select(found, ["pbt"])
    with pytest.raises(ValueError, match="did you mean 'asha'"):
        select(found, ["kt_asha"])


@pytest.mark.parametrize("arguments, message", [
    (["--long", "--quick"], "argument --quick: not allowed with argument --long"),
    (["--long", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
])
def test_the_script_refuses_what_cannot_be_a_study(arguments, message):
    done = subprocess.run([sys.executable, "scripts/benchmark.py", "study", *arguments], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr
