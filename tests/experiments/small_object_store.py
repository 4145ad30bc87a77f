"""A run on a memory-mapped .npz of 200 MB under an 80 MiB Ray object store; run by test_streamed_runs.py in its own
process, since the store's size is fixed when Ray starts. The store's use is sampled while the run goes on: Ray would
take an object larger than the store too (it allocates past it on disk), so finishing alone would prove nothing.

Usage: python small_object_store.py WORK_DIR -> prints one JSON line.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import ray

from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict

STORE = 80 * 2**20  # a little above Ray's smallest object store


def write_data(path: Path) -> int:
    """50,000 rows of 1,000 float32 features (200 MB), centred noise but for ten that give the label away."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50_000)
    x = rng.random((50_000, 1_000), dtype=np.float32)
    x -= 0.5
    x[:, :10] += y[:, np.newaxis]
    np.savez(path, x=x, y=y)
    return x.nbytes


def store_mib() -> float:
    """What the object store holds: Ray counts its free part as the `object_store_memory` resource."""
    key = "object_store_memory"
    return (ray.cluster_resources()[key] - ray.available_resources().get(key, 0)) / 2**20


def settled(holds: Callable[[], bool]) -> None:
    """Waits (10 s at most) until `holds`: Ray's resource view trails the store by a moment."""
    deadline = time.monotonic() + 10
    while not holds() and time.monotonic() < deadline:
        time.sleep(0.1)


def sample_store(seen: dict[str, float], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        seen.update(peak=max(seen["peak"], store_mib()), samples=seen["samples"] + 1)


def main(work: Path) -> dict:
    data_bytes = write_data(work / "big.npz")
    ray.init(address="local", num_cpus=1, object_store_memory=STORE, include_dashboard=False,
             logging_level=logging.WARNING, log_to_driver=False,
             runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}})
    probe = ray.put(np.zeros(16 * 2**20, np.uint8))  # the sampling sees what is in the store
    settled(lambda: store_mib() >= 16)
    seen = {"probe": store_mib(), "peak": 0, "samples": 0}
    del probe
    settled(lambda: store_mib() < 1)
    stop = threading.Event()
    sampler = threading.Thread(target=sample_store, args=(seen, stop), daemon=True)
    sampler.start()
    outcome = run(prepare(spec_from_dict({
        "name": "big", "trainable": "mlp", "data": {"source": f"npz:{work / 'big.npz'}", "memory_map": True},
        "space": {"num_layers": 1, "units_1": 8, "learning_rate": 0.01},
        "strategy": {"name": "random", "num_samples": 1},
        "epochs": 1, "batch_size": 2000, "storage": str(work / "results"),
    })))
    stop.set()
    sampler.join()
    ray.shutdown()
    (work / "big.npz").unlink()  # 200 MB that pytest would keep with its last runs' folders
    return {"trials": outcome.trials, "errored": outcome.errored, "best": outcome.best_value,
            "data_mib": data_bytes / 2**20, "store_mib": STORE / 2**20, "used_mib": seen}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
