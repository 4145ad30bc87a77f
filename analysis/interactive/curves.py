"""Learning curves and the best value so far, with the trial, epoch and value under the cursor."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from tunelab.analysis.interactive.common import message_figure, panels, text
from tunelab.analysis.plots import OUTCOME_COLORS, BestSoFar, Curve, LearningCurves


def learning_curves_figure(data: LearningCurves) -> go.Figure:
    """Curves coloured by how each trial ended; one panel per experiment, one trace per outcome."""
    title = f"Learning curves: {data.metric} per epoch, coloured by how each trial ended"
    experiments = list(dict.fromkeys(curve.experiment for curve in data.curves))
    if not experiments:
        return message_figure(title, f"no trial reported {data.metric}", 420)
    figure = panels(experiments, title, 420)
    figure.update_layout(showlegend=True)  # also for one outcome: the legend counts the trials
    for column, experiment in enumerate(experiments, start=1):
        curves = [c for c in data.curves if c.experiment == experiment]
        opacity = 0.75 if len(curves) <= 50 else 0.3
        # Completed trials first, so the rarer ways of ending (stopped, errored) are drawn on top.
        outcomes = sorted(dict.fromkeys(c.outcome for c in curves), key=lambda o: o != "completed")
        for outcome in outcomes:
            group = [c for c in curves if c.outcome == outcome]
            name = f"{outcome} ({len(group)})" if len(experiments) == 1 else f"{experiment}: {outcome} ({len(group)})"
            figure.add_trace(_outcome_trace(group, name, data.metric, opacity), row=1, col=column)
        figure.update_xaxes(title_text="epoch", tickformat="d", row=1, col=column)
    figure.update_yaxes(title_text=text(data.metric), row=1, col=1)
    return figure


def _outcome_trace(curves: list[Curve], name: str, metric: str, opacity: float) -> go.Scatter:
    """The curves of one outcome as one line broken between trials: a legend entry that hides them
    all, and few traces however many trials there are. A one-epoch curve gets a dot, as on the PNG."""
    xs: list[Any] = []
    ys: list[Any] = []
    ids: list[Any] = []
    sizes: list[int] = []
    for curve in curves:
        xs += [*curve.epochs, None]
        ys += [*curve.values, None]
        ids += [text(curve.trial_id)] * len(curve.epochs) + [None]
        sizes += [6 if len(curve.epochs) == 1 else 0] * len(curve.epochs) + [0]
    outcome = curves[0].outcome
    return go.Scatter(
        x=xs, y=ys, customdata=ids, name=text(name), mode="lines+markers", opacity=opacity,
        line={"color": OUTCOME_COLORS.get(outcome, "black"), "width": 1.5}, marker={"size": sizes},
        hovertemplate=f"trial %{{customdata}} ({text(outcome)})<br>epoch %{{x}}<br>{text(metric)} %{{y:.4g}}"
                      "<extra></extra>")


def best_so_far_figure(data: BestSoFar) -> go.Figure:
    """Two panels, every experiment on each: against cumulative epochs, and against wall time."""
    figure = panels(["", ""], f"Best {data.metric} so far", 420)
    palette = qualitative.D3  # matplotlib's default colour cycle, as on the PNG
    for index, series in enumerate(data.series):
        held_by = [text(trial_id) for trial_id in series.best_trials]
        common = {"y": series.best, "customdata": held_by, "name": text(series.experiment), "mode": "lines",
                  "line": {"shape": "hv", "color": palette[index % len(palette)]},
                  "legendgroup": text(series.experiment)}
        figure.add_trace(go.Scatter(x=series.cumulative_epochs, showlegend=False, **common,
                                    hovertemplate=_best_hover(data.metric, "after %{x} epochs")), row=1, col=1)
        figure.add_trace(go.Scatter(x=series.wall_seconds, **common,
                                    hovertemplate=_best_hover(data.metric, "after %{x:.0f} s")), row=1, col=2)
    figure.update_xaxes(title_text="epochs trained, all trials", row=1, col=1)
    figure.update_xaxes(title_text="wall time (s)", row=1, col=2)
    figure.update_yaxes(title_text=f"best {text(data.metric)} so far ({data.mode})", row=1, col=1)
    return figure


def _best_hover(metric: str, when: str) -> str:
    return f"best {text(metric)} {when}: %{{y:.4g}}<br>by trial %{{customdata}}<extra>%{{fullData.name}}</extra>"
