"""Data sets a trial trains on, by name: built-ins, the Keras cache, or the user's own files.

The `data:` key names a source (`digits`, `csv:PATH`, the user's `package.module:function`) or maps
`source` and that source's options. A named source has its own task (diabetes is regression); a file
form reads classes, and the forms with a regression loader (csv, npz) read numbers under `task:
regression`. Sources loaded here are numpy and scikit-learn, so the driver
loads and validates them (and fails before any trial starts) without importing TensorFlow; their
arrays travel to the trials. The streaming sources (`images:`, `tfrecord:`, memory-mapped `npz:`,
a data function) are only described here, and each worker reads them itself
(trainables.data.streaming).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.trainables.data.arrays import (
    check_csv_options, check_npz_options, load_breast_cancer, load_csv, load_csv_targets, load_diabetes, load_digits,
    load_fashion_mnist, load_mnist, load_npz, load_npz_targets,
)
from tunelab.trainables.data.base import DataError, Dataset, FileForm, StreamedData
from tunelab.trainables.data.function import DATA_FUNCTION, is_function_reference
from tunelab.trainables.data.image_folder import IMAGE_FOLDER
from tunelab.trainables.data.streaming import StreamedSplit, read_split
from tunelab.trainables.data.tfrecord_files import TFRECORD_FILES


def load_dataset(
    data: str | Mapping[str, Any], *, validation_fraction: float = 0.2, seed: int = 0, test_fraction: float = 0.0,
    task: str = "classification",
) -> Dataset | StreamedData:
    """Load `data` (the `data:` key: a source, or a mapping of `source` and options) split into train, validation
    and, where there is one, test.

    `validation_fraction` and `seed` drive a stratified split wherever the source has no
    validation part of its own (mnist and fashion_mnist use their test split). `test_fraction`
    (0: none) holds a stratified test part out first, before validation (of the train part where
    the source is split already); a source with a test part of its own keeps it. A streaming
    source is checked and described, not loaded: each worker reads it. `task` says whether targets are
    classes or numbers; a source of the other kind is refused naming `task`.
    """
    if not 0 < validation_fraction < 1:
        raise DataError(f"validation_fraction must be in (0, 1); got {shown(validation_fraction)}")
    if not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction must be in [0, 1); got {shown(test_fraction)}")
    source, form, path, options = _parsed(data)
    if form is None:
        loaded = _NAMED_SOURCES[source](validation_fraction, seed, test_fraction)
        if loaded.task != task:
            raise DataError(f"task: {task}, but {source} is a {loaded.task} data set; use task: {loaded.task}")
        return loaded
    load = form.load if task == "classification" else form.regression
    if load is None:
        regression = ", ".join(f"{name}:PATH" for name, other in _FILE_FORMS.items() if other.regression)
        kind = "a data function's" if form is DATA_FUNCTION else f"{source.partition(':')[0]}:"
        raise DataError(f"task: {task}, but {kind} sources hold classes; regression reads {regression}")
    try:
        return load(source, path, options, validation_fraction, seed, test_fraction)
    except DataError as error:  # a file's own problem: the message starts with the source, so name the key
        message = str(error)
        raise DataError(message if message.startswith(("data", "test_fraction", "task")) else f"data: {message}"
                        ) from None


def trial_data(data: str | Mapping[str, Any], *, validation_fraction: float = 0.2, seed: int = 0,
               test_fraction: float = 0.0, task: str = "classification") -> Dataset | StreamedSplit:
    """The split a run's trials used, with its test part: the arrays, or a streamed source's parts as its workers
    read them (tf.data pipelines of unbatched examples; this reads and caches them here)."""
    loaded = load_dataset(data, validation_fraction=validation_fraction, seed=seed, test_fraction=test_fraction,
                          task=task)
    return read_split(loaded) if isinstance(loaded, StreamedData) else loaded


def check_data(data: Any) -> None:
    """Raises DataError when the `data:` value names no source or gives it options it does not take; reads no file."""
    _parsed(data)


def _parsed(data: Any) -> tuple[str, FileForm | None, str, dict[str, Any]]:
    """The source, its form (None for a named data set), what the form reads (a path, a function) and its checked
    options."""
    if isinstance(data, Mapping):
        where, source, options = "data.source", data.get("source"), {k: v for k, v in data.items() if k != "source"}
        if source is None:
            raise DataError("data.source: missing; a data mapping names its source, "
                            "e.g. {source: images:/data/pets, image_size: [64, 64]}")
    else:
        where, source, options = "data", data, {}
    forms = _FILE_FORMS
    allowed = ", ".join(DATASETS + tuple(f"{form}:PATH" for form in forms)) + (
        ", package.module:function or file.py:function")
    if not isinstance(source, str) or not source.strip():
        raise DataError(f"{where}: expected a data set name or FORM:PATH ({allowed}), got {shown(source)}")
    prefix, _, path = source.partition(":")
    form = forms.get(prefix) if path else None
    if form is None and source not in _NAMED_SOURCES and is_function_reference(source):
        form, path = DATA_FUNCTION, source
    if form is None and source not in _NAMED_SOURCES:
        raise DataError(f"{where}: unknown data set {shown(source)}{did_you_mean(source, DATASETS)}; "
                        f"allowed: {allowed}")
    takes = form.options if form else ()
    kind = "a data function" if form is DATA_FUNCTION else prefix if form else source
    for key, value in options.items():
        if key not in takes:
            raise DataError(f"data.{key}: unknown key for {kind}; allowed: "
                            f"{', '.join(('source', *takes))}{did_you_mean(key, takes)}")
        if value is None:
            raise DataError(f"data.{key}: empty; give it a value, or leave the key out for the default")
    return source, form, path, form.check(options) if form else {}


# The data sources, by name and by file form: adding one is a loader and an entry here. A value with a colon that
# is no file form, `package.module:function` or `file.py:function`, is the user's data function (DATA_FUNCTION).
_NAMED_SOURCES: dict[str, Callable[[float, int, float], Dataset]] = {
    "digits": load_digits,
    # their own test split validates, so `test_fraction` comes out of the train split
    "mnist": lambda validation_fraction, seed, test_fraction: load_mnist(test_fraction, seed),
    "fashion_mnist": lambda validation_fraction, seed, test_fraction: load_fashion_mnist(test_fraction, seed),
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
}
DATASETS = tuple(_NAMED_SOURCES)
_FILE_FORMS: dict[str, FileForm] = {
    "npz": FileForm(load_npz, ("memory_map",), check_npz_options, regression=load_npz_targets),
    "csv": FileForm(load_csv, ("target",), check_csv_options, regression=load_csv_targets),
    "images": IMAGE_FOLDER,
    "tfrecord": TFRECORD_FILES,
}
