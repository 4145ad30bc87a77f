"""The pictures of a tuning run, Optuna-style: each plot's data first (a small NamedTuple), then a PNG.

`*_data(results, ...)` computes what a plot shows from the Results frames, and is what tests
check; `render_*(data)` draws it on a matplotlib Figure (no pyplot, so no global state and no
display needed); `write_plots` does both for every plot. `plot_data` computes every plot's data
once, for these PNGs and for the report's interactive figures (tunelab.analysis.interactive).
Every function takes one Results, holding one experiment or several.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Union

from matplotlib.figure import Figure

from tunelab.analysis.importance import Importance
from tunelab.analysis.plots.common import DPI, OUTCOME_COLORS, checked_params, default_pair, metric_name, varying
from tunelab.analysis.plots.curves import (
    BestSoFar, BestSoFarSeries, Curve, LearningCurves, best_so_far_data, learning_curves_data, render_best_so_far,
    render_learning_curves,
)
from tunelab.analysis.plots.lineage import Lineage, Lineages, lineage_data, render_lineage
from tunelab.analysis.plots.pareto import ParetoPoints, pareto_data, render_pareto
from tunelab.analysis.plots.parallel import (
    INACTIVE, Axis, ParallelCoordinates, parallel_coordinates_data, render_parallel_coordinates,
)
from tunelab.analysis.plots.samples import (
    SamplePanel, Samples, importance_data, render_importance, render_samples, samples_data,
)
from tunelab.analysis.plots.timeline import Segment, Timeline, render_timeline, timeline_data
from tunelab.analysis.results import Results

__all__ = [
    "INACTIVE", "OUTCOME_COLORS", "PARALLEL_AXES", "PLOTS", "Axis", "BestSoFar", "BestSoFarSeries", "Curve",
    "LearningCurves", "Lineage", "Lineages", "ParallelCoordinates", "ParetoPoints", "PlotData", "SamplePanel", "Samples", "Segment",
    "Timeline", "best_so_far_data", "check_request", "figures", "importance_data", "learning_curves_data",
    "lineage_data", "parallel_coordinates_data", "pareto_data", "plot_data", "png_bytes", "render_best_so_far", "render_importance",
    "render_learning_curves", "render_lineage", "render_parallel_coordinates", "render_pareto", "render_samples", "render_timeline",
    "samples_data", "save_png", "timeline_data", "write_plots",
]

PARALLEL_AXES = 10  # write_plots shows the most important hyperparameters; more would not be legible
PLOTS = ("learning_curves", "best_so_far", "parallel_coordinates", "samples", "importance", "timeline", "lineage")
PlotData = Union[LearningCurves, BestSoFar, ParallelCoordinates, Samples, Importance, Timeline, Lineages]
_RENDERERS: dict[str, Callable[..., Figure]] = {
    "learning_curves": render_learning_curves, "best_so_far": render_best_so_far,
    "parallel_coordinates": render_parallel_coordinates, "samples": render_samples,
    "importance": render_importance, "timeline": render_timeline, "lineage": render_lineage,
}


def plot_data(results: Results, metric: str | None = None, x: str | None = None,
              y: str | None = None) -> dict[str, PlotData]:
    """What every plot shows, by name (PLOTS): computed once for the PNGs and the report's figures alike."""
    importance = importance_data(results, metric)
    ranked = importance.names or varying(results.trials, results.params)
    if x is None or y is None:
        x, y = default_pair(results, ranked, x, y)
    axes = ranked[:PARALLEL_AXES] or None
    return {
        "learning_curves": learning_curves_data(results, metric),
        "best_so_far": best_so_far_data(results, metric),
        "parallel_coordinates": parallel_coordinates_data(results, axes, metric),
        "samples": samples_data(results, x, y, metric),
        "importance": importance,
        "timeline": timeline_data(results),
        "lineage": lineage_data(results, metric),
    }


def figures(results: Results, metric: str | None = None, x: str | None = None,
            y: str | None = None) -> dict[str, Figure]:
    """Every plot, by name (PLOTS), computed and rendered."""
    return {name: _RENDERERS[name](data) for name, data in plot_data(results, metric, x, y).items()}


def write_plots(results: Results, folder: str | Path, metric: str | None = None, x: str | None = None,
                y: str | None = None) -> dict[str, Path]:
    """Writes NAME.png for every plot into `folder`, and pareto.png for a run with several objectives; returns the
    paths by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, figure in figures(results, metric, x, y).items():
        written[name] = save_png(figure, folder / f"{name}.png")
    pareto = pareto_data(results)
    if pareto is not None:
        written["pareto"] = save_png(render_pareto(pareto), folder / "pareto.png")
    return written


def save_png(figure: Figure, path: str | Path) -> Path:
    """PNG with a 256-colour palette: a quarter of the size, no visible loss for line plots."""
    Path(path).write_bytes(png_bytes(figure))
    return Path(path)


def png_bytes(figure: Figure) -> bytes:
    from PIL import Image

    raw = io.BytesIO()
    figure.savefig(raw, dpi=DPI, format="png", facecolor="white")
    image = Image.open(raw).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def check_request(results: Results, metric: str | None = None, x: str | None = None, y: str | None = None) -> None:
    """Raises ResultsError (with a did-you-mean) for a metric or hyperparameter the results do not hold."""
    metric_name(results, metric)
    checked_params(results, [name for name in (x, y) if name])


