"""A reused Ray worker's resident memory over many small Keras trials, and why it grows.

Trials run one at a time in one worker (tunelab's runner reuses actors); the worker logs its
RSS before and after each trial (after a gc), so a leak shows as a trend across trials. The leak
this found (TensorFlow's gradient registry, +47% over 50 trials) is fixed in
`tunelab.trainables.tf_setup.released_custom_gradients`. The `images` variant reads the digits
as PNG files (`images:`), so the worker builds and caches its tf.data pipeline on its first
trial and reuses it in the next ones. The `gpu` variant, run only where a GPU is visible, also logs
the GPU memory TensorFlow holds after each trial, which should return to where it was.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.local_ray import local_ray
from benchmarks.task import StudyTask
from benchmarks.measured_trainable import measured_train
from tunelab.experiments.run.runner import RayJob, run_job
from tunelab.experiments.strategies import Budget, Plan, check_options, plan_strategy
from tunelab.searchspaces import Space
from tunelab.trainables import RunSettings, load_dataset


def random_plan(space: Space, trials: int, metric: str, mode: str, epochs: int = 1) -> tuple[Plan, Budget]:
    """tunelab's random strategy over `space`, seed 0, through the registry."""
    budget = Budget(metric, mode, epochs)
    return plan_strategy(space, "random", check_options("random", {"num_samples": trials, "seed": 0}), budget), budget


@dataclass(frozen=True)
class WorkerMemory:
    trials: int
    epochs: int                # per trial
    workers: int               # distinct worker processes that ran trials (1: reused throughout)
    after_mb: list[float]      # the worker's RSS after each trial, in order
    first_mb: float
    last_mb: float
    max_deviation: float       # max |after_k - after_1| / after_1
    settled_deviation: float   # the same from trial 5 on, relative to trial 5 (after warm-up)
    growth_mb_per_trial: float  # least-squares slope from trial 5 on
    fifth_mb: float            # after trial 5 (or the last, if fewer), once the worker has warmed up
    last_over_fifth: float     # last_mb / fifth_mb: the goal is <= 1.05 after 50 trials
    gpu_after_mb: list[float] | None = None  # GPU memory TensorFlow holds after each trial (None: no GPU)


MEMORY_VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    # name: (what it shows, worker environment)
    "tunelab": ("tunelab's trainable as shipped", {}),
    "no_onednn": ("the same, oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "images": ("the same, the digits read as PNG files (images:) by the worker's cached pipeline", {}),
    "gpu": ("tunelab's trainable, each trial on one GPU", {}),  # only where the machine has one
}


def digit_image_folder(folder: Path) -> str:
    """scikit-learn's digits as PNG files in a folder per class, as the `images:` source that names it."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype("uint8")).save(folder / str(label) / f"{i}.png")
    return f"images:{folder}"


_VARIANT_DATA = {"images": digit_image_folder}  # variants that train on other data than the task's: its writer


def reused_worker_memory(task: StudyTask, trials: int, epochs: int, storage: str, variant: str = "tunelab"
                         ) -> WorkerMemory:
    """`trials` small Keras trials of the study's space, one at a time in one reused worker (tunelab's runner).

    The GPU variant's trials reserve one GPU each; the others run on the CPU.
    """
    from ray import tune

    gpus = 1 if variant == "gpu" else 0
    _, env = MEMORY_VARIANTS[variant]
    write = _VARIANT_DATA.get(variant)
    data = load_dataset(write(Path(storage) / "digit_images") if write else task.data, seed=0)
    plan, budget = random_plan(task.searched_space(), trials, task.metric, task.mode, epochs)
    log = Path(storage) / f"worker_memory_{variant}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    settings = RunSettings(model=task.space, epochs=epochs, batch_size=task.batch_size, seed=0, gpus=gpus)
    trainable = tune.with_parameters(measured_train, data=data, run=settings, log=str(log))
    with local_ray(1, env):
        job = RayJob(trainable=tune.with_resources(trainable, {"cpu": 1, "gpu": gpus}), plan=plan,
                     metric=task.metric, mode=task.mode, storage=storage, name=f"reused-worker-{variant}",
                     events=budget.events,
                     record={"name": "reused-worker", "metric": task.metric, "mode": task.mode, "epochs": epochs},
                     max_concurrent_trials=1, max_failures=0, max_consecutive_failures=0)
        run_job(job)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return summarize_memory([line for line in lines if line["when"] == "end"], epochs)


def summarize_memory(ends: list[dict[str, Any]], epochs: int) -> WorkerMemory:
    after = [line["rss"] / 2**20 for line in ends]
    first, settled = after[0], after[min(4, len(after) - 1)]
    tail = after[4:] if len(after) > 5 else after
    slope = _slope(tail)
    gpu = [line.get("gpu") for line in ends]
    return WorkerMemory(
        trials=len(after), epochs=epochs, workers=len({line["pid"] for line in ends}), after_mb=after,
        first_mb=first, last_mb=after[-1], max_deviation=max(abs(a - first) for a in after) / first,
        settled_deviation=max(abs(a - settled) for a in tail) / settled, growth_mb_per_trial=slope,
        fifth_mb=settled, last_over_fifth=after[-1] / settled,
        gpu_after_mb=[value / 2**20 for value in gpu] if all(value is not None for value in gpu) else None,
    )


def _slope(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    xs = range(len(values))
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(values)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values)) / sum((x - mean_x) ** 2 for x in xs)
