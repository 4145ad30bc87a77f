"""A real run with two objectives and a constraint, made once and read by every analysis of it.

The shipped digits_pareto experiment (tpe), made small and predictable: the width of a one-layer MLP
(16, 64 and 256 units: 1,210, 4,810 and 19,210 trainable parameters), which tpe tries each once, 2
epochs, a test part, and `params <= 10000`, so the widest model is infeasible whatever it scores.
Checked: every epoch reports params and latency_ms, the front and the best trial follow core.pareto's
rule (the constraint keeps the widest model off both), the run's closing best, its test score,
best_model and the summary and report agree, and the model learned each trial's point and feasibility.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tunelab.analysis import load

pytestmark = pytest.mark.slow
WIDTHS = {16: 1210, 64: 4810, 256: 19210}  # units -> trainable parameters of Dense(64 -> units -> 10)


@pytest.fixture(scope="module")
def pareto_run(tmp_path_factory, ray_session):
    from tunelab.experiments.run.prepare import prepare
    from tunelab.experiments.run.runner import run
    from tunelab.experiments.spec import read_experiment, spec_from_dict

    raw = read_experiment("digits_pareto")
    raw.update(space={"num_layers": 1, "units_1": {"type": "choice", "values": list(WIDTHS)}, "learning_rate": 0.01},
               strategy={"name": "tpe", "num_samples": 3, "random_steps": 1}, epochs=2, test_fraction=0.2,
               constraints={"params": {"max": 10000}, "latency_ms": {"max": 1000}},
               storage=str(tmp_path_factory.mktemp("pareto")))
    outcome = run(prepare(spec_from_dict(raw), name="pareto"))
    assert outcome.trials == 3 and outcome.errored == 0
    return outcome, load(outcome.path)


def test_every_epoch_reports_the_model_s_size_and_latency(pareto_run):
    _, results = pareto_run
    history = results.history.merge(results.trials[["trial_id", "units_1"]], on="trial_id")
    assert len(history) == 6 and history[["params", "latency_ms"]].notna().all().all()
    assert (history["params"] == history["units_1"].map(WIDTHS)).all()
    assert ((history["latency_ms"] > 0) & (history["latency_ms"] < 1000)).all()


def test_the_constraint_keeps_the_widest_model_off_the_front_and_from_best(pareto_run):
    outcome, results = pareto_run
    points = results.points().merge(results.trials[["trial_id", "units_1"]], on="trial_id")
    widest = points[points["units_1"] == 256].iloc[0]
    assert not widest["feasible"] and not widest["pareto"]
    feasible = points[points["feasible"]]
    assert set(feasible["units_1"]) == {16, 64}
    best = results.best_trial()
    assert best["trial_id"] == feasible.loc[feasible["val_accuracy"].idxmax(), "trial_id"] != widest["trial_id"]
    assert outcome.best_trial == f"trial_{best['trial_id']}"   # the closing block follows the same rule
    assert outcome.best_value == pytest.approx(best["val_accuracy_best"])
    assert results.test_metrics is not None and (Path(outcome.path) / "tunelab_test.json").read_text().count(
        best["trial_id"]) == 1


def test_the_front_is_the_feasible_trials_no_other_beats_on_both(pareto_run):
    _, results = pareto_run
    front = results.pareto()
    points = results.points()
    feasible = points[points["feasible"]]
    small, wide = (feasible.sort_values("params").iloc[i] for i in (0, 1))
    expected = {small["trial_id"]} | ({wide["trial_id"]} if wide["val_accuracy"] > small["val_accuracy"] else set())
    assert set(front["trial_id"]) == expected
    assert list(front.columns[:5]) == ["experiment", "trial_id", "best_epoch", "val_accuracy", "params"]
    assert "units_1" in front and front["val_accuracy"].is_monotonic_decreasing
    assert results.best_trial()["trial_id"] == front["trial_id"].iloc[0]


def test_best_model_is_the_rule_s_trial_and_any_other_is_asked_by_id(pareto_run):
    _, results = pareto_run
    assert results.best_model().count_params() == results.best_trial()["params_best"]
    widest = results.trials.loc[results.trials["units_1"] == 256, "trial_id"].iloc[0]
    assert results.best_model(widest).count_params() == WIDTHS[256]


def test_summary_and_report_show_the_front(pareto_run, tmp_path):
    outcome, results = pareto_run
    summary = subprocess.run([sys.executable, "-m", "tunelab", "analyze", "summary", outcome.path],
                             capture_output=True, text=True, timeout=300)
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("Pareto front"))
    assert lines[title] == (f"Pareto front of val_accuracy (max), params (min) ({len(results.pareto())} of 3 trials; "
                            "params <= 10000, latency_ms <= 1000, kept by 2):")
    assert lines[title + 1].split()[:4] == ["trial_id", "best_epoch", "val_accuracy", "params"]
    assert lines[title + 2].split()[0] == results.best_trial()["trial_id"]

    from tunelab.analysis.plots import write_plots
    from tunelab.analysis.report import render_report

    html = render_report(results)
    assert "<h2>Pareto front</h2>" in html and "plot-pareto" in html
    assert (write_plots(results, tmp_path)["pareto"]).stat().st_size > 1000


def test_tpe_learned_each_trial_s_point_and_feasibility(pareto_run):
    outcome, results = pareto_run
    events = [json.loads(line) for line in (Path(outcome.path) / "tunelab_trial_events.jsonl").read_text().splitlines()]
    learned = {e["trial_id"]: e for e in events if e["event"] == "learned"}
    points = results.points().merge(results.trials[["trial_id", "units_1"]], on="trial_id")
    assert set(learned) == set(points["trial_id"])
    for point in points.itertuples():
        event = learned[point.trial_id]
        assert event["value"] == [pytest.approx(point.val_accuracy), WIDTHS[point.units_1]]
        assert event["epoch"] == point.best_epoch and event["feasible"] == (point.units_1 != 256)
