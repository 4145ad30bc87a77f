"""benchmarks.compare, .verdicts and .best_so_far on small hand-made frames: every number checked against
what was put in."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from benchmarks.best_so_far import best_so_far_bands, render_best_so_far_bands
from benchmarks.compare import (
    aggregate, busy_seconds, cell, efficiency, markdown_table, measure, time_to_target, training_seconds,
)
from benchmarks.verdicts import claims, markdown_targets, targets

METRIC = "val_accuracy"


def epochs(name: str, seed: int, trial: str, values: list[float], start: float, step: float = 1.0,
           first_epoch: int = 1) -> list[dict]:
    """One trial's rows: epoch k ends at start + k * step; time_total_s counts from the trial's start."""
    return [{"name": name, "seed": seed, "trial_id": trial, "epoch": first_epoch + k,
             "elapsed_s": start + (k + 1) * step,
             "time_total_s": (k + 1) * step, METRIC: value} for k, value in enumerate(values)]


def frames(rows: list[dict], runs: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    run_frame = pd.DataFrame(runs, columns=["name", "tool", "seed", "wall_s", "concurrency", "trials",
                                            "peak_worker_mb"])
    return run_frame, pd.DataFrame(rows)


# --- one run ----------------------------------------------------------------------------------


def test_time_to_target_is_the_first_epoch_in_wall_clock_order_that_reaches_it():
    history = pd.DataFrame(epochs("a", 0, "t1", [0.5, 0.8, 0.95], start=10.0)
                           + epochs("a", 0, "t2", [0.9, 0.96], start=10.5))
    # wall-clock order: t1 e1 (11.0), t2 e1 (11.5), t1 e2 (12.0), t2 e2 (12.5), t1 e3 (13.0)
    assert time_to_target(history, METRIC, "max", 0.9) == (11.5, 2.0)
    assert time_to_target(history, METRIC, "max", 0.96) == (12.5, 4.0)
    assert time_to_target(history, METRIC, "max", 0.99) == (math.inf, math.inf)
    seconds, count = time_to_target(history, METRIC, "max", math.nan)
    assert math.isnan(seconds) and math.isnan(count)


def test_time_to_target_minimizing():
    history = pd.DataFrame(epochs("a", 0, "t1", [0.9, 0.4, 0.2], start=0.0))
    assert time_to_target(history, METRIC, "min", 0.4) == (2.0, 2.0)


def test_training_seconds_sums_each_trial_and_counts_a_restarted_segment_in_full():
    history = pd.DataFrame(epochs("a", 0, "t1", [0.1, 0.2, 0.3], start=0.0, step=2.0)
                           + epochs("a", 0, "t2", [0.1], start=0.0, step=5.0))
    assert training_seconds(history) == pytest.approx(6.0 + 5.0)
    # t3 ran 2 epochs (1 s each), was paused, and restarted its counter: 1.5 s for epoch 3.
    restarted = pd.DataFrame(epochs("a", 0, "t3", [0.1, 0.2], start=0.0)
                             + epochs("a", 0, "t3", [0.3], start=10.0, step=1.5, first_epoch=3))
    assert training_seconds(restarted) == pytest.approx(2.0 + 1.5)


def test_efficiency_and_busy_seconds():
    history = pd.DataFrame(epochs("a", 0, "t1", [0.1, 0.2], start=4.0) + epochs("a", 0, "t2", [0.1, 0.2], start=4.0))
    assert training_seconds(history) == 4.0
    assert busy_seconds(history) == pytest.approx(2.0)  # both trials from 4.0 to 6.0
    assert efficiency(4.0, wall_s=8.0, concurrency=2) == pytest.approx(0.25)
    assert efficiency(4.0, wall_s=2.0, concurrency=2) == pytest.approx(1.0)
    assert math.isnan(efficiency(4.0, wall_s=0.0, concurrency=2))


# --- all runs ---------------------------------------------------------------------------------


def study() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two seeds: grid, hyperband, random and KerasTuner's random search, with known curves."""
    rows, runs = [], []
    for seed in (0, 1):
        rows += epochs("grid", seed, "g1", [0.90, 0.95, 0.97], start=5.0) + epochs("grid", seed, "g2", [0.5, 0.6, 0.7],
                                                                                   start=8.0)
        rows += epochs("hyperband", seed, "h1", [0.93], start=5.0)
        rows += epochs("hyperband", seed, "h2", [0.966 + seed / 1000], start=6.0)
        rows += epochs("random", seed, "r1", [0.8, 0.85, 0.9 - seed / 100], start=5.0)
        rows += epochs("kt_random", seed, "k1", [0.6, 0.88], start=2.0)
        runs += [("grid", "tunelab", seed, 12.0, 2, 2, 800.0), ("hyperband", "tunelab", seed, 8.0, 2, 2, 810.0),
                 ("random", "tunelab", seed, 9.0, 2, 1, 805.0), ("kt_random", "kerastuner", seed, 20.0, 1, 1, 900.0)]
    return frames(rows, runs)


