"""Data sets a trial trains on, by name: built-ins, the Keras cache, or the user's own files.

The `data:` key names a source (`digits`, `csv:PATH`) or maps `source` and that source's options.
Sources loaded here are numpy and scikit-learn, so the driver loads and validates them (and fails
before any trial starts) without importing TensorFlow; their arrays travel to the trials. The
streaming sources (`images:`, `tfrecord:`, memory-mapped `npz:`) are only described here, and
each worker reads them itself (trainables.streaming).
"""

from __future__ import annotations

import csv
import functools
import gzip
import os
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping
from pathlib import Path

import numpy as np

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import InputError, shown

if TYPE_CHECKING:
    from tunelab.trainables.streaming import StreamedData

LABEL_COLUMN = "label"

# Key layouts an .npz file may use; the explicit split wins when a file has both.
NPZ_LAYOUTS = (("x_train", "y_train", "x_val", "y_val"), ("x", "y"))

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


def load_dataset(
    data: str | Mapping[str, Any], *, validation_fraction: float = 0.2, seed: int = 0
) -> Dataset | StreamedData:
    """Load `data` (the `data:` key: a source, or a mapping of `source` and options) split into train and validation.

    `validation_fraction` and `seed` drive a stratified split wherever the source has no
    validation part of its own (mnist and fashion_mnist use their test split). A streaming
    source is checked and described, not loaded: each worker reads it.
    """
    if not 0 < validation_fraction < 1:
        raise DataError(f"validation_fraction must be in (0, 1); got {shown(validation_fraction)}")
    source, form, options = _parsed(data)
    if form is None:
        return _NAMED_SOURCES[source](validation_fraction, seed)
    try:
        return form.load(source, source.partition(":")[2], options, validation_fraction, seed)
    except DataError as error:  # a file's own problem: the message starts with the source, so name the key
        message = str(error)
        raise DataError(message if message.startswith("data") else f"data: {message}") from None


def check_data(data: Any) -> None:
    """Raises DataError when the `data:` value names no source or gives it options it does not take; reads no file."""
    _parsed(data)


def _parsed(data: Any) -> tuple[str, FileForm | None, dict[str, Any]]:
    """The source, its file form (None for a named data set) and its checked options."""
    if isinstance(data, Mapping):
        where, source, options = "data.source", data.get("source"), {k: v for k, v in data.items() if k != "source"}
        if source is None:
            raise DataError("data.source: missing; a data mapping names its source, "
                            "e.g. {source: images:/data/pets, image_size: [64, 64]}")
    else:
        where, source, options = "data", data, {}
    forms = _file_sources()
    allowed = ", ".join(DATASETS + tuple(f"{form}:PATH" for form in forms))
    if not isinstance(source, str) or not source.strip():
        raise DataError(f"{where}: expected a data set name or FORM:PATH ({allowed}), got {shown(source)}")
    prefix, _, path = source.partition(":")
    form = forms.get(prefix) if path else None
    if form is None and source not in _NAMED_SOURCES:
        raise DataError(f"{where}: unknown data set {shown(source)}{did_you_mean(source, DATASETS)}; "
                        f"allowed: {allowed}")
    takes = form.options if form else ()
    for key, value in options.items():
        if key not in takes:
            raise DataError(f"data.{key}: unknown key for {prefix if form else source}; allowed: "
                            f"{', '.join(('source', *takes))}{did_you_mean(key, takes)}")
        if value is None:
            raise DataError(f"data.{key}: empty; give it a value, or leave the key out for the default")
    return source, form, form.check(options) if form else {}


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


