"""Data sets a trial trains on: `load_dataset` reads the `data:` key (sources), the sources loaded
whole on the driver (arrays), those each worker reads itself (streaming: image folders, TFRecords,
memory-mapped npz, the user's data function), and what they share (base). `trial_data` gives the
split a run's trials used, its test part included."""
from __future__ import annotations

from tunelab.trainables.data.base import LABEL_COLUMN, DataError, Dataset, FileForm, StreamedData
from tunelab.trainables.data.sources import DATASETS, check_data, load_dataset, trial_data
from tunelab.trainables.data.streaming import StreamedSplit

__all__ = ["DATASETS", "LABEL_COLUMN", "DataError", "Dataset", "FileForm", "StreamedData", "StreamedSplit",
           "check_data", "load_dataset", "trial_data"]
