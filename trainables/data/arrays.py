"""The sources loaded whole on the driver, with numpy and scikit-learn only: scikit-learn's digits, the
Keras cache's mnist and fashion_mnist (never downloaded), and the user's `npz:` and `csv:` files. Their
train and validation arrays travel to the trials once, through Ray's object store; a test part (`test_fraction`,
or an .npz's `x_test`) only to the one task that scores the best model on it."""
from __future__ import annotations

import csv
import gzip
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tunelab.core.errors import shown
from tunelab.trainables.data.base import (
    LABEL_COLUMN, NPZ_KEYS, NPZ_LAYOUTS, DataError, Dataset, StreamedData, as_features, hold_out_test, npz_parts,
    require_file, split,
)
from tunelab.trainables.data.mapped_npz import load_mapped_npz

_FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def load_digits(validation_fraction: float, seed: int, test_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    return split("digits", x, digits.target, validation_fraction, seed, test_fraction)


def load_mnist(test_fraction: float, seed: int) -> Dataset:
    path = _keras_datasets_dir() / "mnist.npz"
    _require_cached("mnist", path)
    with np.load(path, allow_pickle=False) as f:
        parts = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    return _scaled_images("mnist", *parts, test_fraction, seed)


def load_fashion_mnist(test_fraction: float, seed: int) -> Dataset:
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
        test_fraction,
        seed,
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


def _scaled_images(name: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                   test_fraction: float, seed: int) -> Dataset:
    """Their own test split validates, as it always has; `test_fraction` holds a test part out of the train split."""
    def scale(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., np.newaxis]

    y_train = y_train.astype(np.int64)
    train, test = hold_out_test(name, y_train, test_fraction, seed)
    held_out = (scale(x_train[test]), y_train[test]) if test_fraction else (None, None)
    return Dataset(
        name,
        scale(x_train[train]) if test_fraction else scale(x_train),
        y_train[train],
        scale(x_val),
        y_val.astype(np.int64),
        int(max(y_train.max(), y_val.max())) + 1,
        *held_out,
    )


def load_npz(name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
             test_fraction: float) -> Dataset | StreamedData:
    if options["memory_map"]:
        return load_mapped_npz(name, path_text, validation_fraction, seed, test_fraction)
    path = Path(path_text).expanduser()
    require_file(name, path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{name}: cannot read as a NumPy .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{name}: holds a single array; expected an .npz archive with keys")
    with archive:
        layout = next((keys for keys in NPZ_LAYOUTS if set(keys) <= set(archive.files)), None)
        if layout is None:
            raise DataError(f"{name}: has keys {sorted(archive.files)}; expected {NPZ_KEYS}")
        try:
            arrays = {key: archive[key] for key in layout}
        except ValueError as e:  # object arrays need pickle, which is refused
            raise DataError(f"{name}: cannot read arrays ({e})") from e
    train, val, test, num_classes = npz_parts(name, arrays, validation_fraction, seed, test_fraction)
    parts = [(as_features(arrays[part.key][part.rows]), part.codes) for part in (train, val)]
    held_out = (as_features(arrays[test.key][test.rows]), test.codes) if test else (None, None)
    return Dataset(name, *parts[0], *parts[1], num_classes, *held_out)


def load_csv(name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
             test_fraction: float) -> Dataset:
    path = Path(path_text).expanduser()
    require_file(name, path)
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
    return split(name, x, _parse_labels(labels), validation_fraction, seed, test_fraction)


def _parse_labels(labels: list[str]) -> np.ndarray:
    """CSV labels as ints where they all are ints, so that 3, 5, 10 sort as numbers."""
    for kind in (int, float):
        try:
            return np.array([kind(label) for label in labels])
        except ValueError:
            continue
    return np.array(labels)
