"""The Pareto plot of a run with several objectives: each trial at its best epoch on the first two objectives,
the front joined by a step line, trials that broke a constraint greyed out. Data first, then the figure."""
from __future__ import annotations

from typing import NamedTuple

from matplotlib.figure import Figure

from tunelab.analysis.results import Results
from tunelab.core.objective import Objective


class ParetoPoints(NamedTuple):
    x: Objective               # the first objective, on the x axis
    y: Objective               # the second one (with three or more, the others are in the table only)
    trial_ids: list[str]
    xs: list[float]
    ys: list[float]
    feasible: list[bool]
    on_front: list[bool]
    others: tuple[str, ...]    # further objectives, named in the title


def pareto_data(results: Results) -> ParetoPoints | None:
    """The points of the plot, or None for a run tuned on one objective."""
    if len(results.objectives) < 2:
        return None
    first, second, *others = results.objectives
    points = results.points()
    return ParetoPoints(first, second, points["trial_id"].astype(str).tolist(),
                        points[first.metric].astype(float).tolist(), points[second.metric].astype(float).tolist(),
                        points["feasible"].tolist(), points["pareto"].tolist(), tuple(o.metric for o in others))


def front_line(data: ParetoPoints) -> tuple[list[float], list[float]]:
    """The front's points in order of x, for the step line joining them."""
    front = sorted((x, y) for x, y, on in zip(data.xs, data.ys, data.on_front) if on)
    return [x for x, _ in front], [y for _, y in front]


def render_pareto(data: ParetoPoints) -> Figure:
    figure = Figure(figsize=(7, 5))
    axes = figure.add_subplot()
    groups = (("broke a constraint", lambda f, p: not f, "#bbbbbb", "x"),
              ("dominated", lambda f, p: f and not p, "#6baed6", "o"),
              ("Pareto front", lambda f, p: p, "#d62728", "o"))
    for label, member, color, marker in groups:
        chosen = [i for i, (f, p) in enumerate(zip(data.feasible, data.on_front)) if member(f, p)]
        if chosen:
            axes.scatter([data.xs[i] for i in chosen], [data.ys[i] for i in chosen], c=color, marker=marker,
                         label=f"{label} ({len(chosen)})", zorder=3)
    xs, ys = front_line(data)
    axes.step(xs, ys, where="post", color="#d62728", alpha=0.5, zorder=2)
    axes.set_xlabel(f"{data.x.metric} ({data.x.mode})")
    axes.set_ylabel(f"{data.y.metric} ({data.y.mode})")
    extra = f"; also {', '.join(data.others)}" if data.others else ""
    axes.set_title(f"Pareto front: each trial at its best epoch{extra}", fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure
