"""The report's interactive figures: the same data as the PNGs, and the trial and values on hover."""
from __future__ import annotations

import dataclasses
import math
import shutil

import pandas as pd

from tunelab.analysis import load
from tunelab.analysis.importance import hyperparameter_importance
from tunelab.analysis.interactive import (
    interactive_figures, learning_curves_figure, parallel_coordinates_figure, samples_figure,
)
from tunelab.analysis.plots import PLOTS, learning_curves_data, parallel_coordinates_data, samples_data
from tests.analysis.helpers import EPOCHS, TRIALS


def _points(trace) -> list[tuple]:
    """A trace's (x, y) points, without the gaps that separate one curve from the next."""
    return [(x, y) for x, y in zip(trace.x, trace.y) if x is not None]


def test_every_plot_has_an_interactive_figure_with_trial_ids_on_hover(tiny_results):
    figures = interactive_figures(tiny_results)
    assert list(figures) == list(PLOTS)
    ids = set(tiny_results.trials["trial_id"])
    curves = learning_curves_data(tiny_results).curves
    (completed,) = figures["learning_curves"].data  # every reporting trial completed: one trace, one legend entry
    assert completed.name == f"completed ({TRIALS - 1})"
    assert _points(completed) == [(e, v) for c in curves for e, v in zip(c.epochs, c.values)]
    assert [i for i in completed.customdata if i] == [c.trial_id for c in curves for _ in c.epochs]
    assert "%{customdata}" in completed.hovertemplate and "epoch %{x}" in completed.hovertemplate
    (by_epochs, by_time) = figures["best_so_far"].data
    assert by_epochs.customdata[-1] == tiny_results.best_trial()["trial_id"] and by_time.y == by_epochs.y
    assert figures["samples"].layout.coloraxis.colorbar.title.text == "val_accuracy (best)"
    for name in ("parallel_coordinates", "samples"):
        texts = [t for trace in figures[name].data for t in (trace.hovertext or ())]
        assert texts and all(any(f"trial {i}" in t for i in ids) for t in texts), name
    bars = figures["timeline"].data
    assert sum(len(bar.y) for bar in bars) == TRIALS - 1 and all(i in ids for bar in bars for i, *_ in bar.customdata)
    assert list(figures["importance"].data[0].y) == hyperparameter_importance(tiny_results).names


def test_parallel_coordinates_show_configured_values_and_inactive(tiny_results):
    data = parallel_coordinates_data(tiny_results)
    figure = parallel_coordinates_figure(data)
    lines = [trace for trace in figure.data if trace.hovertext]
    assert len(lines) == TRIALS - 1 and all(len(line.y) == len(data.axes) for line in lines)
    momentum = [axis.name for axis in data.axes].index("momentum")
    trials = tiny_results.trials.set_index("trial_id")
    for line in lines:
        trial_id = line.hovertext[0].split("<br>")[0].removeprefix("trial ")
        value = trials.loc[trial_id, "momentum"]
        shown = "inactive" if pd.isna(value) else f"{value:.4g}"
        assert f"momentum: {shown}" in line.hovertext[momentum]
        assert f"val_accuracy (best): {trials.loc[trial_id, 'val_accuracy_best']:.4g}" in line.hovertext[momentum]
    assert "learning_rate (log)" in figure.layout.xaxis.ticktext
    assert "inactive" in [annotation.text for annotation in figure.layout.annotations]


def test_samples_keep_log_and_categorical_axes_and_count_inactive(tiny_results):
    logged = samples_figure(samples_data(tiny_results, "learning_rate", "units_1"))
    assert (logged.layout.xaxis.type, logged.layout.yaxis.type) == ("log", "log")
    conditional = samples_figure(samples_data(tiny_results, "momentum", "optimizer"))
    assert conditional.layout.yaxis.type == "category" and list(conditional.layout.yaxis.categoryarray) == [
        "adam", "sgd"]
    assert {y for trace in conditional.data for y in trace.y} == {"sgd"}
    adam = int((tiny_results.trials["optimizer"] == "adam").sum())
    assert conditional.layout.annotations[0].text.endswith(f", {adam} with one inactive")


def test_several_experiments_get_a_panel_each(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "again")
    figures = interactive_figures(load([tiny_experiment, copy]))
    for name in ("learning_curves", "samples"):
        titles = [annotation.text for annotation in figures[name].layout.annotations]
        assert titles[0].startswith("tiny") and titles[1].startswith("again"), name
        assert {trace.xaxis for trace in figures[name].data} == {"x", "x2"}, name
    assert [trace.name for trace in figures["learning_curves"].data] == [
        f"tiny: completed ({TRIALS - 1})", f"again: completed ({TRIALS - 1})"]
    assert [trace.name for trace in figures["best_so_far"].data] == ["tiny", "tiny", "again", "again"]
    texts = [trace.hovertext[0] for trace in figures["parallel_coordinates"].data if trace.hovertext]
    assert any(" of again<br>" in t for t in texts) and any(" of tiny<br>" in t for t in texts)


def test_a_trial_without_history_is_a_grey_point_not_a_curve(tiny_results):
    pending = tiny_results.trials.iloc[[0]].assign(trial_id="pending1", status="PENDING", stop_reason="pending",
                                                   epochs=0, val_accuracy_best=math.nan)
    results = dataclasses.replace(tiny_results, trials=pd.concat([tiny_results.trials, pending], ignore_index=True))
    figure = samples_figure(samples_data(results, "learning_rate", "units_1"))
    grey = [trace for trace in figure.data if trace.marker.color == "#999999"]
    # The errored trial and the pending one reported nothing; neither has a curve.
    assert sorted(t.split("<br>")[0] for trace in grey for t in trace.hovertext) == sorted(
        [f"trial {i}" for i in results.trials.loc[results.trials["val_accuracy_best"].isna(), "trial_id"]])
    assert all(t.endswith("val_accuracy (best): not reported") for trace in grey for t in trace.hovertext)
    (curves,) = learning_curves_figure(learning_curves_data(results)).data
    assert "pending1" not in curves.customdata and len(_points(curves)) == (TRIALS - 1) * EPOCHS


def test_plots_with_nothing_to_show_say_why(tiny_results):
    trials = tiny_results.trials.assign(val_accuracy_best=math.nan)
    nothing = dataclasses.replace(tiny_results, trials=trials, history=tiny_results.history.iloc[0:0])
    figures = interactive_figures(nothing, x="learning_rate", y="units_1")
    messages = {name: [a.text for a in figure.layout.annotations] for name, figure in figures.items()}
    assert messages["learning_curves"] == ["no trial reported val_accuracy"]
    assert messages["parallel_coordinates"] == ["no trial reported val_accuracy"]
    assert messages["importance"][0].startswith("importance needs 3 or more trials")
    assert messages["timeline"] == ["no trial reported an epoch"]
    assert figures["best_so_far"].data == ()  # empty axes, as the PNG
    assert all(trace.marker.color == "#999999" for trace in figures["samples"].data)
