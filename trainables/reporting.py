"""Keras callback that reports each epoch to Ray Tune with a resumable checkpoint.

Written here because ray.tune.integration.keras does not work with Keras 3. Importing this
module imports Keras, so the trainable imports it only after configuring TensorFlow.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from ray import tune

from tunelab.core.objective import Objective
from tunelab.trainables import checkpoints
from tunelab.trainables.model_cost import measured


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the trial's configuration diverges."""


class TuneReporter(keras.callbacks.Callback):
    """Report `epoch` plus every Keras log each epoch; checkpoint every k epochs, at the end, and
    whenever `metric` improves on the trial's best so far.

    The checkpoint holds the compiled model (optimizer state included) and the number of
    finished epochs, which is all a paused or failed trial needs to resume where it stopped;
    the best epoch always has one, so the best model of a run is never only a number.
    """

    def __init__(self, *, total_epochs: int, checkpoint_every: int = 1, metric: str | None = None,
                 mode: str = "max", measure: tuple[str, ...] = (), latency_batch: Any = None) -> None:
        super().__init__()
        if total_epochs < 1 or checkpoint_every < 1:
            raise ValueError(
                f"total_epochs and checkpoint_every must be >= 1; "
                f"got {total_epochs} and {checkpoint_every}"
            )
        self.total_epochs = total_epochs
        self.checkpoint_every = checkpoint_every
        self.metric, self.mode = metric, mode
        self._best: float | None = None
        self.measure, self.latency_batch = measure, latency_batch  # costs reported beside the logs (model_cost)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras passes the absolute 0-based epoch, counting from fit's initial_epoch.
        finished = epoch + 1
        metrics = {"epoch": finished, **{key: float(value) for key, value in (logs or {}).items()}}
        if not math.isfinite(metrics.get("loss", 0.0)):
            # Fail the trial, keeping the last good checkpoint, so Ray's retry policy applies
            # and the error names the epoch; a NaN model is never reported or checkpointed.
            raise NonFiniteLossError(f"loss became {metrics['loss']} at epoch {finished}")
        metrics.update(measured(self.model, self.measure, self.latency_batch))
        improved = self._improves(metrics.get(self.metric) if self.metric else None)
        if not improved and finished % self.checkpoint_every and finished != self.total_epochs:
            tune.report(metrics)
            return
        checkpoints.report(metrics, [self.model], {"epoch": finished})

    def _improves(self, value: float | None) -> bool:
        """Whether `value` beats the best so far (and becomes it); NaN never does."""
        if value is None or not math.isfinite(value):
            return False
        if not Objective(self.metric, self.mode).better(value, self._best):
            return False
        self._best = value
        return True
