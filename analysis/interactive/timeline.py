"""When each trial ran, on which worker and how it ended, with the trial and its times under the cursor."""
from __future__ import annotations

import plotly.graph_objects as go

from tunelab.analysis.interactive.common import layout, message_figure, text
from tunelab.analysis.plots import OUTCOME_COLORS, Timeline

LABELLED = 40  # at most this many bars carry their trial id, as on the PNG


def timeline_figure(data: Timeline) -> go.Figure:
    """One row per worker, one bar per uninterrupted run of a trial, one legend entry per outcome."""
    height = int(45 * max(3, len(data.rows)) + 140)
    trials = len({s.trial_id for s in data.segments})
    title = f"Timeline: {trials} trials on {len(data.rows)} workers"
    if not data.segments:
        return message_figure(title, "no trial reported an epoch", height)
    figure = go.Figure(layout=layout(title, height, barmode="overlay", showlegend=True))
    labelled = len(data.segments) <= LABELLED
    for outcome in dict.fromkeys(s.outcome for s in data.segments):
        segments = [s for s in data.segments if s.outcome == outcome]
        figure.add_trace(go.Bar(
            orientation="h", name=text(outcome), y=[text(s.row) for s in segments],
            base=[s.start for s in segments], x=[s.end - s.start for s in segments], width=0.7,
            marker={"color": OUTCOME_COLORS.get(outcome, "black"), "line": {"color": "white", "width": 1}},
            text=[text(s.trial_id[:8]) for s in segments] if labelled else None, textposition="inside",
            insidetextanchor="middle", textfont={"color": "white", "size": 10},
            customdata=[[text(s.trial_id), s.start, s.end] for s in segments],
            hovertemplate=f"trial %{{customdata[0]}} ({text(outcome)})<br>worker %{{y}}<br>"
                          "%{customdata[1]:.0f} s to %{customdata[2]:.0f} s (%{x:.0f} s)<extra></extra>"))
    figure.update_yaxes(type="category", categoryorder="array", categoryarray=[text(r) for r in data.rows],
                        autorange="reversed")
    figure.update_xaxes(title_text="seconds since the first trial started")
    return figure
