"""Data sets each Ray worker reads itself, so the driver never loads them and they never enter the object store.

The driver reads only what it checks and plans with (an example's shape, the class count) and
hands the trials a small, hashable description of the source. A worker process builds the
description's tf.data examples on its first trial and keeps them for the trials it runs next
(Ray reuses actors), so files are listed, decoded and cached once per worker, not once per trial;
only the shuffle, batching and prefetch, which depend on the trial's batch size, are per trial.

The driver lists and opens a URI's files (`gs://`) through TensorFlow's file system, as the workers
do, and a local path's through Python's own; it runs no TensorFlow op, so it takes no GPU memory.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Mapping

from tunelab.core.errors import shown
from tunelab.core.run_folder import is_uri
from tunelab.trainables.data.base import DataError, Examples, StreamedData

if TYPE_CHECKING:
    import tensorflow as tf

SHUFFLE_BUFFER = 10_000  # examples a shuffle holds: a larger buffer copies much of a large cached part again
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}  # Keras' names for images of 1, 3 and 4 channels


_BUILT: dict[StreamedData, tuple[Examples, Examples]] = {}  # this worker's examples, of one data set at most


def streamed_batches(data: StreamedData, batch_size: int, seed: int
                     ) -> tuple[tf.data.Dataset, tf.data.Dataset, int]:
    """A trial's train batches (shuffled with `seed`), its validation batches, and its steps per epoch; labels
    one-hot for classification, float32 (batch, targets) numbers for regression."""
    if data not in _BUILT:
        _BUILT.clear()  # a worker moving on to another data set lets the last one's cache go first
        _BUILT[data] = data.read()
    train, validation = _BUILT[data]
    return (_batches(train, data, batch_size, seed),
            _batches(validation, data, batch_size, None), math.ceil(train.size / batch_size))


def held_out_batches(data: StreamedData, batch_size: int) -> tf.data.Dataset:
    """The test part's batches, labels one-hot, in order: read by the one task that scores the best model on it."""
    return _batches(data.read_test(), data, batch_size, None)


@dataclass(frozen=True)
class StreamedSplit:
    """A streamed source's parts as a worker reads them, to look at: unbatched (x float32, label int64) pipelines."""

    name: str
    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset | None
    sizes: Mapping[str, int]  # examples in each part: "train", "val" and, with a test part, "test"
    num_classes: int
    input_shape: tuple[int, ...]


def read_split(data: StreamedData) -> StreamedSplit:
    """The parts of `data` as the trials read them (and the test part as the best model is scored on it)."""
    parts = dict(zip(("train", "val"), data.read()))
    if data.has_test:
        parts["test"] = data.read_test()
    return StreamedSplit(data.name, *(_pairs(parts[key]) if key in parts else None for key in ("train", "val", "test")),
                         {key: part.size for key, part in parts.items()}, data.num_classes, data.input_shape)


def _pairs(part: Examples) -> tf.data.Dataset:
    """A part's (x, label) pairs, one by one: a part read by index is loaded in batches, then unbatched."""
    return part.dataset if part.load is None else part.dataset.batch(1024).map(part.load).unbatch()


def _batches(part: Examples, data: StreamedData, batch_size: int, seed: int | None) -> tf.data.Dataset:
    import tensorflow as tf

    if data.task == "classification":
        def labelled(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return x, tf.one_hot(y, data.num_classes)
    else:
        def labelled(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return x, tf.reshape(tf.cast(y, tf.float32), (-1, data.num_outputs))

    dataset = part.dataset
    if seed is not None:
        buffer = part.size if part.load else min(part.size, SHUFFLE_BUFFER)
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if part.load is not None:
        dataset = dataset.map(part.load, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.map(labelled).prefetch(tf.data.AUTOTUNE)


def count(dataset: tf.data.Dataset) -> int:
    """The elements of `dataset`, without a pass when tf.data knows; a pass over a cached one fills its cache."""
    import numpy as np

    known = int(dataset.cardinality())
    return known if known >= 0 else int(dataset.reduce(np.int64(0), lambda n, _: n + 1))


def location(name: str, path: str) -> str:
    """`path` as every worker reads it: a URI as given, `~` expanded; a relative path is refused."""
    if is_uri(path):
        return path
    if not path.startswith("~") and not os.path.isabs(path):
        raise DataError(
            f"data: {shown(name)} is relative, which would depend on where each worker starts; use an absolute "
            "path, ~/..., or a URI such as gs://bucket/data"
        )
    return os.path.expanduser(path)


class _LocalFiles:
    """The calls of `tf.io.gfile` the driver makes, on Python's own file system: no TensorFlow for a local path."""

    exists = staticmethod(os.path.exists)
    isdir = staticmethod(os.path.isdir)
    listdir = staticmethod(os.listdir)
    walk = staticmethod(os.walk)
    GFile = staticmethod(open)


def file_system(path: str) -> Any:
    """`tf.io.gfile` for a URI, which only TensorFlow reads; the same calls on Python's for a local path."""
    if is_uri(path):
        import tensorflow as tf

        return tf.io.gfile
    return _LocalFiles


def positive_ints(key: str, value: Any, lengths: tuple[int, ...], what: str) -> tuple[int, ...]:
    """A list of `lengths` positive integers (`data.image_size`), as a tuple."""
    if (not isinstance(value, (list, tuple)) or len(value) not in lengths
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise DataError(f"data.{key}: expected {what}, got {shown(value)}")
    return tuple(value)


def image_header(stream: BinaryIO) -> tuple[int, int, int]:
    """Height, width and channels of the encoded image in `stream`, from its header alone (PIL reads lazily)."""
    from PIL import Image

    with Image.open(stream) as image:
        width, height = image.size
        mode, transparent = image.mode, "transparency" in image.info
    if mode in ("1", "L", "I", "I;16", "F"):
        return height, width, 1
    return height, width, 4 if "A" in mode or (mode == "P" and transparent) else 3
