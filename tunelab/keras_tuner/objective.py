"""The objective a tuner optimizes: a metric name and whether larger is better."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunelab.core.objective import Objective as CoreObjective

_MAXIMIZED = {
    "acc", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
    "true_positives", "true_negatives", "f1_score", "fbeta_score", "r2_score",
}
_MINIMIZED_PARTS = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "cosh")
_MINIMIZED = {"ce", "mse", "mae", "mape", "msle", "false_positives", "false_negatives", "default_objective"}


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
    """KerasTuner's rule: accuracy-like metrics are maximized, losses and errors minimized."""
    name = metric.removeprefix("val_").removeprefix("weighted_")
    if name in _MAXIMIZED or name.endswith("accuracy") or name.startswith("auc"):
        return "max"
    if name in _MINIMIZED or any(part in name for part in _MINIMIZED_PARTS):
        return "min"
    return None


def create_objective(objective: Any) -> Objective:
    """A string (direction inferred), an Objective, or None (HyperModel.fit returns the value to minimize)."""
    if objective is None:
        return Objective("default_objective", "min")
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
