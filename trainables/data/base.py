"""What every data source is made of: the Dataset a trial fits on (or the StreamedData description a
worker reads itself), the DataError naming what is wrong, the `FORM:PATH` file form, and the checks
and splits the sources share."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from tunelab.core.errors import InputError, shown

if TYPE_CHECKING:
    import tensorflow as tf


LABEL_COLUMN = "label"
MANY_VALUES = 20  # more distinct labels than this, and not whole numbers: a number to predict, not classes


# Key layouts an .npz file may use, in (examples, labels) pairs: the explicit split wins when a file has both, and
# `x_test`, `y_test` are its own test part.
NPZ_LAYOUTS = (
    ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"),
    ("x_train", "y_train", "x_val", "y_val"),
    ("x", "y", "x_test", "y_test"),
    ("x", "y"),
)
NPZ_KEYS = "x and y, or x_train, y_train, x_val and y_val (either with x_test and y_test)"


class DataError(InputError):
    """A data set name, file or option that cannot be turned into a Dataset."""


@dataclass(frozen=True)
class Dataset:
    """Train/validation arrays a trial fits on; pickled once into Ray's object store."""

    name: str
    x_train: np.ndarray
    """float32; images as (n, height, width, channels), tabular data as (n, features)."""
    y_train: np.ndarray
    """int64 class indices 0..num_classes-1; for regression float32 targets, (n,) or (n, targets)."""
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int
    """0 for regression."""
    x_test: np.ndarray | None = None
    """The held-out test part (`test_fraction`, or the source's own); None when there is none. Trials never get it."""
    y_test: np.ndarray | None = None
    task: str = "classification"
    """classification or regression."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, as a model's Input layer wants it."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_outputs(self) -> int:
        """The model's outputs: one per class, or one per regression target."""
        if self.task == "classification":
            return self.num_classes
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])


@dataclass(frozen=True)
class Examples:
    """One part (train or validation) of a streamed data set in a worker: unbatched, built once."""

    dataset: tf.data.Dataset
    """(x float32, label int64) pairs, a regression target's number as the label; indices of examples when
    `load` is set."""
    size: int
    load: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None
    """A batch of indices -> its (x, label) batch: random access, so the whole part is shuffled each epoch."""


@dataclass(frozen=True)
class StreamedData(ABC):
    """What a trial needs to read a data set itself; hashable, as a worker keeps its examples by it."""

    name: str                   # the source as the experiment gives it
    input_shape: tuple[int, ...]
    num_classes: int            # 0 for regression
    task: str = field(default="classification", kw_only=True)
    targets: int = field(default=1, kw_only=True)  # regression targets per example

    @property
    def num_outputs(self) -> int:
        """The model's outputs: one per class, or one per regression target."""
        return self.num_classes if self.task == "classification" else self.targets

    @abstractmethod
    def read(self) -> tuple[Examples, Examples]:
        """The train and validation examples; runs in a worker, on its first trial of this data."""

    @property
    def has_test(self) -> bool:
        """Whether the source has a test part, which `read_test` reads."""
        return False

    def read_test(self) -> Examples:
        """The test examples; runs in the one task that scores the best model on them, never in a trial."""
        raise DataError(f"{self.name}: has no test part")

    def locate(self, error: Exception) -> str | None:
        """Where in the source a worker's read failed with `error` (a file, a record, a row), found by reading the
        source again, as one line; None where the source cannot tell. Runs only after a read failed."""
        return None


@dataclass(frozen=True)
class FileForm:
    """A `FORM:PATH` source: its loader, the options a `data:` mapping may give it, and their check."""

    load: Callable[[str, str, Mapping[str, Any], float, int, float], Dataset | StreamedData]
    """(source, path as written, checked options, validation_fraction, seed, test_fraction) -> the data or its
    description."""
    options: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], dict[str, Any]] = dict
    """The options as given -> checked, defaults filled in; raises DataError naming `data.KEY`."""
    regression: Callable[[str, str, Mapping[str, Any], float, int], Dataset | StreamedData] | None = None
    """As `load`, for `task: regression`: targets read as numbers. None: the form holds classes only."""


def check_flag(key: str, options: Mapping[str, Any], default: bool = False) -> bool:
    """A true/false option (`data.cache`): a string or a number is refused, not read as a truth value."""
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise DataError(f"data.{key}: must be true or false, got {shown(value)}")
    return value


def check_npz_arrays(name: str, arrays: Mapping[str, np.ndarray]) -> None:
    """The arrays of one NPZ_LAYOUTS entry, in its order: numeric examples, one label per example, one
    example shape for both parts."""
    keys = tuple(arrays)
    for x_key, y_key in zip(keys[::2], keys[1::2]):
        _check_features(name, x_key, arrays[x_key], arrays[y_key], y_key)
    first = keys[0]
    for other in keys[2::2]:
        if arrays[first].shape[1:] != arrays[other].shape[1:]:
            raise DataError(f"{name}: {first} examples have shape {arrays[first].shape[1:]} "
                            f"but {other} examples have shape {arrays[other].shape[1:]}")


