"""A fresh local Ray per measured run, sized to the study's concurrency, started the way the runner starts it."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Mapping

from tunelab.experiments.run.runner import start_local_ray

REPOSITORY = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def local_ray(num_cpus: int, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Starts Ray with `num_cpus` CPUs (the runner's own settings otherwise) and shuts it down afterwards.

    Each run gets its own Ray, so no run inherits the warm worker processes of the one before;
    tunelab's runner joins a Ray that is already running instead of starting one. `env` is set
    in every worker process.
    """
    import ray

    if ray.is_initialized():
        raise RuntimeError("a benchmark run needs its own Ray, but one is already running in this process")
    # The harness is not installed: workers unpickling its trainables find it through PYTHONPATH,
    # wherever scripts/benchmark.py was started from.
    pythonpath = os.pathsep.join(filter(None, (str(REPOSITORY), os.environ.get("PYTHONPATH"))))
    start_local_ray(num_cpus, {"PYTHONPATH": pythonpath, **(env or {})})
    try:
        yield
    finally:
        ray.shutdown()
