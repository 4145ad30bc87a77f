"""Data sets a trial trains on: `load_dataset` reads the `data:` key (sources), the sources loaded
whole on the driver (arrays), those each worker reads itself (streaming: image folders, TFRecords,
memory-mapped npz), and what they share (base)."""
from __future__ import annotations

from tunelab.trainables.data.base import LABEL_COLUMN, DataError, Dataset, FileForm, StreamedData
from tunelab.trainables.data.sources import DATASETS, check_data, load_dataset

__all__ = ["DATASETS", "LABEL_COLUMN", "DataError", "Dataset", "FileForm", "StreamedData", "check_data",
           "load_dataset"]