@dataclass(frozen=True)
class Part:
    """One part of an .npz: the array holding its examples, its rows of that array, and their class indices."""

    key: str
    rows: np.ndarray
    codes: np.ndarray


def npz_parts(name: str, arrays: Mapping[str, np.ndarray], validation_fraction: float, seed: int,
              test_fraction: float) -> tuple[Part, Part, Part | None, int]:
    """The train, validation and test (None: none) parts of the arrays of one NPZ_LAYOUTS entry, and the class
    count: the same rows whether the arrays are in memory or memory-mapped. `x` and `y` are split (`split_indices`);
    a file split already keeps its split, and `test_fraction` holds its test part out of `x_train`."""
    check_npz_arrays(name, arrays)
    label_keys = tuple(arrays)[1::2]
    classes, codes = encode_labels(name, np.concatenate([np.asarray(arrays[key]) for key in label_keys]))
    labels = dict(zip(label_keys, np.split(codes, np.cumsum([len(arrays[key]) for key in label_keys])[:-1])))
    trained_on = "y" if "y" in labels else "y_train"
    for key in ("y_val", "y_test"):
        if key in labels:
            check_seen_in_training(name, classes, labels[trained_on], labels[key], key)
    if "y_test" in labels and test_fraction:
        raise DataError(f"test_fraction: {name} has its own test part (x_test, y_test); leave test_fraction out")
    pooled = "y" in labels  # x and y, split here; or x_train, ..., y_val, split already
    key, own = ("x", labels["y"]) if pooled else ("x_train", labels["y_train"])
    if pooled:
        train, val, test = split_indices(name, own, classes, validation_fraction, seed, test_fraction)
        parts = [Part(key, train, own[train]), Part(key, val, own[val])]
    else:
        train, test = hold_out_test(name, own, test_fraction, seed, classes)
        parts = [Part(key, train, own[train]), Part("x_val", np.arange(len(labels["y_val"])), labels["y_val"])]
    if test_fraction:
        parts.append(Part(key, test, own[test]))
    if "y_test" in labels:
        parts.append(Part("x_test", np.arange(len(labels["y_test"])), labels["y_test"]))
    return parts[0], parts[1], parts[2] if len(parts) > 2 else None, len(classes)


def example_shape(x: np.ndarray) -> tuple[int, ...]:
    """One example's shape as a model takes it: (h, w) images get a channel axis."""
    return (*x.shape[1:], 1) if x.ndim == 3 else tuple(x.shape[1:])


def as_features(x: np.ndarray) -> np.ndarray:
    """Checked examples as float32 (n, features) or (n, h, w, c)."""
    return x.astype(np.float32).reshape((len(x), *example_shape(x)))


def _check_features(name: str, key: str, x: np.ndarray, y: np.ndarray, y_key: str) -> None:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{name}: {key} must be numeric; got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{name}: {key} must have shape (n, features), (n, h, w) or (n, h, w, c); "
            f"got {x.shape}"
        )
    if y.ndim not in (1, 2) or len(y) != len(x):  # (n, targets) for regression; classification wants (n,)
        raise DataError(
            f"{name}: {y_key} must be one label per row of {key} ({len(x)}); got shape {y.shape}"
        )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):  # labels are small, read whole even from a memory map
        row = int(np.flatnonzero(~np.isfinite(y).reshape(len(y), -1).all(axis=1))[0])
        raise DataError(f"{name}: {y_key} holds {y[row]} at row {row}; labels and targets must be finite numbers")


