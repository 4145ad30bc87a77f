"""Data sets a trial trains on, by name: built-ins, the Keras cache, or the user's own files.

Everything here is numpy and scikit-learn so the driver can load and validate data (and fail
before any trial starts) without importing TensorFlow.
"""

from __future__ import annotations

import csv
import gzip
import os
import zipfile
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

import numpy as np

from tunelab.checks import did_you_mean
from tunelab.errors import InputError, shown

LABEL_COLUMN = "label"

# Key layouts an .npz file may use; the explicit split wins when a file has both.
_NPZ_LAYOUTS = (("x_train", "y_train", "x_val", "y_val"), ("x", "y"))

_FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


class DataError(InputError):
    """A data set name, file or option that cannot be turned into a Dataset."""


@dataclass(frozen=True)
class Dataset:
    """Train/validation arrays a trial fits on; pickled once into Ray's object store."""

    name: str
    x_train: np.ndarray
    """float32; images as (n, height, width, channels), tabular data as (n, features)."""
    y_train: np.ndarray
    """int64 class indices 0..num_classes-1."""
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, as a model's Input layer wants it."""
        return tuple(self.x_train.shape[1:])


def load_dataset(name: str, *, validation_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Load `name` (one of DATASETS, `npz:PATH` or `csv:PATH`) split into train and validation.

    `validation_fraction` and `seed` drive a stratified split wherever the source has no
    validation part of its own (mnist and fashion_mnist use their test split).
    """
    if not 0 < validation_fraction < 1:
        raise DataError(f"validation_fraction must be in (0, 1); got {shown(validation_fraction)}")
    form, _, path = name.partition(":")
    if path and form in _FILE_SOURCES:
        return _FILE_SOURCES[form](name, Path(path).expanduser(), validation_fraction, seed)
    if name in _NAMED_SOURCES:
        return _NAMED_SOURCES[name](validation_fraction, seed)
    raise DataError(
        f"unknown data set {shown(name)}{did_you_mean(name, DATASETS)}; allowed: {', '.join(DATASETS + FILE_FORMS)}"
    )


def _load_digits(validation_fraction: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    return _split("digits", x, digits.target, validation_fraction, seed)


def _load_mnist() -> Dataset:
    path = _keras_datasets_dir() / "mnist.npz"
    _require_cached("mnist", path)
    with np.load(path, allow_pickle=False) as f:
        parts = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    return _scaled_images("mnist", *parts)


def _load_fashion_mnist() -> Dataset:
    folder = _keras_datasets_dir() / "fashion-mnist"
    for fname in _FASHION_FILES:
        _require_cached("fashion_mnist", folder / fname)

    def read(fname: str, offset: int) -> np.ndarray:
        with gzip.open(folder / fname, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    x_train, y_train, x_test, y_test = (
        read(fname, 16 if "images" in fname else 8) for fname in _FASHION_FILES
    )
    return _scaled_images(
        "fashion_mnist",
        x_train.reshape(len(y_train), 28, 28),
        y_train,
        x_test.reshape(len(y_test), 28, 28),
        y_test,
    )


def _keras_datasets_dir() -> Path:
    """The folder keras.datasets caches into, resolved as Keras 3 resolves it.

    Mirrors keras.src.backend.config (`$KERAS_HOME`, else `~/.keras`, else `/tmp/.keras`
    when home is not writable) and keras.src.utils.file_utils.get_file (`/tmp/.keras` when
    the cache folder is not writable), without importing Keras.
    """
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    home = os.path.expanduser(home)
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return Path(home) / "datasets"


def _require_cached(name: str, path: Path) -> None:
    if not path.is_file():
        raise DataError(
            f"{name}: cached file {path} is missing and no network download is attempted; "
            f"on a connected machine run "
            f"`python -c \"import keras; keras.datasets.{name}.load_data()\"` "
            f"and copy the file to that path"
        )


def _scaled_images(
    name: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
) -> Dataset:
    def scale(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., np.newaxis]

    return Dataset(
        name=name,
        x_train=scale(x_train),
        y_train=y_train.astype(np.int64),
        x_val=scale(x_val),
        y_val=y_val.astype(np.int64),
        num_classes=int(max(y_train.max(), y_val.max())) + 1,
    )


def _load_npz(name: str, path: Path, validation_fraction: float, seed: int) -> Dataset:
    _require_file(name, path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{name}: cannot read as a NumPy .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{name}: holds a single array; expected an .npz archive with keys")
    with archive:
        layout = next((keys for keys in _NPZ_LAYOUTS if set(keys) <= set(archive.files)), None)
        if layout is None:
            raise DataError(
                f"{name}: has keys {sorted(archive.files)}; expected x and y, "
                f"or x_train, y_train, x_val and y_val"
            )
        try:
            arrays = {key: archive[key] for key in layout}
        except ValueError as e:  # object arrays need pickle, which is refused
            raise DataError(f"{name}: cannot read arrays ({e})") from e
    if layout == ("x", "y"):
        x = _features(name, "x", arrays["x"], arrays["y"], "y")
        return _split(name, x, arrays["y"], validation_fraction, seed)
    x_train = _features(name, "x_train", arrays["x_train"], arrays["y_train"], "y_train")
    x_val = _features(name, "x_val", arrays["x_val"], arrays["y_val"], "y_val")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise DataError(
            f"{name}: x_train examples have shape {x_train.shape[1:]} "
            f"but x_val examples have shape {x_val.shape[1:]}"
        )
    n_train = len(x_train)
    classes, codes = _encode_labels(name, np.concatenate([arrays["y_train"], arrays["y_val"]]))
    return Dataset(name, x_train, codes[:n_train], x_val, codes[n_train:], len(classes))


def _features(name: str, key: str, x: np.ndarray, y: np.ndarray, y_key: str) -> np.ndarray:
    """`x` as float32 (n, features) or (n, h, w, c), checked against its labels `y`."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{name}: {key} must be numeric; got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{name}: {key} must have shape (n, features), (n, h, w) or (n, h, w, c); "
            f"got {x.shape}"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"{name}: {y_key} must be one label per row of {key} ({len(x)}); got shape {y.shape}"
        )
    x = x.astype(np.float32)
    return x[..., np.newaxis] if x.ndim == 3 else x