def test_measure_takes_each_target_from_the_same_seed():
    runs, history = study()
    measured = measure(runs, history, METRIC, "max").set_index(["name", "seed"])
    assert measured.loc[("grid", 0), "best"] == pytest.approx(0.97)
    assert measured.loc[("grid", 0), "epochs"] == 6
    assert measured.loc[("grid", 1), "target"] == pytest.approx(0.88)  # kt_random's best
    # grid reaches 0.88 with g1's first epoch (0.90) at 6.0 s
    assert measured.loc[("grid", 0), "time_to_target_s"] == pytest.approx(6.0)
    assert measured.loc[("grid", 0), "epochs_to_target"] == 1
    # random reaches 0.88 only with its third epoch, at 8.0 s
    assert measured.loc[("random", 0), "time_to_target_s"] == pytest.approx(8.0)
    # within half a point of grid's 0.97: hyperband's second trial (0.966, 0.967) after 2 epochs
    assert measured.loc[("hyperband", 0), "grid_target"] == pytest.approx(0.965)
    assert measured.loc[("hyperband", 0), "epochs_to_grid"] == 2
    assert measured.loc[("random", 0), "epochs_to_grid"] == math.inf
    assert measured.loc[("grid", 0), "efficiency"] == pytest.approx(6.0 / (12.0 * 2))
    assert measured.loc[("kt_random", 0), "efficiency"] == pytest.approx(2.0 / 20.0)


def test_measure_without_the_reference_leaves_no_target():
    runs, history = study()
    measured = measure(runs, history, METRIC, "max", reference="missing")
    assert measured["target"].isna().all() and measured["time_to_target_s"].isna().all()


def test_aggregate_gives_median_and_range_and_counts_seeds_that_reached():
    measured = pd.DataFrame({
        "name": ["a"] * 3 + ["b"], "tool": ["tunelab"] * 4, "seed": [0, 1, 2, 0],
        "best": [0.9, 0.95, 0.92, 0.5], "time_to_target_s": [10.0, math.inf, 30.0, math.inf],
    })
    summary = aggregate(measured, ["best", "time_to_target_s"]).set_index("name")
    assert list(summary.index) == ["a", "b"]
    assert summary.loc["a", "seeds"] == 3
    assert summary.loc["a", "best_median"] == pytest.approx(0.92)
    assert (summary.loc["a", "best_min"], summary.loc["a", "best_max"]) == (0.9, 0.95)
    assert summary.loc["a", "time_to_target_s_median"] == 30.0
    assert summary.loc["a", "time_to_target_s_max"] == math.inf
    assert summary.loc["a", "time_to_target_s_reached"] == 2
    assert summary.loc["b", "time_to_target_s_median"] == math.inf