def encode_labels(name: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels and each label's index among them, as int64; a continuous target is refused."""
    if y.ndim != 1:
        raise DataError(f"{name}: labels must be one-dimensional; got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise DataError(f"{name}: {np.count_nonzero(~np.isfinite(y))} labels are NaN or infinity; a label is a class: "
                        "a finite number or a name")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{name}: needs at least 2 classes; found {classes.tolist()}")
    if classes.dtype.kind == "f" and len(classes) > MANY_VALUES and not np.all(classes == np.round(classes)):
        raise DataError(f"task: classification, but the target of {name} is continuous ({len(classes):,} distinct "
                        f"values such as {classes[len(classes) // 2]:g}); use task: regression")
    return classes, codes.astype(np.int64)


def as_targets(name: str, y: np.ndarray) -> np.ndarray:
    """Regression targets as float32 numbers, (n,) or (n, targets): never mapped to classes."""
    if y.dtype.kind not in "biuf":
        raise DataError(f"{name}: regression targets must be numbers; got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise DataError(f"{name}: regression targets must have shape (n,) or (n, targets); got {y.shape}")
    targets = y.astype(np.float32)
    if not np.all(np.isfinite(targets)):
        raise DataError(f"{name}: regression targets must be finite numbers; found NaN or infinity")
    return targets


def split_targets(name: str, x: np.ndarray, y: np.ndarray, validation_fraction: float, seed: int,
                  test_fraction: float = 0.0) -> Dataset:
    """A regression data set: numeric targets, seeded random splits (no classes to stratify by), the test part
    (`test_fraction`) held out first."""
    from sklearn.model_selection import train_test_split

    targets = as_targets(name, y)
    everything = np.arange(len(targets))
    try:
        rest, test = train_test_split(everything, test_size=test_fraction, random_state=seed) if test_fraction else (
            everything, everything[:0])
    except ValueError as e:
        raise DataError(f"test_fraction: {test_fraction} of the {len(targets)} examples of {name} cannot be held "
                        f"out ({e})") from None
    try:
        train, val = train_test_split(rest, test_size=validation_fraction, random_state=seed)
    except ValueError as e:
        raise DataError(f"{name}: cannot split {len(rest)} examples with validation_fraction="
                        f"{validation_fraction} ({e})") from e
    held_out = (x[test], targets[test]) if test_fraction else (None, None)
    return Dataset(name, x[train], targets[train], x[val], targets[val], 0, *held_out, task="regression")


def split(name: str, x: np.ndarray, y: np.ndarray, validation_fraction: float, seed: int,
          test_fraction: float = 0.0) -> Dataset:
    classes, codes = encode_labels(name, y)
    train, val, test = split_indices(name, codes, classes, validation_fraction, seed, test_fraction)
    held_out = (x[test], codes[test]) if test_fraction else (None, None)
    return Dataset(name, x[train], codes[train], x[val], codes[val], len(classes), *held_out)


def split_indices(name: str, codes: np.ndarray, classes: np.ndarray, validation_fraction: float, seed: int,
                  test_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices of stratified splits, so that small or imbalanced data sets keep every class
    in every part: the test part first (empty when `test_fraction` is 0), then validation from the rest; the same for
    arrays in memory and memory-mapped. `classes` are the user's labels of the codes, for messages."""
    from sklearn.model_selection import train_test_split

    num_classes = len(classes)
    rest, test = hold_out_test(name, codes, test_fraction, seed, classes)
    left = f", what test_fraction={test_fraction} leaves," if test_fraction else ""
    _check_class_sizes(name, codes[rest], classes, f"{left} with validation_fraction={validation_fraction}")
    try:
        train, val = train_test_split(rest, test_size=validation_fraction, random_state=seed, stratify=codes[rest])
    except ValueError as e:
        hint = "; a target of this many values may be a number to predict (task: regression)" if (
            num_classes > MANY_VALUES) else ""
        raise DataError(
            f"{name}: cannot split {len(rest)} examples of {num_classes} classes{left} "
            f"with validation_fraction={validation_fraction} ({e}){hint}"
        ) from e
    return train, val, test


def hold_out_test(name: str, codes: np.ndarray, test_fraction: float, seed: int, labels: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The indices of `codes` kept for training and validation, and those of the stratified test part (none when
    `test_fraction` is 0); every class must be in both, or the test score would leave one out. `labels` are the
    user's labels of the codes (None: the codes are the labels), so that a message quotes what the user wrote."""
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(codes))
    if not test_fraction:
        return everything, everything[:0]
    classes = np.unique(codes)
    labels = np.arange(classes[-1] + 1) if labels is None else labels
    _check_class_sizes(f"test_fraction: {name}", codes, labels, f" with test_fraction={test_fraction}")
    try:
        rest, test = train_test_split(everything, test_size=test_fraction, random_state=seed, stratify=codes)
    except ValueError as e:
        raise DataError(f"test_fraction: {test_fraction} of the {len(codes)} examples of {name} cannot be held out, "
                        f"stratified over {len(classes)} classes ({e})") from None
    for part, indices in (("test", test), ("training", rest)):
        absent = np.setdiff1d(classes, codes[indices])
        if absent.size:
            raise DataError(f"test_fraction: {test_fraction} of the {len(codes)} examples of {name} leaves label "
                            f"{shown(labels[absent[0]].item())} out of the {part} part; hold out more, or fewer")
    return rest, test


def _check_class_sizes(name: str, codes: np.ndarray, labels: np.ndarray, split: str) -> None:
    """A stratified split needs two examples of each class, one for each side: refused naming the user's label."""
    few = np.flatnonzero(np.bincount(codes, minlength=len(labels)) == 1)
    if few.size:
        found = ", ".join(shown(labels[code].item()) for code in few[:5]) + (", ..." if few.size > 5 else "")
        has = f"label {found} has one example" if few.size == 1 else f"labels {found} have one example each"
        raise DataError(f"{name}: {has}{split}; a stratified split needs at least 2 examples of each class")


def check_seen_in_training(name: str, classes: np.ndarray, train_codes: np.ndarray, codes: np.ndarray,
                           key: str) -> None:
    """A validation or test label absent from training: the model cannot learn it, so its score would mislead."""
    unseen = np.setdiff1d(codes, train_codes)
    if unseen.size:
        found = ", ".join(shown(classes[code].item()) for code in unseen[:5]) + (", ..." if unseen.size > 5 else "")
        raise DataError(f"{name}: {key} holds label {found}, which the training labels never hold; a model cannot "
                        "learn a class it never trains on: add its examples to training, or drop them")


def require_file(name: str, path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{name}: file {path} does not exist")
