"""PBT lineages with the trial that trained each epoch, and its values, under the cursor."""
from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunelab.analysis.interactive.common import layout, message_figure, number, score_colors, text
from tunelab.analysis.plots import Lineages
from tunelab.analysis.plots.lineage import switches
from tunelab.core.objective import Objective

TITLE = "PBT lineages: the hyperparameters each final model was trained with"


def lineage_figure(data: Lineages) -> go.Figure:
    """A panel per perturbed hyperparameter (rows) and PBT run (columns), as on the PNG; a trace per trial."""
    experiments = list(dict.fromkeys(item.experiment for item in data.lineages))
    height = int(280 * max(1, len(data.params)) + 120)
    if data.message:
        return message_figure(TITLE, data.message, height)
    figure = make_subplots(rows=len(data.params), cols=len(experiments), shared_xaxes=True, vertical_spacing=0.06,
                           horizontal_spacing=0.08, subplot_titles=[text(experiment) for experiment in experiments])
    figure.update_layout(**layout(TITLE, height, showlegend=False))
    colors = dict(zip(((item.experiment, item.trial_id) for item in data.lineages),
                      score_colors([item.final for item in data.lineages], Objective(data.metric, data.mode))))
    for column, experiment in enumerate(experiments, start=1):
        best = data.best(experiment)
        own = sorted((item for item in data.lineages if item.experiment == experiment), key=lambda item: item is best)
        for row, param in enumerate(data.params, start=1):
            for item in own:
                color, thick = colors[(item.experiment, item.trial_id)], item is best
                values = item.values.get(param, [])
                hover = [[text(item.trial_id), text(by), number(item.final)] for by in item.trained_by]
                figure.add_trace(go.Scatter(
                    x=item.epochs, y=values, mode="lines", line={"shape": "hvh", "color": color,
                                                                 "width": 3.5 if thick else 1.5},
                    opacity=1.0 if thick else 0.75, customdata=hover,
                    hovertemplate=f"final model of trial %{{customdata[0]}}{' (best)' if thick else ''}<br>"
                                  f"epoch %{{x}} trained by %{{customdata[1]}}<br>{text(param)} %{{y:.4g}}<br>"
                                  f"final {text(data.metric)} %{{customdata[2]}}<extra></extra>"), row=row, col=column)
                taken = switches(item)
                if taken:
                    figure.add_trace(go.Scatter(
                        x=[item.epochs[i] - 0.5 for i in taken], y=[values[i] for i in taken], mode="markers",
                        marker={"color": color, "size": 8, "line": {"color": "black", "width": 1}},
                        customdata=[[text(item.trained_by[i]), text(item.trained_by[i - 1])] for i in taken],
                        hovertemplate="%{customdata[0]} took over %{customdata[1]}'s weights here<extra></extra>"),
                        row=row, col=column)
                if param in data.log_params:
                    figure.update_yaxes(type="log", row=row, col=column)
            figure.update_yaxes(title_text=text(param), row=row, col=1)
        figure.update_xaxes(title_text="epoch", tickformat="d", row=len(data.params), col=column)
        if best is not None and not math.isnan(best.final):
            figure.layout.annotations[column - 1].text = text(
                f"{experiment} (best final model: {best.trial_id}, {data.metric} {best.final:.4g})")
    return figure
