"""GPUs as users run them: trials per hour and how busy the GPU is at 1, 0.5 and 0.25 GPU per trial, tunelab vs
raw Ray Tune on the same trials, and one 2-GPU MirroredStrategy trial where the machine has two.

The task is a CNN on 32x32x3 images generated in memory (no download), big enough that one trial keeps a
GPU busy; the GPU's busy fraction is sampled with nvidia-smi while each run fits. The driver never imports
TensorFlow: every trial sets up its own share of the card (tunelab.trainables.gpu_setup).
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.local_ray import local_ray
from benchmarks.worker_memory import random_plan
from tunelab.experiments.run.runner import RayJob, run_job
from tunelab.searchspaces import Fixed, Float, Space
from tunelab.trainables import Dataset, RunSettings, train

SHARES = (1.0, 0.5, 0.25)  # GPU per trial
TRIALS, EPOCHS, SAMPLES = 8, 2, 20_000
CNN = {"num_conv_layers": 3, "filters_1": 64, "filters_2": 128, "filters_3": 256, "kernel_size": 3,
       "dense_units": 256, "batch_size": 128}
SAMPLE_EVERY_S = 0.5


def visible_gpus() -> list[str]:
    """The GPU names nvidia-smi lists (what Ray will find); [] without nvidia-smi or a GPU."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        answer = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in answer.stdout.splitlines() if line.strip()]