def test_cells_and_table():
    summary = aggregate(pd.DataFrame({
        "name": ["a", "a", "b"], "tool": ["tunelab", "tunelab", "ray"], "seed": [0, 1, 0],
        "best": [0.9, 0.95, 0.5], "time_to_target_s": [10.0, math.inf, math.inf],
    }), ["best", "time_to_target_s"]).set_index("name", drop=False)
    assert cell(summary.loc["a"], "best", "{:.2f}") == "0.93 (0.90–0.95)"
    assert cell(summary.loc["a"], "time_to_target_s", "{:.1f}") == "not reached [1/2]"  # the median of 10 and ∞
    assert cell(summary.loc["b"], "time_to_target_s", "{:.1f}") == "not reached [0/1]"
    table = markdown_table(summary.reset_index(drop=True))
    lines = table.splitlines()
    assert lines[0].startswith("| strategy | tool | seeds | best val_accuracy | s to target |")
    assert lines[2].startswith("| a | tunelab | 2 | 0.9250 (0.9000–0.9500) |")
    assert len(lines) == 4


def test_median_of_two_seeds_with_one_unreached_is_infinite():
    summary = aggregate(pd.DataFrame({"name": ["a", "a"], "tool": ["t", "t"], "seed": [0, 1],
                                      "time_to_target_s": [10.0, math.inf]}), ["time_to_target_s"])
    assert summary.loc[0, "time_to_target_s_median"] == math.inf


# --- verdicts ---------------------------------------------------------------------------------


def test_targets_are_medians_of_per_seed_ratios():
    runs, history = study()
    rows = [*runs.itertuples(index=False)]
    ray = [("ray_random", "ray", 0, 8.0, 2, 1, 800.0), ("ray_random", "ray", 1, 10.0, 2, 1, 800.0)]
    runs = pd.DataFrame(rows + ray, columns=runs.columns)
    history = pd.concat([history, pd.DataFrame(epochs("ray_random", 0, "x", [0.8], 5.0)
                                               + epochs("ray_random", 1, "x", [0.8], 5.0))])
    measured = measure(runs, history, METRIC, "max")
    found = {t.goal.split(":")[0].split(" ")[0]: t for t in targets(measured)}
    first = found["time"]
    # hyperband reaches kt's best (0.88) at 6.0 s of kt's 20 s wall in both seeds; grid too
    assert first.measured == pytest.approx(0.3)
    assert first.met is True
    assert "per seed (0, 1): " in first.detail and "hyperband 0.3 / 0.3" in first.detail
    tunelab_vs_ray = found["tunelab"]
    assert tunelab_vs_ray.measured == pytest.approx(np.median([9.0 / 8.0, 9.0 / 10.0]))
    hyperband = found["hyperband"]
    assert hyperband.measured == pytest.approx(2 / 6)
    assert hyperband.met is False
    assert not any(t.source for t in found.values())  # all measured by the study itself
    table = markdown_targets(list(found.values()))
    assert "**no**" in table and "| yes |" in table


def test_the_kerastuner_target_is_met_only_on_every_seed():
    runs, history = study()
    measured = measure(runs, history, METRIC, "max").set_index(["name", "seed"])
    measured.loc[("grid", 1), "time_to_target_s"] = 12.0       # 0.3 and 0.6 of kt's 20 s: median 0.45
    measured.loc[("hyperband", 1), "time_to_target_s"] = 7.0   # 0.3 and 0.35: median 0.325, under the goal
    first = targets(measured.reset_index())[0]
    assert first.measured == pytest.approx(0.35) and first.met is False  # hyperband's worse seed decides
    assert first.detail.startswith("fastest: hyperband; per seed (0, 1): grid 0.3 / 0.6, hyperband 0.3 / 0.35")


