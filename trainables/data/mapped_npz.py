"""`npz:PATH` with `memory_map: true`: an uncompressed .npz that each worker reads batch by batch, never whole.

    data: {source: npz:/data/big.npz, memory_map: true}

`np.load(path, mmap_mode="r")` ignores `mmap_mode` for an .npz archive and reads a member whole
when it is asked for. But `np.savez` stores its members uncompressed, so each member's .npy data
lies at a fixed offset of the file: this module memory-maps it there, which keeps the file the
user already has (a folder of .npy files would map without this, but asks them to convert it).
`np.savez_compressed` archives cannot be mapped and are refused. The labels are small and read
whole, by the driver for the class count and split check and by a worker for its split, which is
the same stratified split as the archive's in memory; features are read only for the rows of a batch.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunelab.core.run_folder import is_uri
from tunelab.trainables.data.base import (
    NPZ_LAYOUTS, DataError, Examples, StreamedData, check_npz_arrays, encode_labels, example_shape, split_indices,
)
from tunelab.trainables.data.streaming import location

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature, ..., name and extra lengths


@dataclass(frozen=True)
class MappedNpz(StreamedData):
    """An .npz as the worker maps it: the file and which of NPZ_LAYOUTS it holds."""

    file: str
    layout: tuple[str, ...]
    validation_fraction: float
    seed: int

    def read(self) -> tuple[Examples, Examples]:
        train, validation, _ = _parts(self.name, mapped_arrays(self.name, self.file), self.layout,
                                      self.validation_fraction, self.seed)
        return self._examples(*train), self._examples(*validation)

    def _examples(self, x: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> Examples:
        import tensorflow as tf

        def gather(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            ordered = np.sort(batch)  # rows in file order: a batch reads the map forwards
            return np.asarray(x[ordered], np.float32).reshape((-1, *self.input_shape)), labels[ordered]

        def load(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            features, targets = tf.numpy_function(gather, [batch], (tf.float32, tf.int64), stateful=False)
            return tf.ensure_shape(features, (None, *self.input_shape)), tf.ensure_shape(targets, (None,))

        return Examples(tf.data.Dataset.from_tensor_slices(rows), len(rows), load)


def load_mapped_npz(name: str, path: str, validation_fraction: float, seed: int) -> MappedNpz:
    """The archive's description, its arrays' shapes and labels checked; its features are not read."""
    file = location(name, path)
    if is_uri(file):
        raise DataError(f"data.memory_map: {name} is a URI; a memory map needs a file on a local or shared file system")
    arrays = mapped_arrays(name, file)
    layout = next((keys for keys in NPZ_LAYOUTS if set(keys) <= set(arrays)), None)
    if layout is None:
        raise DataError(f"{name}: has keys {sorted(arrays)}; expected x and y, or x_train, y_train, x_val and y_val")
    _, _, num_classes = _parts(name, arrays, layout, validation_fraction, seed)
    return MappedNpz(name=name, input_shape=example_shape(arrays[layout[0]]), num_classes=num_classes, file=file,
                     layout=layout, validation_fraction=validation_fraction, seed=seed)


def _parts(name: str, arrays: dict[str, np.ndarray], layout: tuple[str, ...], validation_fraction: float,
           seed: int) -> tuple[tuple[Any, ...], tuple[Any, ...], int]:
    """(features, label codes, rows) of the train and the validation part, and the class count."""
    arrays = {key: arrays[key] for key in layout}
    check_npz_arrays(name, arrays)
    if layout == ("x", "y"):
        classes, codes = encode_labels(name, np.asarray(arrays["y"]))
        train, val = split_indices(name, codes, len(classes), validation_fraction, seed)
        return (arrays["x"], codes, train), (arrays["x"], codes, val), len(classes)
    y_train, y_val = np.asarray(arrays["y_train"]), np.asarray(arrays["y_val"])
    classes, codes = encode_labels(name, np.concatenate([y_train, y_val]))
    return ((arrays["x_train"], codes[:len(y_train)], np.arange(len(y_train))),
            (arrays["x_val"], codes[len(y_train):], np.arange(len(y_val))), len(classes))


def mapped_arrays(name: str, file: str) -> dict[str, np.ndarray]:
    """Every array of the .npz at `file`, by key, memory-mapped read-only where it lies in the file."""
    try:
        with zipfile.ZipFile(file) as archive, open(file, "rb") as stream:
            return {info.filename.removesuffix(".npy"): _mapped(name, file, stream, info)
                    for info in archive.infolist() if info.filename.endswith(".npy")}
    except FileNotFoundError:
        raise DataError(f"{name}: file {file} does not exist") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, struct.error) as error:
        raise DataError(f"{name}: cannot read as a NumPy .npz archive ({error})") from None


def _mapped(name: str, file: str, stream: Any, info: zipfile.ZipInfo) -> np.ndarray:
    if info.compress_type != zipfile.ZIP_STORED:
        raise DataError(f"{name}: {info.filename} is compressed (np.savez_compressed); a memory map needs the "
                        "archive written by np.savez, or memory_map: false")
    stream.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(stream.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise DataError(f"{name}: {info.filename} has no zip member header where the archive's index puts it")
    stream.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise DataError(f"{name}: {info.filename} is a .npy file of version {version}, which cannot be mapped")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if dtype.hasobject:
        raise DataError(f"{name}: {info.filename} holds Python objects; a memory map needs numbers")
    if 0 in shape:
        return np.empty(shape, dtype)
    return np.memmap(file, dtype=dtype, mode="r", offset=stream.tell(), shape=shape,
                     order="F" if fortran_order else "C")
