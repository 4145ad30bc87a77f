"""`data: package.module:function` or `data: file.py:function`: the user's own function returns the data, and each
worker calls it itself.

    def load():                                   # called with no arguments
        return (x_train, y_train), (x_val, y_val)  # a third part, (x_test, y_test), is the test part

Each part is an (x, y) pair of numpy arrays or a tf.data.Dataset of unbatched (x, y) elements, every part of one
kind. Only the function's name travels to the trials, never its data through Ray's object store: a worker calls it on
its first trial and keeps the examples for the trials it runs next (streaming), so a pipeline that reads files reads
them where it trains, and tunelab batches, shuffles, caches and prefetches as for any streamed source.

The driver calls it once before Ray starts, for the example shape and the classes. Array labels of any kind are mapped
to 0..k-1, as every in-memory source's are; a pipeline's labels must be the class indices 0..k-1 already, and the
driver reads them all once unless `num_classes:` says how many there are. A `file.py` is found next to the
experiment file (made absolute when the experiment is read; against the current folder for `--set` and the Python
API); a module as `python -m` finds it from the folder you launch in, which Ray's workers have on their path too.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shorter, shown
from tunelab.core.user_code import import_file, import_module, raised_line
from tunelab.trainables.data.base import (
    DataError, Examples, FileForm, StreamedData, as_features, check_flag, check_seen_in_training, encode_labels,
    example_shape,
)
from tunelab.trainables.data.finite import NOT_FINITE, check_finite
from tunelab.trainables.data.streaming import count

if TYPE_CHECKING:
    import tensorflow as tf

PARTS = ("train", "val", "test")
FILE_SUFFIX = ".py"


@dataclass(frozen=True)
class DataFunction(StreamedData):
    """The user's data function as a worker calls it: its reference, and what the driver read of its data."""

    reference: str      # package.module:function, or /absolute/file.py:function
    classes: tuple[Any, ...] | None  # the arrays' distinct labels, sorted (a label's index is its class); None: tf.data
    parts: int          # 3: the function returns a test part
    cache: bool

    def read(self) -> tuple[Examples, Examples]:
        parts = self._parts()
        return self._examples(parts[0], "train"), self._examples(parts[1], "val")

    @property
    def has_test(self) -> bool:
        return self.parts == 3

    def read_test(self) -> Examples:
        return self._examples(self._parts()[2], "test") if self.has_test else super().read_test()

    def _parts(self) -> Sequence[Any]:
        parts = called(self.reference)
        if len(parts) != self.parts:
            raise DataError(f"data: {self.reference} returned {len(parts)} parts here, {self.parts} to the driver")
        return parts

    def _examples(self, part: Any, name: str) -> Examples:
        import tensorflow as tf

        if _is_pipeline(part):
            return self._pipeline_examples(part, name)
        x, y = _arrays(self.reference, part, name)
        if example_shape(x) != self.input_shape:
            raise DataError(f"data: {self.reference} returned {name} examples of shape {example_shape(x)} here, "
                            f"{self.input_shape} to the driver")
        features, codes = tf.constant(as_features(x)), tf.constant(self._codes(y, name))

        def load(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return tf.gather(features, batch), tf.gather(codes, batch)

        return Examples(tf.data.Dataset.range(len(x)), len(x), load)  # by index: each epoch shuffles the whole part

    def _codes(self, labels: np.ndarray, part: str) -> np.ndarray:
        """Each label's class index: its place among the labels the driver found (the one label mapping)."""
        classes = np.asarray(self.classes)
        codes = np.minimum(np.searchsorted(classes, labels), len(classes) - 1)
        unseen = labels[classes[codes] != labels]
        if unseen.size:
            raise DataError(f"data: {self.reference} returned {part} label {shown(unseen[0].item())} here, which "
                            "the driver's call did not return")
        return codes.astype(np.int64)

    def _pipeline_examples(self, part: tf.data.Dataset, name: str) -> Examples:
        import tensorflow as tf

        shape = _pipeline_shape(self.reference, part, name)
        if shape != self.input_shape:
            raise DataError(f"data: {self.reference} returned {name} examples of shape {shape} here, "
                            f"{self.input_shape} to the driver")
        outside = f"data: {self.reference}: a {name} label is outside 0 to {self.num_classes - 1} (num_classes)"
        not_finite = f"data: {self.reference}: a {name} example holds {NOT_FINITE}"

        def cast(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            label = tf.cast(tf.reshape(y, []), tf.int64)
            with tf.control_dependencies([
                tf.debugging.assert_non_negative(label, message=outside),
                tf.debugging.assert_less(label, tf.constant(self.num_classes, tf.int64), message=outside),
            ]):
                features = tf.debugging.check_numerics(tf.cast(x, tf.float32), not_finite)
                return tf.reshape(features, self.input_shape), tf.identity(label)

        examples = part.map(cast, num_parallel_calls=tf.data.AUTOTUNE)
        examples = examples.cache() if self.cache else examples
        size = count(examples)
        if size == 0:
            raise DataError(f"data: {self.reference} returned an empty {name} part")
        return Examples(examples, size)


def is_function_reference(source: str) -> bool:
    """`package.module:function` or `path/file.py:function`, by its form alone."""
    where, sep, function = source.rpartition(":")
    if not sep or not function.isidentifier():
        return False
    return where.endswith(FILE_SUFFIX) or all(part.isidentifier() for part in where.split("."))


def absolute_reference(data: Any, folder: Path) -> Any:
    """The `data:` value (a source, or a mapping with one) with a relative `file.py:function` made absolute against
    `folder`, so that workers, which do not start where you launch, and a later `Results.data()` find the file."""
    source = data.get("source") if isinstance(data, Mapping) else data
    if not isinstance(source, str) or not is_function_reference(source):
        return data
    where, _, function = source.rpartition(":")
    if not where.endswith(FILE_SUFFIX):
        return data
    absolute = f"{os.path.abspath(os.path.join(folder, os.path.expanduser(where)))}:{function}"
    return {**data, "source": absolute} if isinstance(data, Mapping) else absolute


def called(reference: str) -> Sequence[Any]:
    """The parts the function returns, (train, val) or (train, val, test); DataError naming it for anything else."""
    function = _function(reference)
    try:
        returned = function()
    except (Exception, SystemExit) as error:
        raise DataError(f"data: {reference} raised {raised_line(error)}") from None
    if not isinstance(returned, (tuple, list)):
        raise DataError(f"data: {reference} returned {type(returned).__name__}; expected (train, val) or "
                        "(train, val, test)")
    if len(returned) not in (2, 3):
        raise DataError(f"data: {reference} returned a {len(returned)}-tuple; expected (train, val) or "
                        "(train, val, test)")
    return returned


def _function(reference: str) -> Callable[[], Any]:
    where, _, name = reference.rpartition(":")
    if where.endswith(FILE_SUFFIX):
        if not Path(where).is_file():
            raise DataError(f"data: {reference}: no such file")
        module = import_file(Path(where), "data", DataError)
    else:
        module = import_module(where, "data", DataError)
    function = getattr(module, name, None)
    if not callable(function):
        names = [key for key, value in vars(module).items() if callable(value) and not key.startswith("_")]
        raise DataError(f"data: {where} has no function {name!r}{did_you_mean(name, names)}")
    return function


def _is_pipeline(part: Any) -> bool:
    """A tf.data.Dataset: TensorFlow is imported whenever one exists, so arrays never import it."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(part, tf.data.Dataset)


def _arrays(reference: str, part: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) arrays of a part, checked: numeric examples of one to three axes, one label each, not empty."""
    if not isinstance(part, (tuple, list)) or len(part) != 2:
        raise DataError(f"data: {reference} returned a {name} part of {shorter(type(part).__name__)}; expected an "
                        "(x, y) pair of arrays or a tf.data.Dataset of (x, y) elements")
    x, y = np.asarray(part[0]), np.asarray(part[1])
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3, 4):
        raise DataError(f"data: {reference} returned {name} x of shape {x.shape} and dtype {x.dtype}; expected "
                        "numbers of shape (n, features), (n, h, w) or (n, h, w, c)")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"data: {reference} returned {name} y of shape {y.shape}; expected one label per example "
                        f"of x ({len(x)})")
    if not len(x):
        raise DataError(f"data: {reference} returned an empty {name} part")
    return x, y