def test_claims():
    runs, history = study()
    measured = measure(runs, history, METRIC, "max")
    found = {c.claim: c for c in claims(measured, history, METRIC, "max")}
    wasteful = found["Grid search is exhaustive but wasteful"]
    assert wasteful.verdict == "confirmed"  # hyperband: 2 of grid's 6 epochs
    assert "hyperband" in wasteful.evidence
    random = found["Random search helps in large spaces"]
    assert random.verdict == "not confirmed"  # 0.895 vs 0.97, spread 1 point
    assert "Bayesian optimization beats grid and random" not in found  # no bayes run


def test_claims_within_the_spread_are_inconclusive():
    rows, runs = [], []
    for seed, (grid, random) in enumerate([(0.95, 0.96), (0.97, 0.94)]):
        rows += epochs("grid", seed, "g", [grid], 0.0) + epochs("random", seed, "r", [random], 0.0)
        runs += [("grid", "tunelab", seed, 5.0, 2, 1, None), ("random", "tunelab", seed, 5.0, 2, 1, None)]
    run_frame, history = frames(rows, runs)
    found = {c.claim: c for c in claims(measure(run_frame, history), history)}
    assert found["Random search helps in large spaces"].verdict.startswith("inconclusive")


# --- best so far with bands -------------------------------------------------------------------


def test_bands_hold_each_seeds_best_and_take_median_and_range():
    rows = epochs("a", 0, "t", [0.5, 0.7], start=10.0) + epochs("a", 1, "t", [0.6, 0.65, 0.9], start=20.0)
    runs = pd.DataFrame({"name": ["a", "a"], "tool": ["tunelab", "tunelab"], "seed": [0, 1]})
    history = pd.DataFrame(rows)
    by_epochs = best_so_far_bands(history, runs, METRIC, "max", "epochs", points=4)
    (band,) = by_epochs.bands
    assert band.name == "a" and band.seeds == 2 and band.tool == "tunelab"
    assert band.x == [0.0, 1.0, 2.0, 3.0]
    assert math.isnan(band.median[0])
    assert band.low[1:] == [0.5, 0.65, 0.7]  # seed 0 holds its 0.7 after its last epoch
    assert band.high[1:] == [0.6, 0.7, 0.9]
    assert band.median[1:] == pytest.approx([0.55, 0.675, 0.8])
    by_wall = best_so_far_bands(history, runs, METRIC, "max", "wall", points=24)
    (band,) = by_wall.bands
    assert band.x[-1] == 23.0                 # seed 1's last epoch ends at 23 s
    at = {x: i for i, x in enumerate(band.x)}
    assert math.isnan(band.median[at[10.0]])  # nothing reported before 11 s
    assert band.median[at[11.0]] == 0.5       # only seed 0 by then
    assert band.low[at[21.0]] == 0.6 and band.high[at[21.0]] == 0.7
    assert isinstance(render_best_so_far_bands(by_wall), Figure)
    with pytest.raises(ValueError, match="axis"):
        best_so_far_bands(history, runs, METRIC, "max", "trials")


def test_hyperband_against_bayes_is_a_ratio_of_times_to_the_lower_best():
    rows, runs = [], []
    for seed in (0, 1):
        rows += epochs("grid", seed, "g", [0.9], 0.0)
        rows += epochs("bayes", seed, "b", [0.5, 0.96, 0.97], start=10.0, step=10.0)   # 0.96 at 30 s
        rows += epochs("hyperband", seed, "h", [0.958, 0.96], start=1.0, step=1.0)     # 0.958 at 2 s
        runs += [("grid", "tunelab", seed, 5.0, 2, 1, None), ("bayes", "tunelab", seed, 40.0, 2, 1, None),
                 ("hyperband", "tunelab", seed, 20.0, 2, 1, None)]
    run_frame, history = frames(rows, runs)
    found = {c.claim: c for c in claims(measure(run_frame, history), history)}
    claim = found["Hyperband can be 10-20x faster than Bayesian optimization"]
    # target: hyperband's 0.96 less half a point = 0.955; bayes at 30 s, hyperband at 2 s
    assert claim.verdict == "confirmed" and "15.00x" in claim.evidence and "2.00x" in claim.evidence