def _load_npz(
    name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int
) -> Dataset | StreamedData:
    if options["memory_map"]:
        from tunelab.trainables.mapped_npz import load_mapped_npz

        return load_mapped_npz(name, path_text, validation_fraction, seed)
    path = Path(path_text).expanduser()
    _require_file(name, path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{name}: cannot read as a NumPy .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{name}: holds a single array; expected an .npz archive with keys")
    with archive:
        layout = next((keys for keys in NPZ_LAYOUTS if set(keys) <= set(archive.files)), None)
        if layout is None:
            raise DataError(
                f"{name}: has keys {sorted(archive.files)}; expected x and y, "
                f"or x_train, y_train, x_val and y_val"
            )
        try:
            arrays = {key: archive[key] for key in layout}
        except ValueError as e:  # object arrays need pickle, which is refused
            raise DataError(f"{name}: cannot read arrays ({e})") from e
    check_npz_arrays(name, arrays)
    if layout == ("x", "y"):
        return _split(name, _features(arrays["x"]), arrays["y"], validation_fraction, seed)
    n_train = len(arrays["x_train"])
    classes, codes = encode_labels(name, np.concatenate([arrays["y_train"], arrays["y_val"]]))
    return Dataset(name, _features(arrays["x_train"]), codes[:n_train], _features(arrays["x_val"]),
                   codes[n_train:], len(classes))


def check_npz_arrays(name: str, arrays: Mapping[str, np.ndarray]) -> None:
    """The arrays of one NPZ_LAYOUTS entry, in its order: numeric examples, one label per example, one
    example shape for both parts."""
    keys = tuple(arrays)
    for x_key, y_key in zip(keys[::2], keys[1::2]):
        _check_features(name, x_key, arrays[x_key], arrays[y_key], y_key)
    if "x_train" in arrays and arrays["x_train"].shape[1:] != arrays["x_val"].shape[1:]:
        raise DataError(
            f"{name}: x_train examples have shape {arrays['x_train'].shape[1:]} "
            f"but x_val examples have shape {arrays['x_val'].shape[1:]}"
        )


def example_shape(x: np.ndarray) -> tuple[int, ...]:
    """One example's shape as a model takes it: (h, w) images get a channel axis."""
    return (*x.shape[1:], 1) if x.ndim == 3 else tuple(x.shape[1:])


def _features(x: np.ndarray) -> np.ndarray:
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
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"{name}: {y_key} must be one label per row of {key} ({len(x)}); got shape {y.shape}"
        )


def _load_csv(name: str, path_text: str, options: Mapping[str, Any], validation_fraction: float, seed: int
              ) -> Dataset:
    path = Path(path_text).expanduser()
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


def encode_labels(name: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    classes, codes = encode_labels(name, y)
    train, val = split_indices(name, codes, len(classes), validation_fraction, seed)
    return Dataset(name, x[train], codes[train], x[val], codes[val], num_classes=len(classes))


def split_indices(
    name: str, codes: np.ndarray, num_classes: int, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices of a stratified split, so that small or imbalanced data sets keep
    every class in both parts; the same for arrays in memory and memory-mapped."""
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(
            np.arange(len(codes)), test_size=validation_fraction, random_state=seed, stratify=codes
        )
    except ValueError as e:
        raise DataError(
            f"{name}: cannot split {len(codes)} examples of {num_classes} classes "
            f"with validation_fraction={validation_fraction} ({e})"
        ) from e


def check_flag(key: str, options: Mapping[str, Any], default: bool = False) -> bool:
    """A true/false option (`data.cache`): a string or a number is refused, not read as a truth value."""
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise DataError(f"data.{key}: must be true or false, got {shown(value)}")
    return value


@dataclass(frozen=True)
class FileForm:
    """A `FORM:PATH` source: its loader, the options a `data:` mapping may give it, and their check."""

    load: Callable[[str, str, Mapping[str, Any], float, int], Dataset | StreamedData]
    """(source, path as written, checked options, validation_fraction, seed) -> the data or its description."""
    options: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], dict[str, Any]] = dict
    """The options as given -> checked, defaults filled in; raises DataError naming `data.KEY`."""


# The data sources, by name and by file form: adding one is a loader and an entry here.
_NAMED_SOURCES: dict[str, Callable[[float, int], Dataset]] = {
    "digits": _load_digits,
    "mnist": lambda validation_fraction, seed: _load_mnist(),  # their own test split validates
    "fashion_mnist": lambda validation_fraction, seed: _load_fashion_mnist(),
}
DATASETS = tuple(_NAMED_SOURCES)


@functools.cache
def _file_sources() -> dict[str, FileForm]:
    # The streaming forms import this module (DataError, FileForm), so they are gathered on first use.
    from tunelab.trainables.image_folder import IMAGE_FOLDER
    from tunelab.trainables.tfrecord_files import TFRECORD_FILES

    return {
        "npz": FileForm(_load_npz, ("memory_map",), lambda given: {"memory_map": check_flag("memory_map", given)}),
        "csv": FileForm(_load_csv),
        "images": IMAGE_FOLDER,
        "tfrecord": TFRECORD_FILES,
    }
