"""The report's Pareto plot: the PNG's points (plots.pareto), each trial's id and values under the cursor."""
from __future__ import annotations

import plotly.graph_objects as go

from tunelab.analysis.interactive.common import layout
from tunelab.analysis.plots.pareto import ParetoPoints, front_line


def pareto_figure(data: ParetoPoints) -> go.Figure:
    figure = go.Figure()
    groups = (("broke a constraint", lambda f, p: not f, "#bbbbbb", "x"),
              ("dominated", lambda f, p: f and not p, "#6baed6", "circle"),
              ("Pareto front", lambda f, p: p, "#d62728", "circle"))
    for label, member, color, symbol in groups:
        chosen = [i for i, (f, p) in enumerate(zip(data.feasible, data.on_front)) if member(f, p)]
        figure.add_trace(go.Scatter(
            x=[data.xs[i] for i in chosen], y=[data.ys[i] for i in chosen], mode="markers", name=label,
            marker={"color": color, "symbol": symbol, "size": 9}, text=[data.trial_ids[i] for i in chosen],
            hovertemplate=f"trial %{{text}}<br>{data.x.metric} %{{x:.4g}}<br>{data.y.metric} %{{y:.4g}}<extra></extra>"))
    xs, ys = front_line(data)
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "#d62728"}, opacity=0.5,
                                hoverinfo="skip", showlegend=False))
    figure.update_layout(**layout("Pareto front: each trial at its best epoch", 480),
                         xaxis_title=f"{data.x.metric} ({data.x.mode})", yaxis_title=f"{data.y.metric} ({data.y.mode})")
    return figure
