"""What a model costs, reported beside its scores so a run can trade accuracy for size or speed.

`params` is the model's trainable parameter count, `latency_ms` its inference time per example on one
validation batch (the fastest of a few timed calls after a warm-up, in the trial's own process and
threads, so comparable within a run, not across machines). A trial measures them only when the
experiment names them in `metric:` or `constraints:` (the latency takes a few calls per epoch).
No Keras at import: the driver reads the names.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    import keras

MEASURES = ("params", "latency_ms")
"""The names these measurements are reported under."""
LATENCY_EXAMPLES = 256  # the most examples of the validation batch timed
_TIMED_CALLS = 3


def asked_measures(names: Iterable[str]) -> tuple[str, ...]:
    """The measurements among `names` (an experiment's metrics and constrained metrics), in MEASURES' order."""
    wanted = set(names)
    return tuple(name for name in MEASURES if name in wanted)


def trainable_params(model: keras.Model) -> int:
    """The number of weights training changes (frozen layers and batch-norm statistics left out)."""
    return int(sum(int(_size(weight.shape)) for weight in model.trainable_weights))


def latency_ms(model: keras.Model, batch: Any) -> float:
    """Milliseconds per example of one inference call on `batch`: the fastest of a few, after a warm-up."""
    model(batch, training=False)  # builds and warms the call
    fastest = float("inf")
    for _ in range(_TIMED_CALLS):
        start = time.perf_counter()
        model(batch, training=False)
        fastest = min(fastest, time.perf_counter() - start)
    return 1000.0 * fastest / max(len(batch), 1)


def measured(model: keras.Model, asked: Iterable[str], batch: Any) -> dict[str, float]:
    """The `asked` measurements of `model` as the trial reports them."""
    values = {}
    for name in asked:
        values[name] = float(trainable_params(model)) if name == "params" else latency_ms(model, batch)
    return values


def _size(shape: Iterable[int]) -> int:
    size = 1
    for dim in shape:
        size *= int(dim)
    return size
