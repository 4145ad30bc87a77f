"""What a strategy tried, on two hyperparameters, and which hyperparameters mattered, with the
trial and its values under the cursor."""
from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from tunelab.analysis.importance import Importance
from tunelab.analysis.interactive.common import UNSCORED, layout, message_figure, number, panels, score_axis, text
from tunelab.analysis.plots import SamplePanel, Samples
from tunelab.core.objective import Objective


def samples_figure(data: Samples) -> go.Figure:
    """One panel per experiment; points coloured by the objective on one scale, grey where not reported."""
    titles = [_panel_title(panel) for panel in data.panels] or [""]
    figure = panels(titles, f"Configurations tried: {data.x_name} against {data.y_name}", 440)
    values = [v for panel in data.panels for v in panel.objective]
    if any(math.isfinite(v) for v in values):
        figure.update_layout(coloraxis=score_axis(values, Objective(data.metric, data.mode), f"{data.metric} (best)"))
    for column, panel in enumerate(data.panels, start=1):
        scored = [i for i, v in enumerate(panel.objective) if math.isfinite(v)]
        unscored = [i for i, v in enumerate(panel.objective) if not math.isfinite(v)]
        if scored:
            figure.add_trace(_points(data, panel, scored, {"color": [panel.objective[i] for i in scored],
                                                           "coloraxis": "coloraxis"}), row=1, col=column)
        if unscored:
            figure.add_trace(_points(data, panel, unscored, {"color": UNSCORED}), row=1, col=column)
        figure.update_xaxes(_axis_style(data.x_log, data.x_categories), row=1, col=column,
                            title_text=text(data.x_name) + (" (log)" if data.x_log else ""))
    figure.update_yaxes(_axis_style(data.y_log, data.y_categories))
    figure.update_yaxes(title_text=text(data.y_name) + (" (log)" if data.y_log else ""), row=1, col=1)
    return figure


def _panel_title(panel: SamplePanel) -> str:
    title = panel.experiment + (f" ({panel.strategy})" if panel.strategy else "") + f": {len(panel.trial_ids)} trials"
    return title + (f", {panel.left_out} with one inactive" if panel.left_out else "")


def _points(data: Samples, panel: SamplePanel, indices: list[int], marker: dict[str, Any]) -> go.Scatter:
    """The panel's trials at `indices`; a categorical axis gets its category names back from positions."""
    xs = [_value(panel.x[i], data.x_categories) for i in indices]
    ys = [_value(panel.y[i], data.y_categories) for i in indices]
    hover = [f"trial {text(panel.trial_ids[i])}<br>{text(data.x_name)}: {number(x)}<br>"
             f"{text(data.y_name)}: {number(y)}<br>{text(data.metric)} (best): {number(panel.objective[i])}"
             for i, x, y in zip(indices, xs, ys)]
    return go.Scatter(x=xs, y=ys, mode="markers", showlegend=False, hovertext=hover, hoverinfo="text",
                      marker={"size": 9, "line": {"color": "black", "width": 0.5}, **marker})


def _value(position: Any, categories: list[str] | None) -> Any:
    return categories[int(position)] if categories is not None else position


def _axis_style(log: bool, categories: list[str] | None) -> dict[str, Any]:
    if categories is not None:
        return {"type": "category", "categoryorder": "array", "categoryarray": categories}
    return {"type": "log" if log else "linear"}


def importance_figure(data: Importance) -> go.Figure:
    """Most important at the top, each bar's share written beside it."""
    height = int(35 * max(4, len(data.names)) + 120)
    title = f"Hyperparameter importance, {data.trials} trials"
    if not data.names:
        return message_figure(title, f"importance needs 3 or more trials that reported {data.metric} "
                                     f"and a hyperparameter that varied ({data.trials} trials)", height)
    figure = go.Figure(layout=layout(title, height))
    figure.update_layout(title_subtitle_text=text(data.method))
    figure.add_trace(go.Bar(x=data.values, y=[text(name) for name in data.names], orientation="h",
                            marker_color="#3b75af", text=[f"{v:.2f}" for v in data.values], textposition="outside",
                            hovertemplate="%{y}: %{x:.3f} of the impurity decrease<extra></extra>"))
    figure.update_xaxes(title_text=f"share of impurity decrease for {text(data.metric)} (sums to 1)",
                        range=[0, max(data.values + [0.01]) * 1.15])
    figure.update_yaxes(type="category", autorange="reversed")
    return figure
