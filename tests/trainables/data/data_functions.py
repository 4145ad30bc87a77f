"""Data functions as a user writes them (`data: tests.trainables.data.data_functions:NAME`): scikit-learn's digits
as arrays or as tf.data pipelines, and the mistakes a data function can make."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MARKER_FOLDER = "TUNELAB_TEST_DATA_MARKERS"  # when set, each call leaves a file named by its process id there


def _digits(count: int = 600) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    loaded = load_digits()
    return (loaded.images[:count] / 16.0).astype(np.float32), loaded.target[:count]


def _mark() -> None:
    folder = os.environ.get(MARKER_FOLDER)
    if folder:
        Path(folder, f"called-{os.getpid()}").touch()


def arrays():
    """Train, val and test arrays: (n, 8, 8) images (a channel axis is added) and labels 10..19, mapped to 0..9."""
    x, y = _digits()
    return (x[:400], y[:400] + 10), (x[400:500], y[400:500] + 10), (x[500:], y[500:] + 10)


def pipelines():
    """Unbatched tf.data pipelines of (8, 8, 1) images and int labels: train, val and test."""
    import tensorflow as tf

    _mark()
    x, y = _digits()
    x = x[..., np.newaxis]
    return tuple(tf.data.Dataset.from_tensor_slices((x[a:b], y[a:b])) for a, b in ((0, 400), (400, 500), (500, 600)))


def two_pipelines():
    return pipelines()[:2]


def batched():
    return tuple(part.batch(32) for part in pipelines())


def raises():
    raise ValueError("the data server is down")


def four_parts():
    return arrays() + arrays()[:1]


def mismatched():
    (x, y), (x_val, y_val), _ = arrays()
    return (x, y), (x_val[:, :7], y_val)


def mixed():
    import tensorflow as tf

    (x, y), (x_val, y_val), _ = arrays()
    return (x, y), tf.data.Dataset.from_tensor_slices((x_val, y_val))


def not_a_tuple():
    return {"train": arrays()[0]}


def one_label():
    x, y = _digits(100)
    return (x, np.zeros(100)), (x, np.zeros(100))


def nan_feature():
    """A NaN in one training example's pixels, as a failed normalisation leaves one."""
    (x, y), val, test = arrays()
    x = x.copy()
    x[7, 3, 4] = np.nan
    return (x, y), val, test


def unseen_validation_label():
    """A validation label (99) that no training example has."""
    (x, y), (x_val, y_val), _ = arrays()
    y_val = y_val.copy()
    y_val[0] = 99
    return (x, y), (x_val, y_val)


def pipeline_with_infinity():
    """Pipelines whose fifth training example holds an infinity: found only as a worker reads it."""
    import tensorflow as tf

    train, val, _ = pipelines()
    infinite = tf.data.Dataset.from_tensors((tf.fill((8, 8, 1), float("inf")), tf.constant(3, tf.int64)))
    return train.take(4).concatenate(infinite).concatenate(train.skip(4)), val
