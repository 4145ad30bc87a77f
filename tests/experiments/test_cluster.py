"""Multi-node behaviour on a real local Ray cluster (several nodes on this machine, simulated GPUs).

Each scenario runs in its own process: a cluster cannot share a process with the session's Ray.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tunelab.experiments.cluster import check_address
from tunelab.experiments.errors import SpecError

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]


def scenario(name: str, storage: Path) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cluster_scenario.py")), name, str(storage)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_half_a_gpu_per_trial_on_two_gpus_runs_four_trials_at_once(tmp_path):
    summary = scenario("fractional", tmp_path)
    assert summary["gpus"] == 2 and summary["trials"] == 4 and summary["errored"] == 0
    assert summary["most_at_once"] == 4


def test_a_lost_node_costs_no_epoch(tmp_path):
    summary = scenario("node_loss", tmp_path)
    assert summary["killed_after_epoch"] is not None and summary["failure_recorded"]
    assert summary["errored"] == 0
    assert summary["epochs"] == list(range(1, 9))  # resumed from its checkpoint on the other node
    assert summary["nodes_used"] == 2


def test_unreachable_address_is_refused_quickly():
    with pytest.raises(SpecError, match="--address 127.0.0.1:1: nothing answers there"):
        check_address("127.0.0.1:1")