def _load_csv(name: str, path: Path, validation_fraction: float, seed: int) -> Dataset:
    _require_file(name, path)
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{name}: cannot read as CSV ({e})") from e
    if len(rows) < 2:
        raise DataError(f"{name}: needs a header row and at least one data row")
    header, body = [column.strip() for column in rows[0]], rows[1:]
    if LABEL_COLUMN not in header:
        raise DataError(f"{name}: has no {shown(LABEL_COLUMN)} column; columns are {header}")
    if len(header) < 2:
        raise DataError(f"{name}: has no feature columns besides {shown(LABEL_COLUMN)}")
    target = header.index(LABEL_COLUMN)
    features = [i for i in range(len(header)) if i != target]
    x = np.empty((len(body), len(features)), dtype=np.float32)
    labels = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{name}: line {line} has {len(row)} fields; the header has {len(header)}"
            )
        labels.append(row[target].strip())
        for j, i in enumerate(features):
            try:
                x[line - 2, j] = float(row[i])
            except ValueError:
                raise DataError(
                    f"{name}: column {shown(header[i])} must be numeric; line {line} has {shown(row[i])}"
                ) from None
    return _split(name, x, _parse_labels(labels), validation_fraction, seed)


def _parse_labels(labels: list[str]) -> np.ndarray:
    """CSV labels as ints where they all are ints, so that 3, 5, 10 sort as numbers."""
    for kind in (int, float):
        try:
            return np.array([kind(label) for label in labels])
        except ValueError:
            continue
    return np.array(labels)


def _require_file(name: str, path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{name}: file {path} does not exist")


def _encode_labels(name: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels and each label's index among them, as int64."""
    if y.ndim != 1:
        raise DataError(f"{name}: labels must be one-dimensional; got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{name}: needs at least 2 classes; found {classes.tolist()}")
    return classes, codes.astype(np.int64)


def _split(
    name: str, x: np.ndarray, y: np.ndarray, validation_fraction: float, seed: int
) -> Dataset:
    """Stratified split, so that small or imbalanced data sets keep every class in both parts."""
    from sklearn.model_selection import train_test_split

    classes, codes = _encode_labels(name, y)
    try:
        x_train, x_val, y_train, y_val = train_test_split(
            x, codes, test_size=validation_fraction, random_state=seed, stratify=codes
        )
    except ValueError as e:
        raise DataError(
            f"{name}: cannot split {len(x)} examples of {len(classes)} classes "
            f"with validation_fraction={validation_fraction} ({e})"
        ) from e
    return Dataset(name, x_train, y_train, x_val, y_val, num_classes=len(classes))


# The data sources, by name and by file form: adding one is a loader above and an entry here.
_NAMED_SOURCES: dict[str, Callable[[float, int], Dataset]] = {
    "digits": _load_digits,
    "mnist": lambda validation_fraction, seed: _load_mnist(),  # their own test split validates
    "fashion_mnist": lambda validation_fraction, seed: _load_fashion_mnist(),
}
_FILE_SOURCES: dict[str, Callable[[str, Path, float, int], Dataset]] = {"npz": _load_npz, "csv": _load_csv}
DATASETS = tuple(_NAMED_SOURCES)
FILE_FORMS = tuple(f"{form}:PATH" for form in _FILE_SOURCES)
