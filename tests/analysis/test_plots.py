"""Plot data checked on values (compute, then render); every PNG written for a real tiny experiment."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from tunelab.analysis import ResultsError, load
from tunelab.analysis.importance import METHOD, hyperparameter_importance
from tunelab.analysis.plots import (
    INACTIVE, PLOTS, best_so_far_data, learning_curves_data, lineage_data, parallel_coordinates_data,
    render_best_so_far, render_importance, render_learning_curves, render_parallel_coordinates, render_samples,
    render_timeline, samples_data, timeline_data, write_plots,
)
from benchmarks.synthetic import write_synthetic_results
from tests.analysis.helpers import EPOCHS, TRIALS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plots") / "synthetic"
    written = write_synthetic_results(folder, trials=60, epochs=9, seed=5)
    return written, load(folder)


def test_every_plot_is_written_as_a_non_empty_png(tiny_results, tmp_path):
    written = write_plots(tiny_results, tmp_path)
    assert set(written) == set(PLOTS)
    for name, path in written.items():
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, name


def test_the_lineage_plot_says_it_is_for_pbt_runs_only(tiny_results):
    data = lineage_data(tiny_results)
    assert data.message == "lineages are drawn for population based training (strategy pbt) only"
    assert not data.lineages  # tests/analysis/test_lineage.py draws a PBT run's


def test_learning_curves_are_the_reported_epochs_coloured_by_outcome(tiny_results):
    data = learning_curves_data(tiny_results)
    assert data.metric == "val_accuracy" and len(data.curves) == TRIALS - 1  # the errored trial reported nothing
    history = tiny_results.history
    for curve in data.curves:
        rows = history[history["trial_id"] == curve.trial_id]
        assert curve.epochs == list(range(1, EPOCHS + 1)) and curve.values == rows["val_accuracy"].tolist()
        assert curve.outcome == "completed"
    assert learning_curves_data(tiny_results, "loss").curves[0].values == history["loss"].head(EPOCHS).tolist()


def test_best_so_far_is_monotone_and_ends_at_the_best_trial(tiny_results):
    data = best_so_far_data(tiny_results)
    (series,) = data.series
    assert series.cumulative_epochs == list(range(1, (TRIALS - 1) * EPOCHS + 1))
    assert np.all(np.diff(series.best) >= 0) and series.best[-1] == tiny_results.trials["val_accuracy_best"].max()
    assert np.all(np.diff(series.wall_seconds) >= 0) and series.wall_seconds[0] > 0


def test_best_so_far_of_two_experiments_on_one_axis(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "again")
    data = best_so_far_data(load([tiny_experiment, copy]))
    assert [s.experiment for s in data.series] == ["tiny", "again"]
    assert data.series[0].best == data.series[1].best
    assert render_best_so_far(data).axes[0].get_lines().__len__() == 2


def test_parallel_coordinates_positions(tiny_results):
    data = parallel_coordinates_data(tiny_results)
    trials = tiny_results.trials.set_index("trial_id")
    assert data.axes[0].name == "val_accuracy (best)" and len(data.trial_ids) == TRIALS - 1
    names = [axis.name for axis in data.axes[1:]]
    assert "dropout" not in names  # fixed: one value, no axis
    assert {"units_1", "optimizer", "learning_rate", "momentum"} <= set(names)
    for axis in data.axes[1:]:
        values = trials.loc[data.trial_ids, axis.name]
        for value, position in zip(values, axis.positions):
            assert position == INACTIVE if pd.isna(value) else 0 <= position <= 1
    learning_rate = next(a for a in data.axes if a.name == "learning_rate")
    assert learning_rate.log
    logs = np.log10(trials.loc[data.trial_ids, "learning_rate"].to_numpy(dtype=float))
    expected = (logs - logs.min()) / (logs.max() - logs.min())
    assert learning_rate.positions == pytest.approx(expected.tolist())
    render_parallel_coordinates(data)


def test_samples_on_two_named_params_with_log_axes(tiny_results):
    data = samples_data(tiny_results, "learning_rate", "units_1")
    assert (data.x_log, data.y_log, data.x_categories, data.y_categories) == (True, True, None, None)
    (panel,) = data.panels
    assert panel.strategy == "random" and len(panel.trial_ids) == TRIALS and panel.left_out == 0
    trials = tiny_results.trials.set_index("trial_id")
    assert panel.x == trials.loc[panel.trial_ids, "learning_rate"].tolist()
    conditional = samples_data(tiny_results, "momentum", "optimizer")
    sgd = int((tiny_results.trials["optimizer"] == "sgd").sum())
    assert conditional.y_categories == ["adam", "sgd"] and conditional.panels[0].left_out == TRIALS - sgd
    assert set(conditional.panels[0].y) == {1}
    render_samples(data)


def test_samples_refuse_an_unknown_hyperparameter_with_a_suggestion(tiny_results):
    with pytest.raises(ResultsError, match="'learning_rat' is not a hyperparameter.*did you mean 'learning_rate'"):
        samples_data(tiny_results, "learning_rat", "units_1")


def test_importance_finds_the_parameter_that_drives_the_objective(synthetic):
    _, results = synthetic
    data = hyperparameter_importance(results)
    assert data.method == METHOD and "random-forest" in data.method
    assert data.names[0] == "learning_rate"  # the synthetic plateau depends on it most
    assert sum(data.values) == pytest.approx(1.0) and data.values == sorted(data.values, reverse=True)
    assert data.trials == int(results.trials["val_accuracy_best"].notna().sum())
    render_importance(data)


def test_importance_of_the_tiny_experiment_covers_what_varied(tiny_results):
    data = hyperparameter_importance(tiny_results)
    assert data.trials == TRIALS - 1 and math.isclose(sum(data.values), 1.0)
    assert "dropout" not in data.names and {"learning_rate", "units_1", "optimizer"} <= set(data.names)


def test_importance_needs_three_trials(tiny_results):
    few = tiny_results.trials.head(2)
    data = hyperparameter_importance(type(tiny_results)(few, tiny_results.history, tiny_results.params,
                                                        tiny_results.metrics, "val_accuracy", "max"))
    assert data.names == [] and render_importance(data)


def test_timeline_splits_a_paused_trial_and_keeps_workers_apart(synthetic):
    written, results = synthetic
    data = timeline_data(results)
    paused = next(t for t in written if t.pauses)
    segments = [s for s in data.segments if s.trial_id == paused.trial_id]
    assert len(segments) == 2 and segments[0].end < segments[1].start and segments[0].row != segments[1].row
    for row in data.rows:  # one worker trains one trial at a time (to within Ray's one-second timestamps)
        spans = sorted((s.start, s.end) for s in data.segments if s.row == row)
        assert all(end < next_start + 1.0 for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert {s.outcome for s in data.segments} >= {"completed", "stopped", "errored"}
    render_timeline(data)


def test_timeline_of_the_tiny_experiment(tiny_results):
    data = timeline_data(tiny_results)
    assert len(data.segments) == TRIALS - 1 and 1 <= len(data.rows) <= TRIALS - 1
    assert all(0 <= s.start < s.end for s in data.segments)
    render_learning_curves(learning_curves_data(tiny_results))


def test_best_so_far_of_a_loss_goes_down(tiny_results):
    (series,) = best_so_far_data(tiny_results, "val_loss").series
    assert best_so_far_data(tiny_results, "val_loss").mode == "min"
    assert np.all(np.diff(series.best) <= 0) and series.best[-1] == tiny_results.trials["val_loss_best"].min()
