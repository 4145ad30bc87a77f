"""tunelab's own cost: trivial trials through tunelab and through raw Ray Tune, and a reused worker's memory.

Trivial trials report once and do nothing else, so the wall time is all framework: Ray's
trial bookkeeping plus, on tunelab's side, its searcher, callbacks, stopper and event log.
The memory half is benchmarks.worker_memory.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from benchmarks.gpu import visible_gpus
from benchmarks.local_ray import local_ray
from benchmarks.task import StudyTask
from benchmarks.worker_memory import MEMORY_VARIANTS, random_plan, reused_worker_memory
from tunelab.experiments.run.runner import RayJob, run_job
from tunelab.searchspaces import Float, Space

TRIVIAL_SPACE = Space({"x": Float(0.0, 1.0)})


def trivial(config: dict[str, Any]) -> None:
    """A trial that only reports: what is left of its wall time is the framework's."""
    from ray import tune

    tune.report({"score": config["x"]})


@dataclass(frozen=True)
class TrivialTiming:
    tool: str
    trials: int
    wall_s: float     # Ray start-up included
    fit_s: float      # Tuner.fit (tunelab: run_job) only

    @property
    def trials_per_s(self) -> float:
        return self.trials / self.fit_s if self.fit_s else float("nan")


def tunelab_trivial(trials: int, storage: str, concurrency: int) -> TrivialTiming:
    """`trials` trivial trials as a tunelab random search (RayJob + run_job, tunelab's whole Ray layer)."""
    from ray import tune

    plan, budget = random_plan(TRIVIAL_SPACE, trials, "score", "max")
    clock = time.monotonic()
    with local_ray(concurrency):
        fitting = time.monotonic()
        job = RayJob(trainable=tune.with_resources(trivial, {"cpu": 1}), plan=plan, metric="score", mode="max",
                     storage=storage, name="trivial-tunelab", events=budget.events,
                     record={"name": "trivial", "metric": "score", "mode": "max", "epochs": 1,
                             "strategy": {"name": "random", "num_samples": trials, "seed": 0}},
                     max_failures=0, max_consecutive_failures=0)
        outcome = run_job(job)
        fit = time.monotonic() - fitting
    if outcome.trials != trials:
        raise RuntimeError(f"tunelab ran {outcome.trials} of {trials} trivial trials")
    return TrivialTiming("tunelab", trials, time.monotonic() - clock, fit)


def ray_trivial(trials: int, storage: str, concurrency: int, json_only: bool = False) -> TrivialTiming:
    """The same configurations through tune.Tuner directly.

    `json_only` keeps only Ray's JSON logger (result.json, what analysis.load reads) instead of
    its default JSON, CSV and TensorBoard loggers: the TensorBoard one opens a writer and
    fsyncs its file for every trial.
    """
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    xs = [config["x"] for config in TRIVIAL_SPACE.sample_many(trials, seed=0)]
    clock = time.monotonic()
    with local_ray(concurrency), _environment({"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"} if json_only else {}):
        fitting = time.monotonic()
        results = tune.Tuner(
            tune.with_resources(trivial, {"cpu": 1}), param_space={"x": tune.grid_search(xs)},
            tune_config=tune.TuneConfig(metric="score", mode="max", reuse_actors=True),
            run_config=tune.RunConfig(name="trivial-ray-json" if json_only else "trivial-ray", storage_path=storage,
                                      verbose=0, failure_config=tune.FailureConfig(max_failures=0),
                                      callbacks=[JsonLoggerCallback()] if json_only else None),
        ).fit()
        fit = time.monotonic() - fitting
    if len(results) != trials:
        raise RuntimeError(f"Ray ran {len(results)} of {trials} trivial trials")
    return TrivialTiming("ray, JSON logger only" if json_only else "ray", trials, time.monotonic() - clock, fit)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the whole benchmark ----------------------------------------------------------------------


