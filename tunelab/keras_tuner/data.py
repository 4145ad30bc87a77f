"""What search() was given, made ready to travel to the trials' workers.

model.fit's data reaches every trial through Ray's object store, once (`tune.with_parameters`),
so it must pickle. NumPy arrays (and anything else that pickles: pandas frames, dicts of arrays)
travel as they are. A `keras.utils.PyDataset` travels as the object itself: each worker calls its
`__getitem__`, so one that reads files reads them there. A `tf.data.Dataset` cannot be pickled: it
is read whole on the driver, once, into NumPy arrays (`HeldDataset`), which travel instead and
become a tf.data.Dataset again in each worker, batched as the user batched it. That costs the whole
dataset in the driver's memory and once in the object store; `max_data_bytes` bounds it, and a
dataset that repeats forever is refused, naming the argument. A generator cannot travel at all.
"""
from __future__ import annotations

import inspect
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

SAMPLE_ROWS = 2  # examples evaluated on the driver to read the metric names (tunelab.keras_tuner.reported)


@dataclass(frozen=True)
class HeldDataset:
    """A batched tf.data.Dataset read into NumPy arrays on the driver; `to_dataset` rebuilds it in a worker."""

    arrays: Any = field(repr=False)
    """The dataset's element structure ((x, y), (x, y, sample_weight), dicts...) with one array per leaf."""
    examples: int
    batch_size: int
    """The size of the dataset's first batch: the user's batch size (or the whole dataset, if smaller)."""
    drop_remainder: bool
    """The dataset's batches all have a static size: `batch(n, drop_remainder=True)`."""
    reshuffle: bool
    """Its first batch differed when read twice (a `.shuffle()`): the rebuilt one reshuffles every epoch."""

    @property
    def nbytes(self) -> int:
        return sum(leaf.nbytes for leaf in _leaves(self.arrays))

    def to_dataset(self, seed: int) -> tf.data.Dataset:
        """The same batches as the user's dataset gave (reshuffled each epoch if it was), from memory.

        Shuffles indices, not examples, so the shuffle buffer holds one int64 per example.
        """
        import tensorflow as tf

        tensors = tf.nest.map_structure(tf.convert_to_tensor, self.arrays)
        indices = tf.data.Dataset.range(self.examples)
        if self.reshuffle:
            indices = indices.shuffle(self.examples, seed=seed, reshuffle_each_iteration=True)
        batches = indices.batch(self.batch_size, drop_remainder=self.drop_remainder)
        gathered = batches.map(lambda index: tf.nest.map_structure(lambda tensor: tf.gather(tensor, index), tensors))
        return gathered.prefetch(tf.data.AUTOTUNE)

    def head(self, rows: int) -> Any:
        return _head(self.arrays, rows)

    def describe(self) -> str:
        order = ", reshuffled each epoch" if self.reshuffle else ""
        return (f"tf.data.Dataset read whole: {self.examples} examples ({_size(self.nbytes)}) "
                f"in batches of {self.batch_size}{order}")


@dataclass(frozen=True)
class FitData:
    """What `search()` was given besides epochs and callbacks: model.fit's data and options, ready to travel."""

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def in_worker(self, seed: int) -> FitData:
        """The arguments for fit in a trial: each HeldDataset a tf.data.Dataset again."""
        def rebuilt(value: Any) -> Any:
            return value.to_dataset(seed) if isinstance(value, HeldDataset) else value

        return FitData(tuple(map(rebuilt, self.args)), {key: rebuilt(value) for key, value in self.kwargs.items()})

    @property
    def has_validation(self) -> bool:
        """Whether fit will report `val_` metrics."""
        return self.kwargs.get("validation_data") is not None or bool(self.kwargs.get("validation_split"))

    def sample(self, rows: int = SAMPLE_ROWS) -> tuple | None:
        """A few training examples as (x, y) or (x, y, sample_weight), for model.evaluate; None if not found."""
        x = self.args[0] if self.args else self.kwargs.get("x")
        if isinstance(x, HeldDataset):
            element = x.head(rows)
            return tuple(element) if isinstance(element, tuple) else (element, None)
        if _is_py_dataset(x):
            batch = x[0]
            return tuple(_head(part, rows) for part in batch) if isinstance(batch, tuple) else (_head(batch, rows),)
        y = self.args[1] if len(self.args) > 1 else self.kwargs.get("y")
        if x is None:
            return None
        return _head(x, rows), None if y is None else _head(y, rows)

    def describe(self) -> str:
        """One line for the run's record: the form each argument took."""
        parts = [f"{_label(position)}: {_describe(value)}" for position, value in enumerate(self.args)]
        parts += [f"{key}: {_describe(value)}" for key, value in self.kwargs.items()
                  if key in ("x", "y", "validation_data")]
        return "search() arguments: " + "; ".join(parts) if parts else "search() arguments"


