"""Every user mistake: one line naming the key and what is allowed, exit 2, nothing written.

The cases run launch.py's `main` in this process (fast), except those that need a live cluster
check, which run it as a user would, in a subprocess.
"""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tunelab.cli.run import main

ROOT = Path(__file__).resolve().parents[2]

BASE = {
    "name": "bad", "trainable": "mlp", "data": "digits",
    "space": {
        "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
        "momentum": {"type": "float", "low": 0.0, "high": 0.9, "grid": [0.0, 0.9], "when": {"optimizer": "sgd"}},
        "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
    },
    "strategy": {"name": "random", "num_samples": 2},
    "epochs": 2,
}


def set_key(raw: dict, path: str, value) -> dict:
    raw = copy.deepcopy(raw)
    node = raw
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return raw


CASES = [
    # (case, change to the YAML (path, value) or raw text, extra CLI args, expected part of the message)
    ("yaml syntax", "name: bad\nspace: {unclosed\n", [], "invalid YAML at line"),
    ("not a mapping", "- a\n- b\n", [], "must be a mapping of experiment keys"),
    ("unknown key", ("epoch", 3), [], "epoch: unknown key; allowed: name"),
    ("misspelt key", ("stratgy", "grid"), [], "(did you mean 'strategy'?)"),
    ("wrong type", ("epochs", "three"), [], "epochs: expected an integer, got 'three'"),
    ("empty choices", ("space.optimizer.values", []), [], "space.optimizer: Choice: needs at least one value"),
    ("duplicate choices", ("space.optimizer.values", ["adam", "adam"]), [], "values must be unique"),
    ("low >= high", ("space.learning_rate.low", 0.5), [], "space.learning_rate"),
    ("log with low <= 0", ("space.learning_rate.low", 0.0), [], "log=True needs low > 0"),
    ("step larger than range", ("space.momentum", {"type": "float", "low": 0.0, "high": 0.9, "step": 2.0}), [],
     "step 2.0 is larger than the range"),
    ("condition on unknown param", ("space.momentum.when", {"optimiser": "sgd"}), [],
     "condition on 'optimiser', which is not declared before it"),
    ("condition on a later param (and so any cycle)",
     ("space", {"momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sgd"}},
                "optimizer": {"type": "choice", "values": ["adam", "sgd"]}}),
     [], "condition on 'optimizer', which is not declared before it"),
    ("condition that can never hold", ("space.momentum.when", {"optimizer": "sdg"}), [], "can never hold"),
    ("unknown strategy", ("strategy", {"name": "hyperbnd"}), [], "(did you mean 'hyperband'?)"),
    ("unknown scheduler", ("strategy", {"name": "random", "scheduler": "ashaa"}), [],
     "strategy.scheduler.name: 'ashaa' is not a scheduler"),
    ("unknown strategy option", ("strategy", {"name": "random", "num_sample": 3}), [],
     "(did you mean 'num_samples'?)"),
    ("unknown trainable", ("trainable", "cnm"), [], "trainable: 'cnm' is not a model family"),
    ("unimportable trainable", ("trainable", "nowhere:build"), [], "cannot import module 'nowhere'"),
    ("bayes over a space it cannot encode", ("strategy", {"name": "bayes"}), ["--set", "space={learning_rate: 0.1}"],
     "nothing to search"),
    ("hyperband without a checkpoint at each rung", ("strategy", {"name": "hyperband"}),
     ["--set", "epochs=9", "--set", "checkpoint_every=2"], "checkpoint_every: 2 leaves no checkpoint at epoch"),
    ("grid over a float without grid points", ("strategy", "grid"), [], "learning_rate: "),
    ("missing data file", ("data", "npz:/nonexistent/data.npz"), [], "/nonexistent/data.npz"),
    ("malformed data file", ("data", "npz:{bad_npz}"), [], "bad.npz"),
    ("unknown data set", ("data", "digitz"), [], "(did you mean 'digits'?)"),
    ("relative storage", ("storage", "results"), [], "storage: 'results' is relative"),
    ("unwritable storage", ("storage", "/etc/hostname/results"), [],
     "storage: /etc/hostname/results is not a writable directory (nearest existing: /etc/hostname)"),
    ("bad --set", None, ["--set", "epochs"], "--set 'epochs': expected KEY.PATH=VALUE"),
    ("resume without an earlier run", None, ["--resume"], "--resume: no earlier run of 'bad'"),
    ("unreachable cluster", None, ["--address", "127.0.0.1:1"], "--address 127.0.0.1:1: nothing answers there"),
]


def write_case(tmp_path: Path, change) -> Path:
    path = tmp_path / "bad.yaml"
    bad_npz = tmp_path / "bad.npz"
    np.savez(bad_npz, images=np.zeros((4, 2)))
    if isinstance(change, str):
        path.write_text(change)
        return path
    raw = {**BASE, "storage": str(tmp_path / "results")}
    if change is not None:
        key, value = change
        if isinstance(value, str):
            value = value.format(bad_npz=bad_npz)
        raw = set_key(raw, key, value)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize("case, change, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, change, args, message, tmp_path, capsys):
    experiment = write_case(tmp_path, change)

    code = main([str(experiment), *args], prog="launch.py")

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("launch.py: error: "), err
    assert message in err[0]
    assert not (tmp_path / "results").exists() and not (ROOT / "results").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz", "bad.yaml"]


def test_resources_no_node_can_hold_fail_fast_from_the_command_line(tmp_path):
    experiment = write_case(tmp_path, ("resources", {"cpu": 1, "gpu": 1}))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "launch.py"), str(experiment)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("launch.py: error: resources: a trial needs 1 CPU and 1 GPU, but no node")
    assert not (tmp_path / "results").exists()
