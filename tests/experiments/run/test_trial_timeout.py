"""`trial_timeout` on a real run: a trial that hangs inside an epoch (it never reports again) is stopped
from the driver, recorded as `trial_timeout`, and the run ends; while it hangs, progress keeps its
heartbeat (the stall line naming a quiet trial is checked in test_progress.py)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import tunelab
from tunelab.core.run_folder import EVENTS_FILE, read_json_lines

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # one real run of three trials

TUNELAB = Path(sys.executable).with_name("tunelab")
HANGING_MODEL = Path(__file__).with_name("hanging_model.py")


def test_a_trial_hung_inside_an_epoch_is_stopped_at_its_timeout_and_the_run_ends(tmp_path):
    (tmp_path / "hanging_model.py").write_text(HANGING_MODEL.read_text())
    (tmp_path / "experiment.yaml").write_text(yaml.safe_dump({
        "name": "hangs", "trainable": "hanging_model:build", "data": "digits",
        "space": {"hang_after": {"type": "choice", "values": [50, 60, 0]}}, "strategy": "grid",
        "epochs": 3, "trial_timeout": "25s", "resources": {"cpu": 1}, "max_concurrent_trials": 2,
    }))
    started = time.monotonic()
    done = subprocess.run([str(TUNELAB), "run", "experiment.yaml", "--storage", str(tmp_path / "results"),
                           "--name", "run"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - started

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]  # stopped by the user's limit: not an error
    assert wall < 150, f"the run took {wall:.0f} s: the hung trial was not stopped at its timeout"
    results = tunelab.load(tmp_path / "results" / "run")
    trials = results.trials.set_index("hang_after")
    # the two hung trials held both CPUs: the third ran only because their workers were killed at the stop
    assert trials.loc[0, "stop_reason"] == "completed" and trials.loc[0, "epochs"] == 3
    # 50 and 60 batches: the digits' training split is 36 batches an epoch, so each hangs in epoch 2
    for hang in (50, 60):
        assert trials.loc[hang, "stop_reason"] == "trial_timeout" and trials.loc[hang, "epochs"] == 1
        assert "limit 25" in trials.loc[hang, "stop_detail"]
    timed_out = [e for e in read_json_lines(tmp_path / "results" / "run" / EVENTS_FILE)[0]
                 if e["event"] == "timed_out"]
    assert len(timed_out) == 2 and all(25 <= e["seconds"] < 40 and e["epoch"] == 1 for e in timed_out)
    lines = done.stdout.splitlines()
    assert any(line.endswith("(training)") for line in lines), done.stdout  # the heartbeat while no trial reports
    assert any("2 stopped early" in line for line in lines), done.stdout
