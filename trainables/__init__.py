"""What runs inside a Ray trial: data sets, models, compilation, reporting, the trainable.

Importing this package does not import TensorFlow: a Ray worker must configure it first.
"""

from __future__ import annotations

from tunelab.trainables.compile import compile_model
from tunelab.trainables.data import DataError, Dataset, load_dataset
from tunelab.trainables.data.base import StreamedData
from tunelab.trainables.keras_trainable import RunSettings, train
from tunelab.trainables.models import build_model

__all__ = [
    "DataError",
    "Dataset",
    "RunSettings",
    "StreamedData",
    "build_model",
    "compile_model",
    "load_dataset",
    "train",
]
