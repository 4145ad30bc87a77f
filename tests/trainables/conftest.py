"""Fixtures for the trainables tests: the digits data set and a local Ray."""

from __future__ import annotations

from typing import Iterator

import pytest

from trainables import Dataset, load_dataset


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A 2-CPU local Ray, unless a session-wide one is already running (then it is left up)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()