def prepare_fit_data(args: tuple, kwargs: Mapping[str, Any], *, max_bytes: int) -> FitData:
    """search()'s data in a form that pickles, or a ValueError naming the argument that cannot travel.

    Each tf.data.Dataset is read whole here (`max_bytes` in all); a PyDataset is checked to pickle.
    """
    budget = _Budget(max_bytes)

    def prepared(label: str, value: Any) -> Any:
        if inspect.isgenerator(value):
            raise ValueError(f"search({label}=...): a generator cannot be sent to Ray's workers; wrap it in a "
                             "keras.utils.PyDataset, whose __getitem__ runs in each worker")
        if _is_tf_dataset(value):
            return _read_whole(label, value, budget)
        if _is_py_dataset(value):
            _check_pickles(label, value)
        return value

    x = args[0] if args else kwargs.get("x")
    if kwargs.get("validation_split") and (_is_tf_dataset(x) or _is_py_dataset(x)):
        raise ValueError(f"search(validation_split={kwargs['validation_split']!r}): validation_split needs arrays "
                         "for x, as in Keras; with a dataset, pass validation_data= instead")
    return FitData(tuple(prepared(_label(position), value) for position, value in enumerate(args)),
                   {key: prepared(key, value) for key, value in kwargs.items()})


# --- reading a tf.data.Dataset ------------------------------------------------------------------


@dataclass
class _Budget:
    """The bytes every dataset of one search() may still take (`max_data_bytes` in all)."""

    limit: int
    used: int = 0


def _read_whole(label: str, dataset: tf.data.Dataset, budget: _Budget) -> HeldDataset:
    import tensorflow as tf

    where = f"search({label}=...): the tf.data.Dataset"
    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(f"{where} repeats forever (.repeat() without a count); tunelab reads a dataset whole, "
                         "once, on the driver: drop .repeat() or end it with .take(n)")
    specs = tf.nest.flatten(dataset.element_spec)
    odd = next((spec for spec in specs if not isinstance(spec, tf.TensorSpec)), None)
    if odd is not None:
        raise ValueError(f"{where} holds a {type(odd).__name__}; tunelab can hold only dense tensors as arrays: "
                         "pad or densify it in the pipeline, or pass a keras.utils.PyDataset")
    if any(spec.shape.rank == 0 for spec in specs):
        raise ValueError(f"{where} yields single examples (a part of its element is a scalar); "
                         "batch it, as model.fit needs: dataset.batch(32)")
    try:
        columns = _read_batches(where, dataset, len(specs), budget)
        again = tf.nest.flatten(next(dataset.as_numpy_iterator(), None))
    except tf.errors.OpError as error:  # the user's pipeline failed: say which argument it was
        raise ValueError(f"{where} failed while tunelab read it: {error.message.splitlines()[0]}") from None
    if not columns[0]:
        raise ValueError(f"{where} is empty")
    try:
        arrays = [np.concatenate(column) for column in columns]
    except ValueError:  # NumPy's own message names only the axis
        raise ValueError(f"{where} yields batches whose shapes differ beyond the batch size (padded_batch pads "
                         "each batch to its own longest); tunelab holds each part of a dataset as one array: "
                         "give padded_batch fixed padded_shapes, or pass a keras.utils.PyDataset") from None
    first = [column[0] for column in columns]
    return HeldDataset(
        arrays=tf.nest.pack_sequence_as(dataset.element_spec, arrays),
        examples=len(arrays[0]),
        batch_size=len(first[0]),
        drop_remainder=all(spec.shape.rank is not None and spec.shape[0] is not None for spec in specs),
        reshuffle=not _same(first, again),
    )


