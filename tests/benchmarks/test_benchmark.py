"""The strategy study's plan, without running it: budgets, trial counts, specs, the KerasTuner space, memory summary."""
from __future__ import annotations

import random

import pytest

from benchmarks.study import select
from benchmarks.task import (
    FULL, NAMES, QUICK, QUICK_LEAVES_OUT, StudyTask, asha_epochs, entries, hyperband_epochs, kt_hyperband_epochs,
    spec_dict,
)
from benchmarks.worker_memory import summarize_memory
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.schedulers import successive_halving_epochs, successive_halving_rungs
from tunelab.experiments.spec import spec_from_dict


def test_the_grid_defines_the_budget():
    assert (QUICK.grid_trials, QUICK.budget) == (8, 72)
    assert (FULL.grid_trials, FULL.budget) == (24, 216)
    free = [name for name, param in FULL.grid_space().items() if type(param).__name__ != "Fixed"]
    assert free == ["num_conv_layers", "filters_1", "filters_2", "kernel_size", "learning_rate"]
    assert len([name for name, param in QUICK.searched_space().items() if type(param).__name__ != "Fixed"]) == 12


@pytest.mark.parametrize("task", [QUICK, FULL], ids=["quick", "full"])
def test_every_entry_is_sized_to_the_budget(task):
    found = {entry.name: entry for entry in entries(task)}
    assert tuple(found) == NAMES
    same = task.budget // task.epochs
    for name in ("random", "bayes", "tpe", "ray_random", "kt_random", "kt_bayes"):
        assert found[name].trials == same
    for name, entry in found.items():
        if name not in ("kt_hyperband", "sha"):  # KerasTuner's Hyperband runs whole iterations only
            assert task.budget * 0.9 <= entry.planned_epochs <= task.budget, name
    # Successive halving to one: at 9 epochs a trial, 9 configurations (2 halvings) is the most
    # that fits, 21 epochs; 10 would need a third halving, before epoch 1.
    assert found["sha"].trials == 9 and found["sha"].planned_epochs == 21 <= task.budget
    assert found["hyperband"].trials > same  # more trials than the grid when trials stop early
    assert found["bayes+asha"].options["num_samples"] == found["asha"].options["num_samples"]
    assert found["tpe+hyperband"].trials == found["hyperband"].trials


def test_epoch_models_of_the_schedulers():
    # one Hyperband band for max_t 9, eta 3: brackets (9 from 1), (5 from 3), (3 from 9)
    assert hyperband_epochs(17, 9, 3) == 9 + 3 * 2 + 1 * 6 + 5 * 3 + 2 * 6 + 3 * 9
    assert hyperband_epochs(9, 9, 3) == 21
    assert hyperband_epochs(1, 9, 3) == 9  # a lone trial in the first bracket runs to the end
    assert asha_epochs(9, 9, 3, 1) == 21  # 9 x 1, 3 x 2 more, 1 x 6 more
    assert successive_halving_epochs(9, successive_halving_rungs(9, 3), 3) == 21


def test_kerastuner_hyperband_epochs_match_its_oracle():
    keras_tuner = pytest.importorskip("keras_tuner")
    for max_epochs, factor in ((9, 3), (27, 3), (10, 3), (16, 2)):
        oracle = keras_tuner.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=max_epochs, factor=factor)
        total = 0
        for bracket in range(oracle._get_num_brackets()):
            before = 0
            for round_num in range(oracle._get_num_rounds(bracket)):
                epochs = oracle._get_epochs(bracket, round_num)
                total += oracle._get_size(bracket, round_num) * (epochs - before)
                before = epochs
        assert kt_hyperband_epochs(max_epochs, factor, 1) == total
        assert kt_hyperband_epochs(max_epochs, factor, 3) == 3 * total


def test_every_tunelab_entry_is_a_valid_experiment(tmp_path):
    for entry in entries(QUICK):
        if entry.tool != "tunelab":
            continue
        spec = spec_from_dict(spec_dict(QUICK, entry, seed=1, storage=str(tmp_path)))
        prepared = prepare(spec, name=spec.name)
        assert spec.seed == 1 and spec.epochs == QUICK.epochs
        if entry.name == "grid":
            assert prepared.plan.num_samples == QUICK.grid_trials
        else:
            assert spec.strategy.options["seed"] == 1
            assert prepared.plan.num_samples == entry.trials


def test_kerastuner_searches_the_same_space():
    keras_tuner = pytest.importorskip("keras_tuner")
    from benchmarks.kt_space import declare

    space = QUICK.searched_space()
    declared = keras_tuner.HyperParameters()
    declare(declared, space)
    assert {hp.name for hp in declared.space} == set(space)
    rng = random.Random(0)
    seen_inactive = set()
    for _ in range(200):
        hp = keras_tuner.HyperParameters()
        for param in declared.space:
            hp.values[param.name] = param.random_sample(rng.randrange(2**31))
        config = declare(hp, space)
        space.check_config(config)  # bounds, steps and conditions as tunelab's own
        seen_inactive |= set(space) - set(config)
    assert {"filters_2", "momentum"} <= seen_inactive


def test_memory_summary():
    ends = [{"pid": 7, "rss": mb * 2**20} for mb in (800, 820, 830, 840, 850, 850, 851, 849, 850)]
    summary = summarize_memory(ends, epochs=2)
    assert (summary.trials, summary.workers, summary.first_mb, summary.last_mb) == (9, 1, 800, 850)
    assert summary.max_deviation == pytest.approx(51 / 800)
    assert summary.settled_deviation == pytest.approx(1 / 850)
    assert abs(summary.growth_mb_per_trial) < 0.5
    assert (summary.fifth_mb, summary.last_over_fifth) == (850, 1.0)
    assert summary.gpu_after_mb is None  # a CPU worker logs no GPU memory


