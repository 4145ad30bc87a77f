"""`tfrecord:PATH`: TFRecord files of `tf.train.Example`, parsed in each worker by the schema the YAML declares.

    data:
      source: tfrecord:/data/digits-*.tfrecord   # one file, or a pattern of shards
      features:
        image: {shape: [8, 8, 1], dtype: float32}  # float32/int64: a float_list/int64_list of that many values
        label: {dtype: int64}                      # png/jpeg: one encoded image of that shape
      num_classes: 10

A record file says neither how many classes its labels span nor how many records it holds, and
the driver must not read it all: the class count is declared, and the driver parses only the
first record, to hold it against the schema. Each record goes to validation with probability
`validation_fraction`, drawn from the experiment's seed and the record's position, so every
worker splits alike; a worker counts its parts once, and that pass fills its cache (`cache`).
"""
from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import Any, Mapping

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.trainables.data.base import LABEL_COLUMN, DataError, Examples, FileForm, StreamedData, check_flag
from tunelab.trainables.data.finite import NOT_FINITE
from tunelab.trainables.data.located import reason
from tunelab.trainables.data.streaming import count, image_header, location, positive_ints

DTYPES = {"float32": "float_list", "int64": "int64_list", "png": "bytes_list", "jpeg": "bytes_list"}
LABEL = LABEL_COLUMN  # the label feature is named as the label column of a CSV is
_FEATURE_KEYS = ("shape", "dtype")


