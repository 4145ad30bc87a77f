"""The sources loaded whole on the driver, with numpy and scikit-learn only: scikit-learn's digits, diabetes
(regression) and breast cancer (two classes), the Keras cache's mnist and fashion_mnist (never downloaded),
and the user's `npz:` and `csv:` files, whose targets are classes or, for regression, numbers. Their train
and validation arrays travel to the trials once, through Ray's object store; a test part (`test_fraction`,
or an .npz's `x_test`) only to the one task that scores the best model on it."""
from __future__ import annotations

import csv
import gzip
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tunelab.core.errors import shown
from tunelab.trainables.data.base import (
    LABEL_COLUMN, NPZ_KEYS, NPZ_LAYOUTS, DataError, Dataset, StreamedData, as_features, as_targets, check_flag,
    check_npz_arrays, hold_out_test, npz_parts, require_file, split, split_targets,
)
from tunelab.trainables.data.finite import NOT_FINITE, check_finite
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


def load_diabetes(validation_fraction: float, seed: int, test_fraction: float) -> Dataset:
    """442 patients' disease progression after a year (25 to 346) from 10 standardised measurements."""
    from sklearn.datasets import load_diabetes

    diabetes = load_diabetes(scaled=False)
    return split_targets("diabetes", _standardised(diabetes.data), diabetes.target, validation_fraction, seed,
                         test_fraction)


def load_breast_cancer(validation_fraction: float, seed: int, test_fraction: float) -> Dataset:
    """569 tumours, malignant (0) or benign (1), from 30 standardised measurements."""
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    return split("breast_cancer", _standardised(cancer.data), cancer.target, validation_fraction, seed, test_fraction)


def _standardised(x: np.ndarray) -> np.ndarray:
    """Each column at mean 0 and standard deviation 1 (over the whole set, as scikit-learn scales diabetes)."""
    return ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)


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
    arrays = _npz_arrays(name, path_text)
    train, val, test, num_classes = npz_parts(name, arrays, validation_fraction, seed, test_fraction)
    parts = [(as_features(arrays[part.key][part.rows]), part.codes) for part in (train, val)]
    held_out = (as_features(arrays[test.key][test.rows]), test.codes) if test else (None, None)
    return Dataset(name, *parts[0], *parts[1], num_classes, *held_out)


def load_npz_targets(name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
                     test_fraction: float) -> Dataset:
    """An .npz of regression targets, y as numbers of shape (n,) or (n, targets); its own x_test/y_test, or
    `test_fraction` held out (of x_train where the archive is split already)."""
    if options["memory_map"]:
        raise DataError("data.memory_map: a memory-mapped npz holds classes; task: regression reads the archive "
                        "whole (leave memory_map out)")
    arrays = _npz_arrays(name, path_text)
    if "x_test" in arrays and test_fraction:
        raise DataError(f"test_fraction: {name} has a test part of its own (x_test, y_test); leave test_fraction out")
    if "x" in arrays:
        data = split_targets(name, as_features(arrays["x"]), arrays["y"], validation_fraction, seed, test_fraction)
    else:
        x_train, y_train = as_features(arrays["x_train"]), as_targets(name, arrays["y_train"])
        y_val = as_targets(name, arrays["y_val"])
        if y_train.shape[1:] != y_val.shape[1:]:
            raise DataError(f"{name}: y_train has targets of shape {y_train.shape[1:]} but y_val {y_val.shape[1:]}")
        rest, test = np.arange(len(y_train)), None
        if test_fraction:  # out of the train part, as for the other sources split already
            from sklearn.model_selection import train_test_split

            rest, test = train_test_split(rest, test_size=test_fraction, random_state=seed)
        held_out = (x_train[test], y_train[test]) if test is not None else (None, None)
        data = Dataset(name, x_train[rest], y_train[rest], as_features(arrays["x_val"]), y_val, 0, *held_out,
                       task="regression")
    if "x_test" in arrays:
        return Dataset(name, data.x_train, data.y_train, data.x_val, data.y_val, 0, as_features(arrays["x_test"]),
                       as_targets(name, arrays["y_test"]), task="regression")
    return data


def check_npz_options(given: Mapping[str, Any]) -> dict[str, Any]:
    return {"memory_map": check_flag("memory_map", given)}


def _npz_arrays(name: str, path_text: str) -> dict[str, np.ndarray]:
    """The arrays of one of NPZ_LAYOUTS, checked, keyed by their names in the archive."""
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
    check_npz_arrays(name, arrays)
    for key, values in arrays.items():
        check_finite(name, key, values)
    return arrays


def load_csv(name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
             test_fraction: float) -> Dataset:
    x, labels = _read_csv(name, path_text, options["target"])
    return split(name, x, _parse_labels(labels), validation_fraction, seed, test_fraction)


def load_csv_targets(name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
                     test_fraction: float) -> Dataset:
    """A CSV whose target column holds the numbers to predict (task: regression)."""
    x, values = _read_csv(name, path_text, options["target"])
    targets = np.empty(len(values), dtype=np.float32)
    for row, value in enumerate(values):
        try:
            targets[row] = float(value)
        except ValueError:
            raise DataError(f"{name}: target column {shown(options['target'])} must be numeric for task: "
                            f"regression; line {row + 2} has {shown(value)}") from None
        if not math.isfinite(targets[row]):
            raise DataError(f"{name}: target column {shown(options['target'])} must hold finite numbers; line "
                            f"{row + 2} has {shown(value)} ({NOT_FINITE})")
    return split_targets(name, x, targets, validation_fraction, seed, test_fraction)


def check_csv_options(given: Mapping[str, Any]) -> dict[str, Any]:
    target = given.get("target", LABEL_COLUMN)
    if not isinstance(target, str) or not target.strip():
        raise DataError(f"data.target: expected the name of the target column, got {shown(target)}")
    return {"target": target.strip()}


def _read_csv(name: str, path_text: str, target_column: str) -> tuple[np.ndarray, list[str]]:
    """The numeric feature columns as float32 rows, and the target column's texts."""
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
    if target_column not in header:
        raise DataError(f"{name}: has no {shown(target_column)} column; columns are {header} (the data mapping's "
                        "`target:` names the target column)")
    if len(header) < 2:
        raise DataError(f"{name}: has no feature columns besides {shown(target_column)}")
    target = header.index(target_column)
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
            if not math.isfinite(x[line - 2, j]):
                raise DataError(f"{name}: column {shown(header[i])} must hold finite numbers; line {line} has "
                                f"{shown(row[i])} ({NOT_FINITE}): drop or fill it")
    return x, labels


def _parse_labels(labels: list[str]) -> np.ndarray:
    """CSV labels as ints where they all are ints, so that 3, 5, 10 sort as numbers."""
    for kind in (int, float):
        try:
            return np.array([kind(label) for label in labels])
        except ValueError:
            continue
    return np.array(labels)
