"""Learning hyperparameters shared by every model family: optimizer, rate, schedule, loss, regularization.

The losses are the task's: a classification space chooses among losses of one-hot labels, a regression
space among losses of numbers, so a catalog space works for either task.
"""
from __future__ import annotations

from tunelab.searchspaces.params import Choice, Float, Param

TASK_LOSSES = {
    "classification": Choice(
        ["categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "mean_squared_error"]
    ),
    "regression": Choice(["mse", "mae", "huber"]),
}


def learning(task: str) -> dict[str, Param]:
    """Every learning hyperparameter, with `task`'s losses."""
    return {
        "optimizer": Choice(["adam", "sgd", "rmsprop"]),
        "learning_rate": Float(1e-4, 1e-1, log=True, grid=[1e-3, 1e-2]),
        "momentum": Float(0.0, 0.95, grid=[0.0, 0.9], when={"optimizer": ["sgd", "rmsprop"]}),
        "lr_schedule": Choice(["constant", "exponential", "cosine", "step"]),
        "loss": TASK_LOSSES[task],
        "dropout": Float(0.0, 0.5, step=0.1),
        "regularization": Choice(["none", "l1", "l2", "l1_l2"]),
        "regularization_strength": Float(
            1e-6, 1e-2, log=True, grid=[1e-5, 1e-3], when={"regularization": ["l1", "l2", "l1_l2"]}
        ),
    }
