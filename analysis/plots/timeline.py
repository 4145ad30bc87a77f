"""When each trial ran, on which worker, and how it ended."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tunelab.analysis.plots.common import OUTCOME_COLORS, empty_plot, experiment_start, trial_outcomes
from tunelab.analysis.results import Results

# --- timeline ---------------------------------------------------------------------------------


class Segment(NamedTuple):
    experiment: str
    trial_id: str
    row: str              # the worker (host:pid), prefixed by the experiment when there are several
    start: float          # seconds since the experiment's first trial started
    end: float
    outcome: str


class Timeline(NamedTuple):
    """Who trained what when: one row per worker process, one bar per uninterrupted run of a trial."""

    rows: list[str]
    segments: list[Segment]


def timeline_data(results: Results) -> Timeline:
    history = results.history[results.history["time"].notna()]
    outcomes = trial_outcomes(results)
    several = results.trials["experiment"].nunique() > 1
    segments = []
    for (experiment, trial_id), rows in history.groupby(["experiment", "trial_id"], sort=False):
        times = rows["time"].to_numpy(dtype="float64")
        totals = rows["time_total_s"].to_numpy(dtype="float64")
        durations = np.diff(np.r_[0.0, totals]) if not np.isnan(totals).any() else np.zeros(len(rows))
        starts = times - durations
        workers = rows["worker"].astype(str).to_numpy()
        # A new segment where the worker changes or the trial sat idle (paused) between epochs.
        breaks = np.r_[True, (workers[1:] != workers[:-1]) | (starts[1:] > times[:-1] + 1.0)]
        origin = experiment_start(results, experiment)
        bounds = np.flatnonzero(breaks).tolist() + [len(rows)]
        for first, stop in zip(bounds[:-1], bounds[1:]):
            row = f"{experiment} · {workers[first]}" if several else workers[first]
            segments.append(Segment(experiment, trial_id, row, float(starts[first] - origin),
                                    float(times[stop - 1] - origin),
                                    outcomes.get((experiment, trial_id), "completed")))
    rows = sorted({s.row for s in segments}, key=lambda r: min(s.start for s in segments if s.row == r))
    return Timeline(rows, segments)


def render_timeline(data: Timeline) -> Figure:
    figure = Figure(figsize=(10, 0.45 * max(3, len(data.rows)) + 1.4), layout="constrained")
    ax = figure.subplots()
    if not data.segments:
        return empty_plot(figure, ax, "no trial reported an epoch")
    index = {row: i for i, row in enumerate(data.rows)}
    label = len(data.segments) <= 40
    for segment in data.segments:
        y = index[segment.row]
        ax.barh(y, segment.end - segment.start, left=segment.start, height=0.7, edgecolor="white",
                color=OUTCOME_COLORS.get(segment.outcome, "black"))
        if label:
            ax.text(segment.start + (segment.end - segment.start) / 2, y, segment.trial_id[:8], ha="center",
                    va="center", fontsize=6, color="white")
    ax.set_yticks(range(len(data.rows)), data.rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first trial started")
    outcomes = list(dict.fromkeys(s.outcome for s in data.segments))
    ax.legend(handles=[Patch(color=OUTCOME_COLORS.get(o, "black"), label=o) for o in outcomes], fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Timeline: {len({s.trial_id for s in data.segments})} trials on {len(data.rows)} workers",
                 fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return figure
