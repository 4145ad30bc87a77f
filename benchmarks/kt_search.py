"""A study entry run by KerasTuner itself (the library, not tunelab's facade), in a process of its own.

KerasTuner trains one trial at a time in the process that calls `search`; that process gets
TensorFlow thread pools of the study's concurrency (2 threads for 2 concurrent Ray trials of
1 CPU each), so both sides use the same cores. The wall time runs from the process's start,
TensorFlow import included as it is in Ray's workers, to the end of `search`.

    python -m benchmarks.kt_search REQUEST.json   # what run_kerastuner starts (from the repository root)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.compare import HISTORY_COLUMNS
from benchmarks.memory import PeakMemory, process_tree
from benchmarks.record import RunRecord
from benchmarks.task import Entry, StudyTask

EPOCHS_FILE = "epochs.jsonl"
RESULT_FILE = "result.json"


class KerasTunerError(RuntimeError):
    """The KerasTuner process failed; the message ends with the tail of its output."""


def run_kerastuner(task: StudyTask, entry: Entry, seed: int, storage: str) -> RunRecord:
    """Starts the KerasTuner process for `entry`, samples its memory, and reads the epochs it logged."""
    folder = Path(storage) / f"{entry.name}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=False)
    request = {"task": task.as_dict(), "tuner": entry.strategy, "options": dict(entry.options), "seed": seed,
               "threads": task.concurrency, "folder": str(folder)}
    (folder / "request.json").write_text(json.dumps(request, indent=2))
    repository = str(Path(__file__).resolve().parents[1])  # benchmarks/ is not installed: import it from here
    pythonpath = os.pathsep.join(filter(None, (repository, os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": pythonpath}
    started = time.time()
    with open(folder / "output.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", __name__, str(folder / "request.json")], stdout=log,
                                   stderr=subprocess.STDOUT, env=env)
        with PeakMemory(process_tree(process.pid)) as memory:
            code = process.wait()
    if code != 0 or not (folder / RESULT_FILE).exists():
        tail = (folder / "output.log").read_text(errors="replace").strip().splitlines()[-15:]
        raise KerasTunerError(f"{entry.name} seed {seed}: KerasTuner exited with {code}:\n" + "\n".join(tail))
    result = json.loads((folder / RESULT_FILE).read_text())
    wall = result["ended"] - started
    epochs = pd.read_json(folder / EPOCHS_FILE, lines=True) if (folder / EPOCHS_FILE).stat().st_size else None
    history = pd.DataFrame(columns=[*HISTORY_COLUMNS, task.metric])
    if epochs is not None:
        history = pd.DataFrame({
            "name": entry.name, "seed": seed, "trial_id": epochs["trial_id"].astype(str),
            "epoch": epochs["epoch"].astype("int64"), "elapsed_s": epochs["time"] - started,
            "time_total_s": epochs["time_total_s"].astype("float64"),
            task.metric: epochs[task.metric].astype("float64") if task.metric in epochs else float("nan"),
        }, columns=[*HISTORY_COLUMNS, task.metric])
    return RunRecord(entry.name, entry.tool, seed, wall, 1, int(result["trials"]), memory.peak_mb, history,
                     str(folder))


# --- inside the KerasTuner process ------------------------------------------------------------------


def _search(request: dict[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(request["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(request["threads"])
    import keras
    import keras_tuner

    from benchmarks.kt_space import declare
    from tunelab.trainables.compile import compile_model
    from tunelab.trainables.data import load_dataset
    from tunelab.trainables.models import build_model

    task = StudyTask(**request["task"])
    seed, folder = request["seed"], Path(request["folder"])
    space = task.searched_space()
    data = load_dataset(task.data, seed=seed)
    steps = -(-len(data.x_train) // task.batch_size)

    def build(hp: Any) -> keras.Model:
        keras.utils.set_random_seed(seed)  # the same initial weights as tunelab's trial of this configuration
        config = declare(hp, space)
        model = build_model(config, data.input_shape, data.num_classes, task.space)
        compile_model(model, config, steps_per_epoch=steps, epochs=task.epochs)
        return model

    class EpochLog(keras.callbacks.Callback):
        """Appends every epoch to a file: KerasTuner deep-copies callbacks, so nothing is kept in memory."""

        def __init__(self, trial_id: str, path: str) -> None:
            super().__init__()
            self.trial_id, self.path, self.began = trial_id, path, 0.0

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.began = time.time()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            now = time.time()
            line = {"trial_id": self.trial_id, "epoch": epoch + 1, "time": now, "time_total_s": now - self.began,
                    **{key: float(value) for key, value in (logs or {}).items()}}
            with open(self.path, "a") as file:
                file.write(json.dumps(line) + "\n")

    base = getattr(keras_tuner, request["tuner"])

    class Logged(base):  # type: ignore[misc, valid-type]
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), EpochLog(trial.trial_id, str(folder / EPOCHS_FILE))]
            return super().run_trial(trial, *args, **kwargs)

    (folder / EPOCHS_FILE).touch()
    tuner = Logged(build, objective=keras_tuner.Objective(task.metric, task.mode), seed=seed,
                   directory=str(folder), project_name="kerastuner", overwrite=True, **request["options"])
    tuner.search(data.x_train, keras.utils.to_categorical(data.y_train, data.num_classes),
                 validation_data=(data.x_val, keras.utils.to_categorical(data.y_val, data.num_classes)),
                 batch_size=task.batch_size, epochs=task.epochs, verbose=0)  # Hyperband sets its own
    ended = time.time()
    return {"ended": ended, "trials": len(tuner.oracle.trials)}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text())
    result = _search(request)
    (Path(request["folder"]) / RESULT_FILE).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