@dataclass(frozen=True)
class TFRecordFiles(StreamedData):
    """TFRecord files as the worker reads them: the files the driver's pattern matched, and the input feature."""

    files: tuple[str, ...]
    feature: str
    shape: tuple[int, ...]  # as declared; input_shape adds a channel axis to [h, w]
    dtype: str
    validation_fraction: float
    seed: int
    cache: bool

    def read(self) -> tuple[Examples, Examples]:
        import tensorflow as tf

        records = tf.data.TFRecordDataset(list(self.files)).enumerate()

        def held_out(index: tf.Tensor, _: tf.Tensor) -> tf.Tensor:
            draw = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(self.seed, tf.int64), index]))
            return draw < self.validation_fraction

        train = records.filter(lambda index, record: tf.logical_not(held_out(index, record)))
        return self._examples(train, "train"), self._examples(records.filter(held_out), "validation")

    def locate(self, error: Exception) -> str | None:
        """The first record that fails to parse as the trials parse it, by reading each file again on its own."""
        import tensorflow as tf

        for file in self.files:
            index = -1
            try:
                for index, _ in enumerate(tf.data.TFRecordDataset(file).map(self._parsed)):
                    pass
            except tf.errors.OpError as failure:
                return f"data: {self.name}: record {index + 2} of {file} (counting from 1): {reason(failure)}"
        return None

    def _examples(self, records: Any, part: str) -> Examples:
        import tensorflow as tf

        examples = records.map(lambda _, record: self._parsed(record), num_parallel_calls=tf.data.AUTOTUNE)
        examples = examples.cache() if self.cache else examples
        size = count(examples)
        if size == 0:
            raise DataError(f"{self.name}: validation_fraction {self.validation_fraction} leaves no {part} records")
        return Examples(examples, size)

    def _parsed(self, record: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        encoded = DTYPES[self.dtype] == "bytes_list"
        kind = tf.string if encoded else tf.float32 if self.dtype == "float32" else tf.int64
        parsed = tf.io.parse_single_example(record, {
            self.feature: tf.io.FixedLenFeature([] if encoded else self.shape, kind),
            LABEL: tf.io.FixedLenFeature([], tf.int64),
        })
        x = parsed[self.feature]
        if encoded:
            x = tf.ensure_shape(tf.io.decode_image(x, channels=self.shape[-1], expand_animations=False), self.shape)
            x = tf.cast(x, tf.float32) / 255.0
        elif self.dtype == "float32":
            x = tf.debugging.check_numerics(x, f"feature {self.feature!r} holds {NOT_FINITE}")
        label, outside = parsed[LABEL], f"{self.name}: a label is outside 0 to {self.num_classes - 1} (num_classes)"
        with tf.control_dependencies([tf.debugging.assert_non_negative(label, message=outside),
                                      tf.debugging.assert_less(label, tf.constant(self.num_classes, tf.int64),
                                                               message=outside)]):
            return tf.reshape(tf.cast(x, tf.float32), self.input_shape), tf.identity(label)


def load_tfrecord(name: str, path: str, options: Mapping[str, Any], validation_fraction: float, seed: int,
                  test_fraction: float) -> TFRecordFiles:
    """The files' description, after their first record is held against the declared schema."""
    import tensorflow as tf

    if test_fraction:
        raise DataError(f"test_fraction: {name} is split in two by each worker as it reads the records; a TFRecord "
                        "source has no test part: leave test_fraction out")
    pattern = location(name, path)
    files = tuple(sorted(tf.io.gfile.glob(pattern)))
    if not files or any(tf.io.gfile.isdir(file) for file in files):
        raise DataError(f"{name}: {pattern} matches no TFRecord file" + ("; name the files in a folder, e.g. "
                        f"{pattern.rstrip('/')}/*.tfrecord" if files else ""))
    feature, shape, dtype = options["feature"], options["shape"], options["dtype"]
    _check_record(name, files[0], _first_example(name, files[0]), feature, shape, dtype)
    return TFRecordFiles(name=name, input_shape=(*shape, 1) if len(shape) == 2 else shape,
                         num_classes=options["num_classes"], files=files, feature=feature, shape=shape, dtype=dtype,
                         validation_fraction=validation_fraction, seed=seed, cache=options["cache"])


def _first_example(name: str, file: str) -> Any:
    """The first record of `file`, read by its framing (length, length CRC, data, data CRC), as a tf.train.Example."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    with tf.io.gfile.GFile(file, "rb") as stream:
        header = stream.read(12)
        length = struct.unpack("<Q", header[:8])[0] if len(header) == 12 else -1
        if not 0 <= length <= tf.io.gfile.stat(file).length - 16:
            raise DataError(f"{name}: {file} holds no records, or is not an uncompressed TFRecord file")
        record = stream.read(length)
    try:
        return tf.train.Example.FromString(record)
    except DecodeError:
        raise DataError(f"{name}: the first record of {file} is not a tf.train.Example") from None


def _check_record(name: str, file: str, example: Any, feature: str, shape: tuple[int, ...], dtype: str) -> None:
    found = example.features.feature
    for key, kind, values in ((feature, DTYPES[dtype], 1 if DTYPES[dtype] == "bytes_list" else math.prod(shape)),
                              (LABEL, "int64_list", 1)):
        if key not in found:
            raise DataError(f"data.features: the first record of {file} has no feature {key!r}; "
                            f"it has {', '.join(sorted(found)) or 'none'}")
        has = found[key].WhichOneof("kind")
        if has != kind:
            raise DataError(f"data.features.{key}: the first record of {file} holds a {has}; "
                            f"dtype {'int64' if key == LABEL else dtype} reads a {kind}")
        given = getattr(found[key], kind).value
        if len(given) != values:
            raise DataError(f"data.features.{key}: the first record of {file} holds {len(given)} values; "
                            f"{'a label is one' if key == LABEL else f'shape {list(shape)} needs {values}'}")
    if DTYPES[dtype] == "bytes_list":
        image = found[feature].bytes_list.value[0]
        try:
            height, width, _ = image_header(io.BytesIO(image))
        except (OSError, ValueError):
            raise DataError(f"data.features.{feature}: the first record of {file} holds {len(image)} bytes that "
                            f"are not a PNG or JPEG image") from None
        if (height, width) != shape[:2]:
            raise DataError(f"data.features.{feature}.shape: {list(shape)}, but the first record's image is "
                            f"{height}x{width}")


def _options(given: Mapping[str, Any]) -> dict[str, Any]:
    features = given.get("features")
    example = "e.g. {image: {shape: [8, 8, 1], dtype: float32}, label: {dtype: int64}}"
    if not isinstance(features, Mapping):
        raise DataError(f"data.features: {'missing' if features is None else f'got {shown(features)}'}; a tfrecord "
                        f"source declares its input feature and its {LABEL!r}, {example}")
    inputs = [key for key in features if key != LABEL]
    if LABEL not in features or len(inputs) != 1:
        raise DataError(f"data.features: declares {', '.join(map(str, features)) or 'nothing'}; declare one input "
                        f"feature and {LABEL!r}, {example}")
    feature, label = inputs[0], _keys(LABEL, features[LABEL])
    if label.get("dtype", "int64") != "int64" or label.get("shape", []) not in ([], [1]):
        raise DataError(f"data.features.{LABEL}: {shown(dict(label))} is not allowed; a label is one int64 class "
                        f"index (0 to num_classes - 1): {{dtype: int64}}")
    declared = _keys(feature, features[feature])
    dtype = declared.get("dtype")
    if dtype not in DTYPES:
        raise DataError(f"data.features.{feature}.dtype: {shown(dtype)} is not allowed; use float32 or int64 (a "
                        f"float_list or int64_list), png or jpeg (one encoded image){did_you_mean(dtype, DTYPES)}")
    encoded = DTYPES[dtype] == "bytes_list"
    shape = positive_ints(f"features.{feature}.shape", declared.get("shape"), (3,) if encoded else (1, 2, 3),
                          "[height, width, channels] of an image" if encoded else "a list of 1 to 3 positive integers")
    if encoded and shape[-1] not in (1, 3, 4):
        raise DataError(f"data.features.{feature}.shape: an image has 1, 3 or 4 channels, got {shape[-1]}")
    num_classes = given.get("num_classes")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise DataError(f"data.num_classes: {'missing' if num_classes is None else f'got {shown(num_classes)}'}; a "
                        "tfrecord source declares its number of classes, an integer >= 2 (labels are 0 to "
                        "num_classes - 1)")
    return {"feature": str(feature), "shape": shape, "dtype": dtype, "num_classes": num_classes,
            "cache": check_flag("cache", given, True)}


def _keys(feature: Any, declared: Any) -> Mapping[str, Any]:
    if not isinstance(declared, Mapping):
        raise DataError(f"data.features.{feature}: expected a mapping like {{shape: [8, 8, 1], dtype: float32}}, "
                        f"got {shown(declared)}")
    for key in declared:
        if key not in _FEATURE_KEYS:
            raise DataError(f"data.features.{feature}.{key}: unknown key; allowed: {', '.join(_FEATURE_KEYS)}"
                            f"{did_you_mean(key, _FEATURE_KEYS)}")
    return declared


TFRECORD_FILES = FileForm(load_tfrecord, ("features", "num_classes", "cache"), _options)
