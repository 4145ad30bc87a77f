"""Checks against the running cluster, made after Ray starts and before any trial exists.

Ray queues a trial whose resources no node has forever, and a multi-node run whose storage
path exists only on the head node fails late, trial by trial. Both are user mistakes that can
be named up front.
"""
from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any, Mapping

from tunelab.core.run_folder import is_uri
from tunelab.experiments.errors import SpecError


def check_address(address: str | None, timeout: float = 3.0) -> None:
    """SpecError when `host:port` does not accept connections; Ray itself retries for minutes."""
    if not address or address == "auto":
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise SpecError(f"--address {address}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise SpecError(f"--address {address}: nothing answers there ({error.strerror or error}); "
                        "is the cluster started (ray start --head)?") from None


def check_resources(resources: Mapping[str, float], nodes: list[dict[str, Any]]) -> None:
    """SpecError unless some alive node can hold one trial's `cpu` and `gpu`."""
    cpu, gpu = resources.get("cpu", 1), resources.get("gpu", 0)
    alive = [node["Resources"] for node in nodes if node.get("Alive")]
    if any(node.get("CPU", 0) >= cpu and node.get("GPU", 0) >= gpu for node in alive):
        return
    largest = max(alive, key=lambda node: (node.get("GPU", 0), node.get("CPU", 0)), default={})
    raise SpecError(
        f"resources: a trial needs {cpu:g} CPU and {gpu:g} GPU, but no node of the cluster has that "
        f"(largest: {largest.get('CPU', 0):g} CPU, {largest.get('GPU', 0):g} GPU); lower resources or add nodes"
    )


def check_storage_reachable(storage: str, nodes: list[dict[str, Any]]) -> None:
    """SpecError when a local storage path is not the same folder on every node.

    Writes a marker with a random token and has a task on each node read it back; the marker
    is removed afterwards. URIs (s3://, gs://) are every node's by construction.
    """
    alive = [node for node in nodes if node.get("Alive")]
    if is_uri(storage) or len(alive) < 2:
        return
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    marker = Path(storage) / f".tunelab-storage-check-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(token)
    try:
        probe = ray.remote(num_cpus=0)(_read_marker)
        seen = ray.get([
            probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
                str(marker))
            for node in alive
        ])
    finally:
        marker.unlink(missing_ok=True)
    blind = [node["NodeManagerAddress"] for node, text in zip(alive, seen) if text != token]
    if blind:
        raise SpecError(
            f"storage: {storage} is a local path that node(s) {', '.join(blind)} cannot see; use a shared "
            "filesystem mounted at the same path on every node, or a URI such as s3://bucket/results"
        )


def _read_marker(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None
