"""Per-trial TensorFlow process settings, applied before the trial builds anything.

Ray reuses worker processes (`reuse_actors`), and TensorFlow fixes its thread pools and GPU
memory policy when its context first initialises, so every setting here tolerates a process
that an earlier trial with the same resources already initialised.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import sys
from collections.abc import Iterator

from tunelab.trainables.gpu_setup import TrialGpu, configure_gpus

logger = logging.getLogger(__name__)

REUSE_WAIT_S = 300  # longer than any epoch we expect; a hung thread still fails, just later

# Keras imports these whenever they are installed, for features no trial uses: its scikit-learn
# wrappers (keras.wrappers) and its image gallery plots (keras.visualization). Each guards the import
# and carries on without it. Together ~80 MB of every worker (scikit-learn pulls in SciPy's bulk).
KERAS_EXTRAS = ("sklearn", "matplotlib")


def configure_tensorflow(*, cpus: float, gpus: float) -> list[TrialGpu]:
    """Hide GPUs from CPU-only trials, size thread pools to `cpus`, set up the trial's GPUs (the list).

    Must run before the trial's first TensorFlow op; the GPU hiding only works before
    TensorFlow first lists devices (Ray no longer hides GPUs from `num_gpus=0` trials).
    """
    if gpus == 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    # A scheduler that stops or pauses a trial mid-epoch lets the epoch finish; Ray gives the
    # thread 2 s before it refuses to reuse this worker and fails the *next* trial on it.
    os.environ.setdefault("TUNE_FUNCTION_THREAD_TIMEOUT_S", str(REUSE_WAIT_S))
    with hidden_modules(KERAS_EXTRAS if "keras" not in sys.modules else ()):
        import keras  # noqa: F401  (TensorFlow imports it too; this makes sure it happens here)
        import tensorflow as tf

    threads = max(1, int(cpus))
    try:
        # Setting the value the context already has is a no-op; only a different value raises.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        logger.warning(
            "TensorFlow in this worker process already runs %d intra-op threads; "
            "the trial asked for %d",
            tf.config.threading.get_intra_op_parallelism_threads(),
            threads,
        )
    return configure_gpus(gpus)


@contextlib.contextmanager
def hidden_modules(names: tuple[str, ...]) -> Iterator[None]:
    """`import name` raises ImportError inside the block, for each of `names` not imported yet.

    A worker imports TensorFlow and Keras under it so that Keras skips its optional extras
    (KERAS_EXTRAS) instead of loading them into every worker. Afterwards the modules import as
    usual: a user's model function or a streamed source that needs scikit-learn still gets it;
    only Keras's own scikit-learn wrappers stay off in that worker, and no trial calls them.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # Python's marker for "refuse to import"
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def clear_session() -> None:
    """Forget the last trial's Keras state in a reused worker, unless the caller entered a strategy's scope.

    That scope lives on the graph clear_session resets (leaving it would then fail); a caller who
    trains under their own strategy owns the session.
    """
    import keras
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        keras.backend.clear_session()


def release_trial_memory() -> None:
    """Hands back what a finished trial left in its worker before Ray gives the worker the next trial.

    The trial's model, graph and (on a GPU) its tensors go with clear_session, so the GPU memory in use
    returns to where it was; cycles Keras leaves need a gc; and glibc keeps the heap pages TensorFlow
    freed (5-10 MB of a small CNN trial's) until malloc_trim returns them. None of this stops the
    ~1 MB a trial that oneDNN's kernels keep (docs/benchmarks.md, "A reused worker's memory").
    """
    clear_session()
    gc.collect()
    _malloc_trim()


def _malloc_trim() -> None:
    if not sys.platform.startswith("linux"):
        return
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; musl has none
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def released_custom_gradients() -> Iterator[None]:
    """Unregisters the all-reduce gradient functions TensorFlow registers while the block trains a model.

    Keras 3's TensorFlow optimizer sums gradients with `ReplicaContext.all_reduce`, which wraps
    them in `tf.custom_gradient`; traced in a graph, that registers a `CustomGradient-<uid>`
    function in TensorFlow's global gradient registry, which nothing ever removes and whose
    closure holds the traced train step, and so the model's graph. Without this a reused worker
    keeps every trial's graphs (+47% resident memory over 50 small CNN trials). Once the trial's
    model is gone nothing can ask for those gradients again. A user's own custom gradients stay:
    a `tf.function` cached across trials may still need its registration.
    """
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):  # a TensorFlow whose private registry moved: leave it be
        yield
        return
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if name.startswith("CustomGradient-") and _from_tf_distribute(registry[name]):
                del registry[name]


def _from_tf_distribute(entry: object) -> bool:
    """Whether a registered gradient wraps a grad_fn written in tensorflow/python/distribute.

    The registry holds {"type": internal_grad_fn, ...}; internal_grad_fn closes over tape_grad_fn,
    which closes over the grad_fn that `tf.custom_gradient` was given.
    """
    functions = [entry.get("type") if isinstance(entry, dict) else entry]
    for _ in range(3):
        cells = [cell for function in functions for cell in getattr(function, "__closure__", None) or ()]
        functions = [cell.cell_contents for cell in cells if callable(getattr(cell, "cell_contents", None))]
        files = [getattr(getattr(function, "__code__", None), "co_filename", "") for function in functions]
        if any(f"{os.sep}distribute{os.sep}" in file for file in files):
            return True
    return False
