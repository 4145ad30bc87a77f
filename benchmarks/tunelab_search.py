"""A study entry run by tunelab itself: the YAML path (spec, prepare, run), on its own local Ray."""
from __future__ import annotations

import time

from benchmarks.local_ray import local_ray
from benchmarks.memory import PeakMemory
from benchmarks.record import RunRecord, history_from_results
from benchmarks.task import Entry, StudyTask, spec_dict
from tunelab.analysis.load import load
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict


def run_tunelab(task: StudyTask, entry: Entry, seed: int, storage: str) -> RunRecord:
    """Runs `entry` as a user would run its YAML; the wall time starts before the spec is read."""
    started, clock = time.time(), time.monotonic()
    spec = spec_from_dict(spec_dict(task, entry, seed, storage))
    prepared = prepare(spec, name=spec.name)
    with local_ray(task.concurrency), PeakMemory() as memory:
        outcome = run(prepared)
        wall = time.monotonic() - clock
    results = load(outcome.path)
    return RunRecord(entry.name, entry.tool, seed, wall, task.concurrency, len(results.trials), memory.peak_mb,
                     history_from_results(results, started, entry.name, seed, task.metric), outcome.path)
