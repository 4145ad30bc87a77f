"""Parallel coordinates with each point's trial and value under the cursor.

Drawn as lines over the same normalised axes as the PNG rather than as Plotly's parallel-coordinates
trace, which shows no values on hover; an inactive conditional hyperparameter sits at INACTIVE, below
its axis's range, as on the PNG.
"""
from __future__ import annotations

import plotly.graph_objects as go

from tunelab.analysis.interactive.common import layout, message_figure, number, score_axis, score_colors, text
from tunelab.analysis.plots import INACTIVE, Axis, ParallelCoordinates
from tunelab.core.objective import Objective


def parallel_coordinates_figure(data: ParallelCoordinates) -> go.Figure:
    """Each trial one line across the axes, coloured by its objective (brighter is better), best on top."""
    title = f"Parallel coordinates: {len(data.trial_ids)} trials"
    if not data.trial_ids:
        return message_figure(title, f"no trial reported {data.metric}", 480)
    objective = Objective(data.metric, data.mode)
    colors = score_colors(data.objective, objective)
    several = len(set(data.experiments)) > 1
    xs = list(range(len(data.axes)))
    order = sorted(range(len(data.trial_ids)), key=lambda i: data.objective[i], reverse=objective.ascending)
    figure = go.Figure(layout=layout(title, 480, coloraxis=score_axis(data.objective, objective,
                                                                        f"{data.metric} (best)")))
    for index in order:
        figure.add_trace(go.Scatter(
            x=xs, y=[axis.positions[index] for axis in data.axes], mode="lines", opacity=0.8, showlegend=False,
            line={"color": colors[index], "width": 1.5}, hovertext=_hover_texts(data, index, several),
            hoverinfo="text"))
    # Plotly draws a colour bar only for a trace with a colour scale: an invisible one carries it.
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                                marker={"color": [min(data.objective)], "coloraxis": "coloraxis"}))
    for x, axis in zip(xs, data.axes):
        _draw_axis(figure, x, axis)
    figure.update_xaxes(tickvals=xs, ticktext=[text(a.name) + (" (log)" if a.log else "") for a in data.axes],
                        tickangle=-30, range=[-0.2, len(xs) - 0.5], showgrid=False, zeroline=False)
    figure.update_yaxes(visible=False, range=[INACTIVE - 0.08, 1.08])
    return figure


def _hover_texts(data: ParallelCoordinates, index: int, several: bool) -> list[str]:
    """Per axis: the trial, its value there and its objective (the first axis is the objective)."""
    trial = f"trial {text(data.trial_ids[index])}" + (f" of {text(data.experiments[index])}" if several else "")
    objective = f"{text(data.axes[0].name)}: {number(data.objective[index])}"
    return [f"{trial}<br>{objective}"] + [
        f"{trial}<br>{text(axis.name)}: {number(axis.values[index])}<br>{objective}" for axis in data.axes[1:]]


def _draw_axis(figure: go.Figure, x: int, axis: Axis) -> None:
    """A vertical line with the axis's tick labels beside it, long ones cut as on the PNG."""
    figure.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line={"color": "black", "width": 1})
    for tick, label in zip(axis.ticks, axis.tick_labels):
        short = label if len(label) <= 14 else label[:13] + "…"
        figure.add_annotation(x=x, y=tick, text=text(short), showarrow=False, xanchor="left", xshift=4,
                              font={"size": 10})
