"""A fresh local Ray per measured run, sized to the study's concurrency, started the way the runner starts it."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator, Mapping


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
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False, runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}})
    try:
        yield
    finally:
        ray.shutdown()
