"""tunelab's trainable with the worker's memory logged around each trial, for benchmarks.worker_memory.

A module of its own because a Ray worker imports the module that defines its trainable: this one
imports nothing of tunelab but its trainables, so the worker it measures holds what a study's
worker holds, not the runner and strategies the benchmark's driver needs.
"""
from __future__ import annotations

import gc
import json
import os
import time
from typing import Any

from tunelab.trainables import Dataset, RunSettings, StreamedData, train


def measured_train(config: dict[str, Any], data: Dataset | StreamedData, run: RunSettings, log: str) -> None:
    """tunelab's trainable, with the worker's resident memory (and GPU memory in use) logged before and after."""
    _log_memory(log, "start", run.gpus)
    train(config, data, run)
    gc.collect()
    _log_memory(log, "end", run.gpus)


def _log_memory(path: str, when: str, gpus: float) -> None:
    import psutil

    line = {"pid": os.getpid(), "when": when, "time": time.time(), "rss": psutil.Process().memory_info().rss,
            "gpu": _gpu_bytes_in_use() if gpus and when == "end" else None}
    with open(path, "a") as file:
        file.write(json.dumps(line) + "\n")


def _gpu_bytes_in_use() -> int | None:
    """What TensorFlow's allocator holds for live tensors on the trial's first GPU (None: no GPU visible)."""
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        return None
    return int(tf.config.experimental.get_memory_info("GPU:0")["current"])