def _read_batches(where: str, dataset: tf.data.Dataset, parts: int, budget: _Budget) -> list[list[np.ndarray]]:
    """Each part of the element (x, y, ...) as its list of batches, within the budget."""
    import tensorflow as tf

    columns: list[list[np.ndarray]] = [[] for _ in range(parts)]
    for batch in dataset.as_numpy_iterator():
        leaves = tf.nest.flatten(batch)
        sizes = {len(leaf) for leaf in leaves}
        if len(sizes) > 1:
            raise ValueError(f"{where} yields elements whose parts differ in length ({sorted(sizes)}); "
                             "batch it, as model.fit needs: dataset.batch(32)")
        budget.used += sum(leaf.nbytes for leaf in leaves)
        if budget.used > budget.limit:
            raise ValueError(f"{where} is larger than max_data_bytes={budget.limit} (the datasets given to "
                             "search() in all); tunelab reads a dataset whole into memory on the driver: raise "
                             "the tuner's max_data_bytes, pass a keras.utils.PyDataset that loads its batches in "
                             "the worker, or build the pipeline inside HyperModel.fit")
        for column, leaf in zip(columns, leaves):
            column.append(leaf)
    return columns


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


# --- PyDataset, and the rest ---------------------------------------------------------------------


class _Discard(io.RawIOBase):
    """A file that keeps nothing: pickling into it checks that a value pickles without holding a copy."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return memoryview(data).nbytes


def _check_pickles(label: str, value: Any) -> None:
    from ray import cloudpickle

    try:
        cloudpickle.dump(value, _Discard())
    except Exception as error:  # whatever the user's object holds that cannot pickle
        raise ValueError(f"search({label}=...): the {type(value).__name__} cannot be pickled to go to Ray's "
                         f"workers ({type(error).__name__}: {error}); keep file paths or arrays in it, and open "
                         "files or build pipelines inside __getitem__") from None


def _is_tf_dataset(value: Any) -> bool:
    if not type(value).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(value, tf.data.Dataset)


def _is_py_dataset(value: Any) -> bool:
    if value is None or isinstance(value, (np.ndarray, list, tuple, dict, str, int, float)):
        return False
    import keras

    return isinstance(value, keras.utils.PyDataset)


def _label(position: int) -> str:
    """A positional argument of search() by model.fit's name for it."""
    return ("x", "y")[position] if position < 2 else f"argument {position + 1}"


def _describe(value: Any) -> str:
    if isinstance(value, HeldDataset):
        return value.describe()
    if isinstance(value, np.ndarray):
        return f"array {value.shape} {value.dtype}"
    return type(value).__name__


def _size(nbytes: int) -> str:
    return f"{nbytes / 1024**2:.1f} MiB" if nbytes >= 1024**2 / 10 else f"{nbytes / 1024:.1f} KiB"


def _leaves(structure: Any) -> list[Any]:
    if isinstance(structure, Mapping):
        return [leaf for value in structure.values() for leaf in _leaves(value)]
    if isinstance(structure, (list, tuple)):
        return [leaf for value in structure for leaf in _leaves(value)]
    return [structure]


def _head(structure: Any, rows: int) -> Any:
    """The first `rows` examples of an array, or of each array in a dict, list or tuple of them."""
    if isinstance(structure, Mapping):
        return {key: _head(value, rows) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_head(value, rows) for value in structure)
    return structure[:rows]

