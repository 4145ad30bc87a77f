"""The objective of a search: a metric and which way is better, so no module writes `mode == "max"` again.

Every comparison of scores, from the trainable's "did this epoch improve" to the report's "best
trial first", asks the same question; asked in one place, a minimised metric cannot be ranked
upside down in one of them. A missing score (None, or NaN from a diverged trial) is never better
than anything and ranks last, since a diverged trial must never win. Pure Python, so every layer,
the trainable inside a Ray worker included, can import it. `default_mode` knows which way the usual
losses and scores go, so an experiment may leave `mode` out for them.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Objective:
    """A metric to maximise or minimise: `Objective("val_loss", "min")`."""

    metric: str
    """The reported metric the search optimises."""
    mode: str
    """Which way is better: "max" (larger values) or "min" (smaller ones)."""

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"Objective {self.metric!r}: mode must be 'max' or 'min'; got {self.mode!r}")

    @property
    def ascending(self) -> bool:
        """Whether smaller is better: the order (pandas' `ascending=`) that puts the best first."""
        return self.mode == "min"

    def better(self, a: Any, b: Any) -> bool:
        """Whether `a` is strictly better than `b`; a missing `a` never is, any other beats a missing `b`."""
        if _missing(a):
            return False
        if _missing(b):
            return True
        return a > b if self.mode == "max" else a < b

    def best(self, values: Iterable[T], key: Callable[[T], Any] | None = None) -> T | None:
        """The best of `values` (by `key`), missing ones left out; the first of equals; None when none is left."""
        score = key or _itself
        present = [value for value in values if not _missing(score(value))]
        if not present:
            return None
        return (max if self.mode == "max" else min)(present, key=score)

    def sort_key(self, value: Any) -> tuple[bool, float]:
        """Sorts best first with `sorted(..., key=)`, missing values last."""
        if _missing(value):
            return True, 0.0
        return False, -value if self.mode == "max" else value


def _missing(value: Any) -> bool:
    """None or NaN: a score that was never reported, or a diverged trial's."""
    return value is None or (isinstance(value, numbers.Real) and math.isnan(value))


def _itself(value: T) -> T:
    return value


# Which way the metrics Keras and tunelab name are better, for an experiment that leaves `mode` out.
# Names are matched without `val_`; a name not covered (a user's `my_mae`) has no known direction.
_SMALLER_BETTER = frozenset({
    "loss", "mae", "mse", "rmse", "mape", "msle", "logcosh", "log_cosh", "hinge", "poisson", "kld",
    "params", "latency_ms",  # a model's size and inference time (core.pareto's usual second objectives)
})
_SMALLER_BETTER_ENDINGS = ("_loss", "_error", "crossentropy", "_hinge", "_divergence")
_LARGER_BETTER = frozenset({
    "accuracy", "auc", "pr_auc", "precision", "recall", "f1", "f1_score", "fbeta_score", "r2", "r2_score",
    "iou", "mean_iou", "specificity", "sensitivity",
})
_LARGER_BETTER_ENDINGS = ("accuracy", "_auc")


def default_mode(metric: str) -> str | None:
    """"min" for losses and errors, "max" for scores (accuracy, auc, precision, recall, r2 ...), None when the
    name says nothing: `default_mode("val_auc") == "max"`, `default_mode("val_my_score") is None`."""
    name = metric.removeprefix("val_")
    if name in _SMALLER_BETTER or name.endswith(_SMALLER_BETTER_ENDINGS):
        return "min"
    if name in _LARGER_BETTER or name.endswith(_LARGER_BETTER_ENDINGS):
        return "max"
    return None
