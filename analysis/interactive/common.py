"""What every interactive figure shares: the report's look, the colours of scores, hover text
that cannot be mistaken for markup, and the figure that says why a plot is empty (as the PNG does)."""
from __future__ import annotations

import html
import math
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale, sequential
from plotly.subplots import make_subplots

from tunelab.core.objective import Objective

FONT = "-apple-system, 'Segoe UI', Roboto, sans-serif"  # the report's own
UNSCORED = "#999999"  # a trial that did not report the metric, as on the PNGs


def text(value: object) -> str:
    """A value as Plotly shows it in a title or a hover: its few HTML-like tags escaped, so a
    category such as `<none>` reads as itself."""
    return html.escape(str(value), quote=False)


def number(value: object) -> str:
    """Hyperparameter values and scores in hovers: floats to 4 significant digits, None as inactive."""
    if value is None:
        return "inactive"
    if isinstance(value, float):
        return "not reported" if math.isnan(value) else f"{value:.4g}"
    return text(value)


def layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    """Heights follow the PNGs' figure sizes (at their 100 dpi); the width follows the page."""
    return {"title": {"text": text(title), "x": 0.5, "font": {"size": 14}}, "height": height,
            "template": "plotly_white", "font": {"family": FONT, "size": 12}, "hovermode": "closest",
            "margin": {"l": 70, "r": 30, "t": 70, "b": 60}, **extra}


def panels(titles: list[str], title: str, height: int) -> go.Figure:
    """Panels side by side sharing the y axis, as the PNGs' row of axes (one per experiment)."""
    figure = make_subplots(rows=1, cols=len(titles), shared_yaxes=True, horizontal_spacing=0.06,
                           subplot_titles=[text(t) for t in titles])
    figure.update_annotations(font_size=12)
    figure.update_layout(**layout(title, height))
    return figure


def message_figure(title: str, message: str, height: int) -> go.Figure:
    """An empty plot that says why it is empty, with the message the PNG writes."""
    figure = go.Figure(layout=layout(title, height))
    figure.add_annotation(text=text(message), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def score_scale(objective: Objective) -> list[str]:
    """Viridis, brighter for better: reversed when the objective is minimised (as the PNGs)."""
    return sequential.Viridis[::-1] if objective.ascending else sequential.Viridis


def score_axis(values: list[float], objective: Objective, title: str) -> dict[str, Any]:
    """The layout's colour axis for scores: one scale and one colour bar for every panel."""
    finite = [v for v in values if math.isfinite(v)]
    return {"colorscale": score_scale(objective), "cmin": min(finite, default=0.0), "cmax": max(finite, default=1.0),
            "colorbar": {"title": {"text": text(title), "side": "right"}, "thickness": 14}}


def score_colors(values: list[float], objective: Objective) -> list[str]:
    """One colour per value on `score_axis`'s scale, for lines (which cannot take a colour scale)."""
    finite = [v for v in values if math.isfinite(v)]
    low, high = min(finite, default=0.0), max(finite, default=1.0)
    span = (high - low) or 1.0
    colors = iter(sample_colorscale(score_scale(objective), [(v - low) / span for v in finite]))
    return [next(colors) if math.isfinite(v) else UNSCORED for v in values]
