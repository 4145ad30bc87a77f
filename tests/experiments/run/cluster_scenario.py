"""A local multi-node Ray cluster with simulated GPUs; run by test_cluster.py in its own process.

Usage: python cluster_scenario.py RESULTS_DIR  -> prints one JSON line: each scenario's summary.

Both scenarios run on one cluster (starting one takes a while): two nodes of 2 CPUs and 1 GPU each.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from tunelab.analysis import load
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict


def experiment(storage: str, **changes) -> dict:
    return {
        "name": "cluster", "trainable": "mlp", "data": "digits",
        "space": {"units_1": {"type": "int", "low": 8, "high": 32}, "num_layers": 1},
        "strategy": {"name": "random", "num_samples": 4, "seed": 0},
        "epochs": 3, "batch_size": 256, "storage": storage, **changes,
    }


def most_placed_at_once(per_trial: dict[str, float], running: threading.Event) -> list[int]:
    """Sample Ray's own accounting while `running`: how many trials of `per_trial` resources hold them at once.

    Epoch timestamps cannot show it: on two shared cores one worker's TensorFlow import can outlast
    another trial's three epochs, so their training never overlaps although all four were placed together.
    """
    most = [0]

    def sample() -> None:
        total = ray.cluster_resources()
        while running.is_set():
            free = ray.available_resources()
            trials = min((total.get(name, 0.0) - free.get(name, 0.0)) / amount for name, amount in per_trial.items())
            most[0] = max(most[0], int(trials + 1e-9))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    return most


def fractional(cluster: Cluster, storage: str) -> dict:
    """Two nodes with one GPU each, trials asking for half a GPU: four run at once."""
    gpus = ray.cluster_resources().get("GPU")
    running = threading.Event()
    running.set()
    most = most_placed_at_once({"CPU": 1, "GPU": 0.5}, running)
    try:
        outcome = run(prepare(spec_from_dict(experiment(storage, resources={"cpu": 1, "gpu": 0.5}))))
    finally:
        running.clear()
    return {"trials": outcome.trials, "errored": outcome.errored, "most_at_once": most[0], "gpus": gpus}


def node_loss(cluster: Cluster, storage: str) -> dict:
    """The node running a trial dies after epoch 2; the trial finishes on another node from its checkpoint."""
    prepared = prepare(spec_from_dict(experiment(
        storage, epochs=8, max_failures=2, strategy={"name": "random", "num_samples": 1, "seed": 0})))
    killed = {}

    def kill_its_node_after_two_epochs() -> None:
        while not killed:
            for result in Path(prepared.path).glob("trial_*/tunelab_history.jsonl"):
                reports = [json.loads(line) for line in result.read_text().splitlines()]
                if len(reports) >= 2:
                    cluster.remove_node(node_of_worker(cluster, reports[-1]["pid"]))
                    killed["after_epoch"] = reports[-1]["epoch"]
            time.sleep(0.1)

    threading.Thread(target=kill_its_node_after_two_epochs, daemon=True).start()
    outcome = run(prepared)
    # tunelab's own history: Ray's result.json of a retried trial can lose the epoch before the failure.
    history = next(Path(outcome.path).glob("trial_*/tunelab_history.jsonl"))
    reports = [json.loads(line) for line in history.read_text().splitlines()]
    epochs = sorted(load(outcome.path).history["epoch"].tolist())  # each epoch once: a retrained one keeps its last
    error = next(Path(outcome.path).glob("trial_*/error.txt"), None)
    return {"killed_after_epoch": killed.get("after_epoch"), "epochs": epochs,
            "errored": outcome.errored, "failure_recorded": bool(error and error.read_text().strip()),
            "nodes_used": len({r["pid"] for r in reports})}


def node_of_worker(cluster: Cluster, pid: int):
    """The worker node whose raylet started process `pid` (workers are the raylet's children)."""
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    for node in cluster.worker_nodes:
        if any(info.process.pid == parent for info in node.all_processes["raylet"]):
            return node
    raise RuntimeError(f"no worker node owns process {pid}")


def both(storage: str) -> dict:
    """The fractional scenario, then the node loss, which leaves one node."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=2, num_gpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        return {"fractional": fractional(cluster, str(Path(storage) / "fractional")),
                "node_loss": node_loss(cluster, str(Path(storage) / "node_loss"))}
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    print(json.dumps(both(sys.argv[1])))