def _pipeline_shape(reference: str, part: tf.data.Dataset, name: str) -> tuple[int, ...]:
    """One example's shape, from the pipeline's element spec: unbatched (x, y) with a fixed x shape and an integer y."""
    import tensorflow as tf

    spec = part.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec)):
        raise DataError(f"data: {reference} returned a {name} tf.data.Dataset of {shorter(str(spec))}; expected "
                        "(x, y) elements")
    x, y = spec
    batched = " (batched? give it unbatched: tunelab batches with the trial's batch_size)"
    numbers = x.dtype.is_floating or x.dtype.is_integer
    if x.shape.rank not in (1, 2, 3) or not x.shape.is_fully_defined() or not numbers:
        hint = batched if x.shape.rank and x.shape[0] is None else ""
        raise DataError(f"data: {reference} returned {name} elements whose x is {x.dtype.name} of shape "
                        f"{x.shape.as_list() if x.shape.rank is not None else None}; expected numbers of a fixed "
                        f"shape (features), (h, w) or (h, w, c){hint}")
    if y.shape.as_list() not in ([], [1]) or not y.dtype.is_integer:
        raise DataError(f"data: {reference} returned {name} elements whose y is {y.dtype.name} of shape "
                        f"{y.shape.as_list() if y.shape.rank is not None else None}; expected one class index, an "
                        f"integer{batched if y.shape.rank == 1 else ''}")
    dims = tuple(x.shape.as_list())
    return (*dims, 1) if len(dims) == 2 else dims


