"""One local Ray for the whole test run: starting Ray and importing TF per test would dominate."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray with two CPUs, shared by every test that asks for it."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",  # never join a cluster another test (or a crash) left running
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}},
        )
    yield ray
    ray.shutdown()
