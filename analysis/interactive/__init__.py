"""The report's plots as interactive figures: the same data as the PNGs, the values under the cursor.

Each `*_figure(data)` draws what a `tunelab.analysis.plots.*_data` function computed, so a PNG and
its interactive twin cannot disagree on what they show. `figure_html` and `plotly_script` put the
figures in a page that opens offline: plotly.js inline once, then each figure a div and its data.
"""
from __future__ import annotations

from typing import Callable

import plotly.graph_objects as go

from tunelab.analysis.interactive.curves import best_so_far_figure, learning_curves_figure
from tunelab.analysis.interactive.lineage import lineage_figure
from tunelab.analysis.interactive.parallel import parallel_coordinates_figure
from tunelab.analysis.interactive.samples import importance_figure, samples_figure
from tunelab.analysis.interactive.timeline import timeline_figure
from tunelab.analysis.plots import plot_data
from tunelab.analysis.results import Results

__all__ = [
    "best_so_far_figure", "figure_html", "importance_figure", "interactive_figures", "learning_curves_figure",
    "lineage_figure", "parallel_coordinates_figure", "plotly_script", "samples_figure", "timeline_figure",
]

_BUILDERS: dict[str, Callable[..., go.Figure]] = {
    "learning_curves": learning_curves_figure, "best_so_far": best_so_far_figure,
    "parallel_coordinates": parallel_coordinates_figure, "samples": samples_figure,
    "importance": importance_figure, "timeline": timeline_figure, "lineage": lineage_figure,
}


def interactive_figures(results: Results, metric: str | None = None, x: str | None = None,
                        y: str | None = None) -> dict[str, go.Figure]:
    """Every plot, by name (PLOTS), as a Plotly figure; the arguments mean what they mean for the PNGs."""
    return {name: _BUILDERS[name](data) for name, data in plot_data(results, metric, x, y).items()}


def plotly_script() -> str:
    """plotly.js (about 4.8 MB) in one inline script: what every figure's div needs, once per page."""
    from plotly.offline import get_plotlyjs

    return f"<script>{get_plotlyjs()}</script>"


def figure_html(figure: go.Figure, name: str) -> str:
    """The figure as a div with its data, for a page that already holds `plotly_script()`; the
    camera button of its toolbar saves it as NAME.png."""
    config = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"filename": name}}
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{name}", config=config)
