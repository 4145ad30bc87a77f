"""NaN and infinity in features or targets, found where they are.

A network fed one NaN trains on nothing without a word: its loss turns NaN, or it sits at chance. So an
array loaded on the driver is refused before Ray starts, naming its key and first row; a memory-mapped
one, which the driver never reads whole, is checked batch by batch in the worker, and a scan of the file
names the row when a batch fails.
"""
from __future__ import annotations

import numpy as np

from tunelab.trainables.data.base import DataError

CHUNK_BYTES = 64 * 2**20  # a memory-mapped array is scanned this much at a time, never read whole into memory
NOT_FINITE = "NaN or infinity"


def first_bad_row(values: np.ndarray) -> int | None:
    """The first row of `values` holding NaN or infinity (None: none), read in chunks of CHUNK_BYTES."""
    if values.dtype.kind != "f" or not len(values):
        return None
    rows = max(1, CHUNK_BYTES // max(1, values[0].nbytes))
    for start in range(0, len(values), rows):
        chunk = np.asarray(values[start:start + rows]).reshape(min(rows, len(values) - start), -1)
        bad = np.flatnonzero(~np.isfinite(chunk).all(axis=1))
        if bad.size:
            return start + int(bad[0])
    return None


def not_finite(name: str, key: str, values: np.ndarray) -> str | None:
    """The message naming the first row of `values` with NaN or infinity, or None when every value is finite."""
    row = first_bad_row(values)
    if row is None:
        return None
    flat = np.asarray(values[row]).ravel()
    found = flat[~np.isfinite(flat)][0]
    return (f"{name}: {key} holds {found} at row {row}; features and targets must be finite numbers (drop or fill "
            "those rows)")


def check_finite(name: str, key: str, values: np.ndarray) -> None:
    """Raises DataError naming the first row of `values` that holds NaN or infinity."""
    message = not_finite(name, key, values)
    if message:
        raise DataError(message)
