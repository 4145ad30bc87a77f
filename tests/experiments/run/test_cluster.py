"""Multi-node behaviour on a real local Ray cluster (several nodes on this machine, simulated GPUs).

The scenarios run in a process of their own: a cluster cannot share a process with the session's Ray.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.cluster import check_address

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> dict:
    """Both scenarios' summaries, from one cluster in one process."""
    storage = tmp_path_factory.mktemp("cluster")
    simulated_gpus = {name: value for name, value in os.environ.items() if name != "CUDA_VISIBLE_DEVICES"}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cluster_scenario.py")), str(storage)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, env=simulated_gpus)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_half_a_gpu_per_trial_on_two_gpus_runs_four_trials_at_once(scenarios):
    summary = scenarios["fractional"]
    assert summary["gpus"] == 2 and summary["trials"] == 4 and summary["errored"] == 0
    assert summary["most_at_once"] == 4


def test_a_lost_node_costs_no_epoch(scenarios):
    summary = scenarios["node_loss"]
    assert summary["killed_after_epoch"] is not None and summary["failure_recorded"]
    assert summary["errored"] == 0
    assert summary["epochs"] == list(range(1, 9))  # resumed from its checkpoint on the other node
    assert summary["nodes_used"] == 2


def test_unreachable_address_is_refused_quickly():
    with pytest.raises(SpecError, match="--address 127.0.0.1:1: nothing answers there"):
        check_address("127.0.0.1:1")
