"""The metrics a trial reports: the `metrics:` key's names -> Keras metric objects, the names the trials
report, and the check of the experiment's `metric:` and `mode` against those names.

Every name a task takes is a registry entry here, built with its Keras name as the reported name, so
the driver knows before Ray starts what `val_auc` means and which way it is better (core.objective's
`default_mode`). Classification trains on one-hot labels with a softmax head, two classes included:
`auc` is one-vs-rest AUC averaged over the classes (`multi_label=True`), which on two classes equals
the usual binary AUC, as each class's column ranks the examples in the other's reverse order (at
thresholds dense towards 0 and 1: `auc_thresholds`); `precision` and `recall` are those of class 1
(the larger label) on two classes, and micro-averaged over all classes' one-vs-rest decisions at 0.5
on more. No Keras at import: only `compile_metrics` (in a worker) builds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import InputError, shown
from tunelab.core.objective import default_mode

if TYPE_CHECKING:
    import keras

TASKS = ("classification", "regression")
DEFAULT_METRICS = {"classification": ("accuracy",), "regression": ("mae",)}  # always compiled for the task
DEFAULT_OBJECTIVE = {"classification": "val_accuracy", "regression": "val_loss"}


class MetricError(InputError):
    """A `metrics:` name no task takes, or a `metric:`/`mode` the trials cannot be tuned on."""


@dataclass(frozen=True)
class MetricKind:
    """One name of the `metrics:` key: the task it measures and how Keras builds it for `num_classes`."""

    task: str
    build: Callable[[str, int], keras.metrics.Metric]
    """(reported name, number of classes; 0 for regression) -> the Keras metric."""


def _keras(class_name: str, **options: Any) -> Callable[[str, int], keras.metrics.Metric]:
    def build(name: str, num_classes: int) -> keras.metrics.Metric:
        import keras

        return getattr(keras.metrics, class_name)(name=name, **options)

    return build


def auc_thresholds() -> list[float]:
    """About 1,000 thresholds: evenly spaced, and as densely towards 0 and 1 in log-odds.

    Keras' default, 200 evenly spaced, puts every prediction of a confident model below 0.005 or above
    0.995 into one bucket each: its AUC is then 0.01 to 0.04 below the exact one and rewards the less
    confident models. With these it stays within about 1e-3 of scikit-learn's `roc_auc_score`.
    """
    evenly = np.linspace(0.0, 1.0, 501)[1:-1]
    log_odds = 1.0 / (1.0 + np.exp(-np.linspace(-16.0, 16.0, 499)))  # 1e-7 to 1 - 1e-7, float32's reach near 1
    return sorted(set(evenly.tolist()) | set(log_odds.tolist()))


def _auc(curve: str) -> Callable[[str, int], keras.metrics.Metric]:
    def build(name: str, num_classes: int) -> keras.metrics.Metric:
        import keras

        return keras.metrics.AUC(curve=curve, multi_label=True, num_labels=num_classes, thresholds=auc_thresholds(),
                                 name=name)

    return build


def _of_class_one(class_name: str) -> Callable[[str, int], keras.metrics.Metric]:
    def build(name: str, num_classes: int) -> keras.metrics.Metric:
        import keras

        return getattr(keras.metrics, class_name)(class_id=1 if num_classes == 2 else None, name=name)

    return build


# The names `metrics:` takes, by task: adding one is an entry here (and its direction in core.objective).
METRICS: dict[str, MetricKind] = {
    "accuracy": MetricKind("classification", _keras("CategoricalAccuracy")),
    "auc": MetricKind("classification", _auc("ROC")),
    "pr_auc": MetricKind("classification", _auc("PR")),
    "precision": MetricKind("classification", _of_class_one("Precision")),
    "recall": MetricKind("classification", _of_class_one("Recall")),
    "f1": MetricKind("classification", _keras("F1Score", average="macro")),  # macro average over the classes
    "top_k_categorical_accuracy": MetricKind("classification", _keras("TopKCategoricalAccuracy", k=5)),
    "mae": MetricKind("regression", _keras("MeanAbsoluteError")),
    "mse": MetricKind("regression", _keras("MeanSquaredError")),
    "rmse": MetricKind("regression", _keras("RootMeanSquaredError")),
    "mape": MetricKind("regression", _keras("MeanAbsolutePercentageError")),
    "msle": MetricKind("regression", _keras("MeanSquaredLogarithmicError")),
    "r2": MetricKind("regression", _keras("R2Score")),
}


def task_metrics(task: str) -> tuple[str, ...]:
    """The names `metrics:` takes under `task`."""
    return tuple(name for name, kind in METRICS.items() if kind.task == task)


def check_metric_names(value: Any, task: str) -> tuple[str, ...]:
    """The `metrics:` list, checked against `task`; raises MetricError naming `metrics`."""
    allowed = task_metrics(task)
    if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) for name in value):
        raise MetricError(f"metrics: expected a list of metric names, e.g. [{allowed[1]}]; got {shown(value)}")
    for name in value:
        kind = METRICS.get(name.removeprefix("val_"))
        if kind is not None and kind.task != task:
            raise MetricError(f"metrics: {name} measures {kind.task}, and this experiment's task is {task}; "
                              f"allowed: {', '.join(allowed)}")
        if name not in METRICS:
            hint = f" (write {name.removeprefix('val_')}: trials report it with and without val_)" if kind else (
                did_you_mean(name, allowed))
            raise MetricError(f"metrics: unknown metric {shown(name)} for task {task}; allowed: "
                              f"{', '.join(allowed)}{hint}")
    return tuple(dict.fromkeys(value))


def compiled_names(metrics: Sequence[str], task: str) -> tuple[str, ...]:
    """What a model tunelab compiles measures: the task's default metrics, then those listed."""
    return tuple(dict.fromkeys((*DEFAULT_METRICS[task], *metrics)))


def compile_metrics(metrics: Sequence[str], task: str, num_classes: int) -> list[keras.metrics.Metric]:
    """The Keras metrics a model tunelab compiles gets, each named as the trials report it."""
    return [METRICS[name].build(name, num_classes) for name in compiled_names(metrics, task)]


def reported_names(measured: Sequence[str]) -> tuple[str, ...]:
    """What `fit` with validation data reports for a model measuring `measured`: loss first, then val_."""
    names = tuple(dict.fromkeys(("loss", *measured)))
    return (*names, *(f"val_{name}" for name in names))


def check_objective(metric: str, mode: str | None, reported: Sequence[str], task: str) -> str:
    """The mode to tune `metric` with: refuses a name the trials never report (with the list and a
    suggestion) and an unknown direction without `mode`; the spec refused a contradicting mode."""
    if metric not in reported:
        unlisted = metric.removeprefix("val_")
        kind = METRICS.get(unlisted)
        hint = (f"; add `metrics: [{unlisted}]` to report it" if kind is not None and kind.task == task
                else did_you_mean(metric, reported))
        raise MetricError(f"metric: trials never report {shown(metric)}; they report {', '.join(reported)}{hint}")
    resolved = mode or default_mode(metric)
    if resolved is None:
        raise MetricError(f"mode: required for metric {metric}, whose direction tunelab does not know; "
                          "write mode: max (larger is better) or mode: min")
    return resolved