class BusySampler:
    """Samples every GPU's utilization with nvidia-smi while it runs; `busy` is the mean fraction of time busy."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> BusySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            try:
                answer = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                        capture_output=True, text=True, timeout=5, check=True)
                self.samples.append(float(np.mean([float(v) for v in answer.stdout.split()])) / 100)
            except (OSError, subprocess.SubprocessError, ValueError):
                continue

    @property
    def busy(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


@dataclass(frozen=True)
class GpuRun:
    tool: str             # tunelab or ray
    gpu_per_trial: float
    trials: int
    wall_s: float         # fit only
    busy: float           # mean GPU utilization while fitting

    @property
    def trials_per_hour(self) -> float:
        return self.trials * 3600 / self.wall_s


def images(seed: int = 0) -> Dataset:
    """Random 32x32x3 images whose class is the brightest of 10 image regions: learnable, generated in memory."""
    rng = np.random.default_rng(seed)
    x = rng.random((SAMPLES, 32, 32, 3), dtype=np.float32)
    y = (x[:, :, :30].reshape(SAMPLES, 10, -1).mean(axis=2).argmax(axis=1)).astype("int64")
    split = SAMPLES * 4 // 5
    return Dataset("images", x[:split], y[:split], x[split:], y[split:], num_classes=10)


def raw_ray_train(config: dict[str, Any], data: Dataset) -> None:
    """The same CNN in plain Keras under Ray Tune, the way its examples do it: memory growth, report each epoch."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    import keras
    from ray import tune

    from tunelab.trainables.compile import compile_model
    from tunelab.trainables.models import build_model

    model = build_model(config, data.input_shape, data.num_classes, "cnn")
    compile_model(model, config, steps_per_epoch=len(data.x_train) // config["batch_size"], epochs=EPOCHS)

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            tune.report({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})

    y = keras.utils.to_categorical
    model.fit(data.x_train, y(data.y_train, 10), validation_data=(data.x_val, y(data.y_val, 10)),
              batch_size=config["batch_size"], epochs=EPOCHS, verbose=0, callbacks=[Report()])


def _cpus_per_trial(cpus: int, share: float) -> int:
    return max(1, int(cpus * share))


def tunelab_run(data: Dataset, share: float, gpus: float, cpus: int, storage: str) -> GpuRun:
    from ray import tune

    space = Space({**{k: Fixed(v) for k, v in CNN.items()}, "learning_rate": Float(1e-4, 1e-2, log=True)})
    plan, budget = random_plan(space, TRIALS, "val_accuracy", "max", EPOCHS)
    per_trial = {"cpu": _cpus_per_trial(cpus, share), "gpu": gpus}
    run = RunSettings(model="cnn", epochs=EPOCHS, cpus=per_trial["cpu"], gpus=gpus, batch_size=CNN["batch_size"])
    job = RayJob(trainable=tune.with_resources(tune.with_parameters(train, data=data, run=run), per_trial),
                 plan=plan, metric="val_accuracy", mode="max", storage=storage, name=f"tunelab-{gpus}",
                 events=budget.events, resources=per_trial, epochs_per_trial=EPOCHS,
                 record={"name": "gpu", "metric": "val_accuracy", "mode": "max", "epochs": EPOCHS})
    with local_ray(cpus), BusySampler() as sampler:
        clock = time.monotonic()
        run_job(job)
        wall = time.monotonic() - clock
    return GpuRun("tunelab", gpus, TRIALS, wall, sampler.busy)


def ray_run(data: Dataset, share: float, cpus: int, storage: str) -> GpuRun:
    from ray import tune

    rates = np.geomspace(1e-4, 1e-2, TRIALS)
    space = {**CNN, "learning_rate": tune.grid_search([float(rate) for rate in rates])}
    trainable = tune.with_resources(tune.with_parameters(raw_ray_train, data=data),
                                    {"cpu": _cpus_per_trial(cpus, share), "gpu": share})
    with local_ray(cpus), BusySampler() as sampler:
        clock = time.monotonic()
        tune.Tuner(trainable, param_space=space, run_config=tune.RunConfig(storage_path=storage, name=f"ray-{share}",
                                                                          verbose=0)).fit()
        wall = time.monotonic() - clock
    return GpuRun("ray", share, TRIALS, wall, sampler.busy)


def run_gpu_benchmark(work: Path, cpus: int, gpus: list[str], say: Callable[[str], None]) -> dict[str, Any]:
    """Every share both ways, then a 2-GPU trial where there are two; a JSON-able summary."""
    data = images()
    runs = []
    for share in SHARES:
        for tool in ("tunelab", "ray"):
            say(f"{TRIALS} CNN trials of {EPOCHS} epochs at {share} GPU per trial through {tool} ...")
            storage = str(work / f"{tool}-{share}")
            run = tunelab_run(data, share, share, cpus, storage) if tool == "tunelab" else ray_run(data, share, cpus,
                                                                                                 storage)
            say(f"  {run.wall_s:.0f} s, {run.trials_per_hour:.0f} trials/h, GPU busy {run.busy:.0%}")
            runs.append({**asdict(run), "trials_per_hour": run.trials_per_hour})
    result: dict[str, Any] = {"gpus": gpus, "cpus": cpus, "runs": runs, "mirrored": None}
    if len(gpus) >= 2:
        say(f"{TRIALS} CNN trials on 2 GPUs each (MirroredStrategy) through tunelab ...")
        run = tunelab_run(data, 1.0, 2.0, cpus, str(work / "tunelab-2"))
        say(f"  {run.wall_s:.0f} s, {run.trials_per_hour:.0f} trials/h, GPU busy {run.busy:.0%}")
        result["mirrored"] = {**asdict(run), "trials_per_hour": run.trials_per_hour}
    return result


def gpu_markdown(result: dict[str, Any]) -> str:
    lines = [f"GPUs: {', '.join(result['gpus'])}; {result['cpus']} CPUs", "",
             "| GPU per trial | tool | trials/h | GPU busy | wall s |", "|---|---|---|---|---|"]
    rows = result["runs"] + ([result["mirrored"]] if result["mirrored"] else [])
    lines += [f"| {run['gpu_per_trial']:g} | {run['tool']} | {run['trials_per_hour']:.0f} | {run['busy']:.0%} | "
              f"{run['wall_s']:.0f} |" for run in rows]
    return "\n".join(lines) + "\n"
