"""One local Ray for the whole test run: starting Ray and importing TF per test would dominate."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray with two CPUs, shared by every test that asks for it."""
    import ray

    from tunelab.experiments.run.runner import start_local_ray

    if not ray.is_initialized():
        start_local_ray(num_cpus=2)  # never joins a cluster another test (or a crash) left running
    yield ray
    ray.shutdown()


GPU_VISIBILITY = os.environ.get("CUDA_VISIBLE_DEVICES")  # as the test run started


@pytest.fixture(autouse=True)
def gpu_visibility_as_the_run_started():
    """A CPU-only trial hides the GPUs by setting CUDA_VISIBLE_DEVICES in its process: one trained inside
    the test process (a test or its fixture) must not pass that on to what later tests start (a cluster
    with simulated GPUs), whichever tests ran before it in this process."""
    yield
    if GPU_VISIBILITY is None:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = GPU_VISIBILITY


def pytest_collection_modifyitems(items: list) -> None:
    """A test that uses the shared Ray session, directly or through a fixture, is marked `ray`."""
    for item in items:
        if "ray_session" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ray)
