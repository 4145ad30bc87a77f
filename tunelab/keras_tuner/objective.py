"""The objective a tuner optimizes: a metric name and whether larger is better."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tunelab.core.objective import Objective as CoreObjective

# KerasTuner infers a direction from what keras.metrics.deserialize (or keras.losses') makes of the
# name (keras_tuner/src/engine/metrics_tracking.py: infer_metric_direction): its list of scores is
# maximized, any other Keras metric or loss minimized. tunelab answers the same for those names and
# differs where that rule is wrong or silent (each difference is tested against keras_tuner itself):
_MAXIMIZED = {
    "acc", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
    "true_positives", "true_negatives",
    # scores KerasTuner minimizes, as Keras metrics outside its list of scores: higher is better
    "r2_score", "f1_score", "cosine_similarity", "pearson_correlation", "concordance_correlation", "binary_io_u",
    # scores KerasTuner cannot infer (None, or an error from a metric that needs an argument); Keras
    # names IoU `io_u`, and the tutorials' AUC(curve="PR") is named `prc`
    "fbeta_score", "prc", "io_u", "mean_io_u", "one_hot_io_u", "one_hot_mean_io_u", "iou", "mean_iou",
    "specificity_at_sensitivity", "sensitivity_at_specificity", "precision_at_recall", "recall_at_precision",
}
_MINIMIZED_PARTS = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "cosh")
_MINIMIZED = {"ce", "mse", "mae", "mape", "msle", "rmse", "kld", "huber", "dice", "tversky", "false_positives",
              "false_negatives", "default_objective"}
DEFAULT_OBJECTIVE = "default_objective"  # KerasTuner's name for what a HyperModel.fit returns, minimized


@dataclass(frozen=True)
class Objective:
    """KerasTuner's Objective: `Objective("val_f1", direction="max")`."""

    name: str
    direction: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Objective: name must be a metric name, got {self.name!r}")
        if self.direction not in ("min", "max"):
            raise ValueError(f"Objective {self.name!r}: direction must be 'min' or 'max', got {self.direction!r}")

    @property
    def core(self) -> CoreObjective:
        """The same objective in tunelab's own terms (metric and mode), which every comparison of scores uses."""
        return CoreObjective(self.name, self.direction)

    def better_than(self, a: float, b: float) -> bool:
        """Whether `a` is a strictly better score than `b` (KerasTuner's name for it)."""
        return self.core.better(a, b)

    def __str__(self) -> str:
        return f'Objective(name="{self.name}", direction="{self.direction}")'


def infer_direction(metric: str) -> str | None:
    """KerasTuner's rule: scores are maximized, losses and errors minimized; None for a name it cannot tell.

    Keras names a second unnamed metric of a kind `auc_1`: the suffix is ignored.
    """
    name = re.sub(r"_[0-9]+$", "", metric.removeprefix("val_").removeprefix("weighted_"))
    if name in _MAXIMIZED or name.endswith("accuracy") or name.startswith("auc"):
        return "max"
    if name in _MINIMIZED or any(part in name for part in _MINIMIZED_PARTS):
        return "min"
    return None

def create_objective(objective: Any) -> Objective:
    """A string (direction inferred), an Objective, or None (HyperModel.fit returns the value to minimize)."""
    if objective is None:
        return Objective(DEFAULT_OBJECTIVE, "min")
    if isinstance(objective, Objective):
        return objective
    if hasattr(objective, "name") and hasattr(objective, "direction"):  # keras_tuner.Objective
        return Objective(objective.name, objective.direction)
    if isinstance(objective, (list, tuple)):
        raise ValueError("objective: tunelab optimizes one metric; pass a single name or Objective")
    if not isinstance(objective, str):
        raise TypeError(f"objective not understood, expected str or Objective, found: {objective!r}")
    direction = infer_direction(objective)
    if direction is None:
        raise ValueError(
            f'Could not infer optimization direction ("min" or "max") for unknown metric "{objective}". '
            f'Please specify the objective as an Objective, for example Objective("{objective}", direction="min").'
        )
    return Objective(objective, direction)