def load_data_function(name: str, reference: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
                       test_fraction: float) -> DataFunction:
    """The function's description, from one call on the driver: parts, example shape and classes checked.

    `validation_fraction` and `seed` are not used: the function returns its own parts, and trials shuffle with theirs.
    """
    reference = absolute_reference(reference, Path.cwd())
    parts = called(reference)
    if test_fraction:
        fix = "leave test_fraction out: its third part is the test part" if len(parts) == 3 else (
            "return (train, val, test) for a test part")
        raise DataError(f"test_fraction: {reference} returns its own parts; {fix}")
    pipelines = [_is_pipeline(part) for part in parts]
    if len(set(pipelines)) > 1:
        raise DataError(f"data: {reference} returned a tf.data.Dataset for {PARTS[pipelines.index(True)]} and arrays "
                        f"for {PARTS[pipelines.index(False)]}; return one kind for every part")
    if pipelines[0]:
        shapes = [_pipeline_shape(reference, part, PARTS[i]) for i, part in enumerate(parts)]
    else:
        arrays = [_arrays(reference, part, PARTS[i]) for i, part in enumerate(parts)]
        shapes = [example_shape(x) for x, _ in arrays]
        for part, (x, y) in zip(PARTS, arrays):
            check_finite(f"data: {reference}", f"{part} x", x)
            check_finite(f"data: {reference}", f"{part} y", y)
    for part, shape in zip(PARTS[1:], shapes[1:]):
        if shape != shapes[0]:
            raise DataError(f"data: {reference} returned train examples of shape {shapes[0]} but {part} examples of "
                            f"shape {shape}")
    if pipelines[0]:
        classes, num_classes = None, options["num_classes"] or _pipeline_classes(reference, parts)
    else:
        found, codes = encode_labels(f"data: {reference}", np.concatenate([y for _, y in arrays]))
        codes_of = np.split(codes, np.cumsum([len(y) for _, y in arrays])[:-1])
        for part, part_codes in zip(PARTS[1:], codes_of[1:]):
            check_seen_in_training(f"data: {reference}", found, codes_of[0], part_codes, f"its {part} part")
        classes, num_classes = tuple(found.tolist()), len(found)
        if options["num_classes"] not in (None, num_classes):
            raise DataError(f"data.num_classes: {options['num_classes']}, but {reference} returns labels of "
                            f"{num_classes} classes")
    return DataFunction(name=reference, input_shape=shapes[0], num_classes=num_classes, reference=reference,
                        classes=classes, parts=len(parts), cache=options["cache"])


def _pipeline_classes(reference: str, parts: Sequence[tf.data.Dataset]) -> int:
    """The class count of pipelines whose labels are class indices: every label read once, 0..k-1 each present."""
    import tensorflow as tf

    found: dict[str, set[int]] = {}
    for name, part in zip(PARTS, parts):
        found[name] = set()
        try:
            for labels in part.map(lambda x, y: tf.reshape(y, [])).batch(65_536).as_numpy_iterator():
                found[name].update(np.unique(labels).tolist())
        except tf.errors.OpError as error:
            raise DataError(f"data: {reference}: reading its {name} part raised {type(error).__name__}: "
                            f"{shorter(error.message.splitlines()[0] if error.message else '')}") from None
        unseen = sorted(found[name] - found[PARTS[0]])
        if unseen:
            raise DataError(f"data: {reference}: its {name} part holds label {shorter(str(unseen)[1:-1])}, which the "
                            "training labels never hold; a model cannot learn a class it never trains on")
    labels = sorted(set().union(*found.values()))
    if len(labels) < 2 or labels != list(range(len(labels))):
        raise DataError(f"data: {reference} returned labels {shorter(str(labels))}; a tf.data pipeline's labels are "
                        "class indices 0 to k-1, at least 2 classes (with a class absent, give num_classes:)")
    return len(labels)


def _options(given: Mapping[str, Any]) -> dict[str, Any]:
    num_classes = given.get("num_classes")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or num_classes < 2):
        raise DataError(f"data.num_classes: expected an integer >= 2 (labels are 0 to num_classes - 1), got "
                        f"{shown(num_classes)}")
    return {"num_classes": num_classes, "cache": check_flag("cache", given, True)}


DATA_FUNCTION = FileForm(load_data_function, ("num_classes", "cache"), _options)
