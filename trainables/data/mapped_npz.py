"""`npz:PATH` with `memory_map: true`: an uncompressed .npz that each worker reads batch by batch, never whole.

    data: {source: npz:/data/big.npz, memory_map: true}

`np.load(path, mmap_mode="r")` ignores `mmap_mode` for an .npz archive and reads a member whole
when it is asked for. But `np.savez` stores its members uncompressed, so each member's .npy data
lies at a fixed offset of the file: this module memory-maps it there, which keeps the file the
user already has (a folder of .npy files would map without this, but asks them to convert it).
`np.savez_compressed` archives cannot be mapped and are refused. The labels are small and read
whole, by the driver for the class count and split check and by a worker for its split, which is
the same stratified split as the archive's in memory (a test part too: `x_test`, or `test_fraction`); features are
read only for the rows of a batch.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunelab.core.run_folder import is_uri
from tunelab.trainables.data.base import (
    NPZ_KEYS, NPZ_LAYOUTS, DataError, Examples, Part, StreamedData, example_shape, npz_parts,
)
from tunelab.trainables.data.finite import NOT_FINITE, not_finite
from tunelab.trainables.data.streaming import location

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature, ..., name and extra lengths


@dataclass(frozen=True)
class MappedNpz(StreamedData):
    """An .npz as the worker maps it: the file and which of NPZ_LAYOUTS it holds."""

    file: str
    layout: tuple[str, ...]
    validation_fraction: float
    seed: int
    test_fraction: float = 0.0

    def read(self) -> tuple[Examples, Examples]:
        arrays = mapped_arrays(self.name, self.file)
        train, validation, _, _ = self._parts(arrays)
        return self._examples(arrays, train), self._examples(arrays, validation)

    @property
    def has_test(self) -> bool:
        return "x_test" in self.layout or self.test_fraction > 0

    def read_test(self) -> Examples:
        arrays = mapped_arrays(self.name, self.file)
        test = self._parts(arrays)[2]
        if test is None:
            return super().read_test()
        return self._examples(arrays, test)

    def locate(self, error: Exception) -> str | None:
        """The first row of the archive's features that holds NaN or infinity, scanned a chunk at a time."""
        arrays = mapped_arrays(self.name, self.file)
        found = (not_finite(self.name, key, arrays[key]) for key in self.layout[::2])
        return next((f"data: {message}" for message in found if message), None)

    def _parts(self, arrays: dict[str, np.ndarray]) -> tuple[Part, Part, Part | None, int]:
        return npz_parts(self.name, {key: arrays[key] for key in self.layout}, self.validation_fraction, self.seed,
                         self.test_fraction)

    def _examples(self, arrays: dict[str, np.ndarray], part: Part) -> Examples:
        import tensorflow as tf

        x, labels, rows = arrays[part.key], np.zeros(len(arrays[part.key]), np.int64), part.rows
        labels[rows] = part.codes

        def gather(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            ordered = np.sort(batch)  # rows in file order: a batch reads the map forwards
            features = np.asarray(x[ordered], np.float32).reshape((-1, *self.input_shape))
            if not np.isfinite(features).all():  # the driver never reads the features: checked as they are read
                raise ValueError(f"{self.name}: {part.key} holds {NOT_FINITE}")
            return features, labels[ordered]

        def load(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            features, targets = tf.numpy_function(gather, [batch], (tf.float32, tf.int64), stateful=False)
            return tf.ensure_shape(features, (None, *self.input_shape)), tf.ensure_shape(targets, (None,))

        return Examples(tf.data.Dataset.from_tensor_slices(rows), len(rows), load)


def load_mapped_npz(name: str, path: str, validation_fraction: float, seed: int, test_fraction: float) -> MappedNpz:
    """The archive's description, its arrays' shapes and labels checked; its features are not read."""
    file = location(name, path)
    if is_uri(file):
        raise DataError(f"data.memory_map: {name} is a URI; a memory map needs a file on a local or shared file system")
    arrays = mapped_arrays(name, file)
    layout = next((keys for keys in NPZ_LAYOUTS if set(keys) <= set(arrays)), None)
    if layout is None:
        raise DataError(f"{name}: has keys {sorted(arrays)}; expected {NPZ_KEYS}")
    *_, num_classes = npz_parts(name, {key: arrays[key] for key in layout}, validation_fraction, seed, test_fraction)
    return MappedNpz(name=name, input_shape=example_shape(arrays[layout[0]]), num_classes=num_classes, file=file,
                     layout=layout, validation_fraction=validation_fraction, seed=seed, test_fraction=test_fraction)


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
