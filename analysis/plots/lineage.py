"""PBT lineages: the schedule of perturbed hyperparameters that each surviving trial's final model was trained with.

Population based training does not find one configuration but a schedule: a final model was
trained by its own trial since its last exploit and by the trials it took over before that, each
with its values (`tunelab.analysis.lineage`). One panel per perturbed hyperparameter, a line per
surviving trial, coloured by its final value of the metric; the best is drawn thick. Only for
runs of the `pbt` strategy: for others the plot says that it does not apply.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tunelab.analysis.lineage import exploits_by_trial, lineage, perturbed_params
from tunelab.analysis.plots.common import empty_plot, metric_name, mode_of, score_colors
from tunelab.analysis.results import Results
from tunelab.core.objective import Objective

SURVIVING = ("completed", "running", "paused")  # a model that is still, or was at the end, in the population


class Lineage(NamedTuple):
    experiment: str
    trial_id: str                            # the trial whose final model this is
    final: float                             # its last reported value of the metric (NaN: none)
    epochs: list[int]
    trained_by: list[str]                    # the trial that trained each epoch
    values: dict[str, list[Any]]             # each perturbed hyperparameter at each epoch (None: inactive)


class Lineages(NamedTuple):
    """The perturbed hyperparameters, epoch by epoch, of every surviving trial of the PBT runs."""

    metric: str
    mode: str
    params: list[str]                        # the perturbed hyperparameters, a panel each
    log_params: frozenset[str]
    lineages: list[Lineage]
    message: str | None = None               # why there is nothing to draw

    def best(self, experiment: str) -> Lineage | None:
        """The lineage of the experiment's trial with the best final value."""
        scored = [item for item in self.lineages if item.experiment == experiment and not math.isnan(item.final)]
        return Objective(self.metric, self.mode).best(scored, key=lambda item: item.final)


def lineage_data(results: Results, metric: str | None = None) -> Lineages:
    metric = metric_name(results, metric)
    mode = mode_of(results, metric)
    runs = [experiment for experiment in results.experiments if experiment.strategy == "pbt"]
    if not runs:
        return Lineages(metric, mode, [], frozenset(), [],
                        "lineages are drawn for population based training (strategy pbt) only")
    params: list[str] = []
    lineages = []
    for experiment in runs:
        perturbed = perturbed_params(experiment.path)
        params += [name for name in perturbed if name not in params]
        exploits = exploits_by_trial(experiment.path)
        trials = results.trials[results.trials["experiment"] == experiment.name]
        initial = {row["trial_id"]: results.config(row) for _, row in trials.iterrows()}
        for _, row in trials[trials["stop_reason"].isin(SURVIVING) & (trials["epochs"] > 0)].iterrows():
            epochs = lineage(row["trial_id"], int(row["epochs"]), exploits, initial)
            final = row.get(f"{metric}_last", math.nan)
            lineages.append(Lineage(
                experiment.name, row["trial_id"], math.nan if final is None else float(final),
                [epoch.epoch for epoch in epochs], [epoch.trained_by for epoch in epochs],
                {name: [epoch.values.get(name) for epoch in epochs] for name in perturbed}))
    message = None
    if not params:
        message = "the run recorded no perturbed hyperparameters (its tunelab_trial_events.jsonl is missing)"
    elif not lineages:
        message = "no PBT trial has trained an epoch yet"
    return Lineages(metric, mode, params, results.log_params & frozenset(params), lineages, message)


def switches(item: Lineage) -> list[int]:
    """Indices of the epochs where the model's lineage passes to another trial (an exploit)."""
    return [i for i in range(1, len(item.epochs)) if item.trained_by[i] != item.trained_by[i - 1]]


def render_lineage(data: Lineages) -> Figure:
    """A panel per perturbed hyperparameter (rows) and PBT run (columns), a step line per surviving trial."""
    experiments = list(dict.fromkeys(item.experiment for item in data.lineages))
    rows, columns = max(1, len(data.params)), max(1, len(experiments))
    figure = Figure(figsize=(min(16.0, 6.5 * columns + 1.5), 2.8 * rows + 1.2), layout="constrained")
    axes = figure.subplots(rows, columns, sharex=True, squeeze=False)
    title = "PBT lineages: the hyperparameters each final model was trained with"
    if data.message:
        figure.suptitle(title, fontsize=11)
        return empty_plot(figure, axes[0][0], data.message)
    colors, mappable = score_colors([item.final for item in data.lineages], Objective(data.metric, data.mode))
    color_of = {(item.experiment, item.trial_id): color for item, color in zip(data.lineages, colors)}
    for column, experiment in enumerate(experiments):
        best = data.best(experiment)
        own = sorted((item for item in data.lineages if item.experiment == experiment), key=lambda item: item is best)
        for row, param in enumerate(data.params):
            ax = axes[row][column]
            for item in own:
                thick = item is best
                values = [math.nan if value is None else value for value in item.values.get(param, [])]
                ax.step(item.epochs, values, where="mid", linewidth=2.6 if thick else 1.1, alpha=1.0 if thick else 0.7,
                        color=color_of[(item.experiment, item.trial_id)], zorder=3 if thick else 2)
                taken = switches(item)
                ax.plot([item.epochs[i] - 0.5 for i in taken], [values[i] for i in taken], "o", markersize=4,
                        color=color_of[(item.experiment, item.trial_id)], markeredgecolor="black", zorder=4)
            if param in data.log_params:
                ax.set_yscale("log")
            ax.set_ylabel(param)
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0][column].set_title(experiment + (f" (best final model: {best.trial_id}, {data.metric} "
                                                f"{best.final:.4g})" if best else ""), fontsize=10)
        axes[-1][column].set_xlabel("epoch")
    axes[0][-1].legend(handles=[
        Line2D([], [], color="gray", linewidth=2.6, label="best final model"),
        Line2D([], [], color="gray", marker="o", markeredgecolor="black", linestyle="",
               label="an exploit: the model passes to the trial that took it over"),
    ], fontsize=8, loc="best")
    figure.colorbar(mappable, ax=axes, label=f"final {data.metric}", shrink=0.8)
    figure.suptitle(title, fontsize=11)
    return figure
