"""Raw Ray Tune on the study's task: tunelab's random-search trials without tunelab's layer, to measure it.

The same configurations (the same Space sampled with the same seed), the same data split,
model, compilation, seeds, thread settings and per-epoch checkpoints; what is missing is what
tunelab adds: spec validation, its searcher, callbacks, stopper, event log and trial names.
Written the way a Ray user would: a grid over the list of configurations, a function
trainable with a small Keras reporting callback.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tunelab.analysis.load import load
from benchmarks.local_ray import local_ray
from benchmarks.memory import PeakMemory
from benchmarks.record import RunRecord, history_from_results
from benchmarks.task import Entry, StudyTask
from tunelab.trainables import Dataset, load_dataset


def train_raw(config: dict[str, Any], data: Dataset, epochs: int, batch_size: int, seed: int) -> None:
    """One trial: the model tunelab's cnn family builds, fitted with a checkpoint reported every epoch."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import tensorflow as tf

    try:  # one CPU per trial, as tunelab sizes TensorFlow's thread pools
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # a reused worker keeps the pools it has
    import keras
    from ray import tune

    from tunelab.trainables.compile import compile_model
    from tunelab.trainables.models import build_model

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            metrics = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            if not math.isfinite(metrics.get("loss", 0.0)):
                raise RuntimeError(f"loss became {metrics['loss']}")
            with tempfile.TemporaryDirectory() as folder:
                self.model.save(Path(folder) / "model.keras")
                (Path(folder) / "state.json").write_text(json.dumps({"epoch": epoch + 1}))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    hp = config["hp"]
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_model(hp, data.input_shape, data.num_classes, "cnn")
    compile_model(model, hp, steps_per_epoch=math.ceil(len(data.x_train) / batch_size), epochs=epochs)
    model.fit(data.x_train, keras.utils.to_categorical(data.y_train, data.num_classes),
              validation_data=(data.x_val, keras.utils.to_categorical(data.y_val, data.num_classes)),
              batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[Report()])


def run_raw_ray(task: StudyTask, entry: Entry, seed: int, storage: str) -> RunRecord:
    """tunelab's `random` trials for `seed`, run by tune.Tuner directly."""
    from ray import tune

    started, clock = time.time(), time.monotonic()
    data = load_dataset(task.data, seed=seed)
    configs = task.searched_space().sample_many(int(entry.options["num_samples"]), seed=seed)
    name = f"{entry.name}-seed{seed}"
    with local_ray(task.concurrency), PeakMemory() as memory:
        trainable = tune.with_parameters(train_raw, data=data, epochs=task.epochs, batch_size=task.batch_size,
                                         seed=seed)
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"hp": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(metric=task.metric, mode=task.mode, reuse_actors=True),
            run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=0),
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
        )
        results = tuner.fit()
        wall = time.monotonic() - clock
    path = str(Path(storage) / name)
    loaded = load(path)
    return RunRecord(entry.name, entry.tool, seed, wall, task.concurrency, len(results), memory.peak_mb,
                     history_from_results(loaded, started, entry.name, seed, task.metric), path)