def run_overhead(task: StudyTask, trials: int, memory_trials: int, memory_epochs: int, work: Path,
                 on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Trivial trials both ways, then the reused worker; a JSON-able summary."""
    from benchmarks.machine import describe_machine

    say = on_step or (lambda message: None)
    result: dict[str, Any] = {"machine": describe_machine()}
    say(f"{trials} trivial trials through tunelab ...")
    mine = tunelab_trivial(trials, str(work / "tunelab"), task.concurrency)
    say(f"  {mine.wall_s:.1f} s ({mine.fit_s:.1f} s fitting, {mine.trials_per_s:.1f} trials/s)")
    say(f"{trials} trivial trials through raw Ray Tune ...")
    raw = ray_trivial(trials, str(work / "ray"), task.concurrency)
    say(f"  {raw.wall_s:.1f} s ({raw.fit_s:.1f} s fitting, {raw.trials_per_s:.1f} trials/s)")
    say(f"{trials} trivial trials through raw Ray Tune with only its JSON logger ...")
    lean = ray_trivial(trials, str(work / "ray-json"), task.concurrency, json_only=True)
    say(f"  {lean.wall_s:.1f} s ({lean.fit_s:.1f} s fitting, {lean.trials_per_s:.1f} trials/s)")
    result["trivial"] = {"trials": trials, "concurrency": task.concurrency,
                         "tunelab": {**asdict(mine), "trials_per_s": mine.trials_per_s},
                         "ray": {**asdict(raw), "trials_per_s": raw.trials_per_s},
                         "ray_json_only": {**asdict(lean), "trials_per_s": lean.trials_per_s},
                         "ratio": mine.wall_s / raw.wall_s, "fit_ratio": mine.fit_s / raw.fit_s}
    result["memory"] = {}
    has_gpu = bool(visible_gpus())
    for variant, (what, _) in MEMORY_VARIANTS.items():
        if variant == "gpu" and not has_gpu:
            continue
        say(f"{memory_trials} Keras trials of {memory_epochs} epochs in one reused worker, {what} ...")
        memory = reused_worker_memory(task, memory_trials, memory_epochs, str(work / "memory"), variant)
        say(f"  {memory.first_mb:.0f} MB after trial 1, {memory.fifth_mb:.0f} MB after trial 5, "
            f"{memory.last_mb:.0f} MB after trial {memory.trials} ({memory.last_over_fifth:.3f}x trial 5), "
            f"largest deviation {memory.max_deviation:.1%} ({memory.workers} worker process(es))")
        if memory.gpu_after_mb:
            say(f"  GPU memory in use after each trial: {_mb_list(memory.gpu_after_mb)} MB")
        result["memory"][variant] = asdict(memory)
    return result


MEMORY_CAUSE = (
    "Why a reused worker grew before tunelab released the registrations: Keras 3's TensorFlow optimizer sums "
    "gradients with `tf.distribute`'s `ReplicaContext.all_reduce`, which wraps them in `tf.custom_gradient`; every "
    "trace of a train step registers a `CustomGradient-<uid>` function in TensorFlow's global gradient registry, "
    "which nothing removes and whose closure holds the traced graph, so each trial's model graph stayed in the "
    "worker (+47% over 50 trials). The trainables now drop those registrations when the trial ends "
    "(`tunelab.trainables.tf_setup.released_custom_gradients`). Since 2026-12-06 a worker also imports TensorFlow "
    "without Keras's scikit-learn and matplotlib extras (~100 MB), hands back the trial's Keras state and glibc's "
    "freed heap when a trial ends (`release_trial_memory`), and a local Ray's workers cap glibc's heaps "
    "(MALLOC_ARENA_MAX=2: each trial runs in a new thread). What remains with oneDNN on is native memory its "
    "kernels keep, ~1.3 MB a trial: not its primitive cache (ONEDNN_PRIMITIVE_CACHE_CAPACITY=8 changes nothing); "
    "with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0) the worker stays nearly flat. "
    "KerasTuner, which builds every model in one process, keeps the registrations."
)


def overhead_markdown(result: dict[str, Any]) -> str:
    from benchmarks.machine import summary_line

    trivial_, memory = result["trivial"], result["memory"]
    first = next(iter(memory.values()))
    mine, raw, lean = trivial_["tunelab"], trivial_["ray"], trivial_.get("ray_json_only")
    return "\n".join([
        "# tunelab overhead",
        "",
        f"Machine: {summary_line(result['machine'])}; load average (1 min) "
        f"{result['machine']['load_average_1min']} at the start.",
        "",
        f"## {trivial_['trials']} trivial trials ({trivial_['concurrency']} at once, 1 CPU each, reuse_actors)",
        "",
        "| | wall s (Ray start-up included) | fit s | trials/s |",
        "|---|---|---|---|",
        f"| tunelab (random search, RayJob + run_job) | {mine['wall_s']:.1f} | {mine['fit_s']:.1f} | "
        f"{mine['trials_per_s']:.1f} |",
        f"| raw Ray Tune (grid over the same values) | {raw['wall_s']:.1f} | {raw['fit_s']:.1f} | "
        f"{raw['trials_per_s']:.1f} |",
        *([f"| raw Ray Tune, JSON logger only (no CSV, no TensorBoard) | {lean['wall_s']:.1f} | {lean['fit_s']:.1f} | "
           f"{lean['trials_per_s']:.1f} |"] if lean else []),
        f"| tunelab / raw | {trivial_['ratio']:.2f}x | {trivial_['fit_ratio']:.2f}x | |",
        "",
        f"## A reused worker over {first['trials']} Keras trials ({first['epochs']} epochs each, 1 at a time)",
        "",
        "| worker | processes | after trial 1 MB | after trial 5 MB | after the last MB | last / trial 5 | "
        "largest deviation from trial 1 | from trial 5 on | trend MB/trial |",
        "|---|---|---|---|---|---|---|---|---|",
        *(f"| {MEMORY_VARIANTS[name][0]} | {m['workers']} | {m['first_mb']:.0f} | {m['fifth_mb']:.0f} | "
          f"{m['last_mb']:.0f} | {m['last_over_fifth']:.3f}x | {m['max_deviation']:.1%} | "
          f"{m['settled_deviation']:.1%} | {m['growth_mb_per_trial']:+.2f} |"
          for name, m in memory.items()),
        "",
        MEMORY_CAUSE,
        "",
        *(f"RSS after each trial, {MEMORY_VARIANTS[name][0]} (MB): {_mb_list(m['after_mb'])}\n"
          for name, m in memory.items()),
        *(f"GPU memory in use after each trial, {MEMORY_VARIANTS[name][0]} (MB): {_mb_list(m['gpu_after_mb'])}\n"
          for name, m in memory.items() if m.get("gpu_after_mb")),
    ])


def _mb_list(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)