def test_memory_summary_keeps_the_gpu_memory_a_gpu_worker_logs():
    ends = [{"pid": 7, "rss": 800 * 2**20, "gpu": mb * 2**20} for mb in (3, 1, 1)]
    assert summarize_memory(ends, epochs=2).gpu_after_mb == [3, 1, 1]


def test_task_round_trips_through_json():
    task = StudyTask(epochs=3, grid_fix={"kernel_size": 3})
    assert StudyTask(**task.as_dict()) == task


def test_report_from_the_frames_alone(tmp_path):
    import dataclasses
    import json

    import pandas as pd

    from benchmarks.machine import describe_machine
    from benchmarks.report import load_study, write_report

    task = QUICK
    chosen = [e for e in entries(task) if e.name in ("grid", "random", "kt_random")]
    runs, rows = [], []
    for seed in (0, 1):
        for index, entry in enumerate(chosen):
            runs.append({"name": entry.name, "tool": entry.tool, "seed": seed, "wall_s": 30.0 + index,
                         "concurrency": 1 if entry.tool == "kerastuner" else 2, "trials": 2, "peak_worker_mb": 800.0})
            for trial in ("a", "b"):
                for epoch in (1, 2):
                    rows.append({"name": entry.name, "seed": seed, "trial_id": f"{entry.name}{trial}", "epoch": epoch,
                                 "elapsed_s": 5.0 + epoch + (trial == "b"), "time_total_s": float(epoch),
                                 "val_accuracy": 0.5 + 0.1 * epoch + 0.01 * index + 0.001 * seed})
    meta = {"label": "test", "machine": describe_machine(), "task": task.as_dict(), "seeds": [0, 1],
            "budget_epochs": task.budget, "grid_trials": task.grid_trials,
            "entries": [{**dataclasses.asdict(e), "options": dict(e.options)} for e in chosen], "failures": []}
    pd.DataFrame(runs).to_csv(tmp_path / "study_runs.csv", index=False)
    pd.DataFrame(rows).to_csv(tmp_path / "study_history.csv", index=False)
    (tmp_path / "study_meta.json").write_text(json.dumps(meta))
    earlier = {"machine": {**meta["machine"], "date": "2026-11-27 09:30 UTC"},  # an overhead run of another day
               "trivial": {"trials": 1000, "tunelab": {"wall_s": 36.4, "fit_s": 33.0},
                           "ray": {"wall_s": 38.3, "fit_s": 35.0}},
               "memory": {"tunelab": {"trials": 50, "after_mb": [800.0] * 50, "last_mb": 800.0}}}
    (tmp_path / "overhead.json").write_text(json.dumps(earlier))
    written = write_report(tmp_path, *load_study(tmp_path))
    assert {path.name for path in written} == {"study.csv", "study.md", "best_so_far_epochs.png",
                                               "best_so_far_wall.png"}
    text = (tmp_path / "study.md").read_text()
    for heading in ("## Task", "## Results: median (min–max) over 2 seeds (0, 1)", "## Targets", "## Course claims"):
        assert heading in text
    assert "| grid | tunelab | 2 |" in text
    dated = "(from overhead.json of 2026-11-27 09:30 UTC, `benchmark.py overhead`)"
    assert f"| 36.4 {dated} |" in text and f"| 1 {dated} |" in text
    assert f"{meta['machine']['date']}" in text.split("## Task")[0]  # the study's own figures: its date
    assert "it enumerates filters_1, filters_2, learning_rate at their grid values: 8 configurations" in text
    measured = pd.read_csv(tmp_path / "study.csv")
    assert len(measured) == 6 and measured["epochs"].eq(4).all()


def test_quick_leaves_out_only_what_it_says_unless_named():
    quick = [entry.name for entry in select(entries(QUICK), leave_out=QUICK_LEAVES_OUT)]
    assert quick == [name for name in NAMES if name not in QUICK_LEAVES_OUT]
    assert [entry.name for entry in select(entries(QUICK), ["bayes+asha", "grid"], leave_out=QUICK_LEAVES_OUT)] == [
        "grid", "bayes+asha"]
    with pytest.raises(ValueError, match="--only: 'gird' is not a study entry; .*did you mean 'grid'"):
        select(entries(QUICK), ["gird"])


def test_the_gpu_benchmark_without_a_gpu_says_so_and_writes_nothing(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no nvidia-smi on this PATH, GPU or not
    done = subprocess.run([sys.executable, str(script), "gpu", "--out", str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("benchmark.py: error: gpu: no GPU is visible (nvidia-smi lists none, or is not "
                                   "installed); this benchmark measures GPUs, run it on a machine with one")
    assert not (tmp_path / "out").exists()


def test_the_gpu_benchmarks_table_and_images():
    from benchmarks.gpu import SAMPLES, gpu_markdown, images

    data = images()
    assert data.x_train.shape == (SAMPLES * 4 // 5, 32, 32, 3) and set(data.y_train) == set(range(10))
    run = {"tool": "tunelab", "gpu_per_trial": 0.5, "trials": 8, "wall_s": 120.0, "busy": 0.81, "trials_per_hour": 240}
    table = gpu_markdown({"gpus": ["NVIDIA H100"], "cpus": 16, "runs": [run], "mirrored": None})
    assert "| 0.5 | tunelab | 240 | 81% | 120 |" in table
