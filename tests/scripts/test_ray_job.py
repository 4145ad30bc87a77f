"""`ray job submit -- python scripts/launch.py ...` against a real head node with token auth."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))

pytest.importorskip("ray.dashboard.modules.job.sdk", reason="`ray job` needs ray[default] (the test extra)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_processes_mentioning(text: str) -> None:
    """Stops only this head's processes (`ray stop` would stop every Ray on the machine)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


@pytest.fixture()
def head_node():
    temp = tempfile.mkdtemp(prefix="tlj", dir="/tmp")  # short: Ray's socket paths have a length limit
    dashboard = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # as in an activated venv
    subprocess.run([RAY, "start", "--head", f"--port={free_port()}", "--num-cpus=2", "--include-dashboard=true",
                    "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
                    f"--dashboard-agent-listen-port={free_port()}", f"--temp-dir={temp}"],
                   env=env, check=True, capture_output=True, timeout=180)
    try:
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        kill_processes_mentioning(temp)
        shutil.rmtree(temp, ignore_errors=True)


def test_launch_runs_as_a_ray_job_on_the_cluster(head_node, tmp_path):
    address, env = head_node
    command = [RAY, "job", "submit", "--address", address, "--working-dir", str(ROOT), "--",
               "python", "scripts/launch.py", "experiments/quickstart.yaml", "--storage", str(tmp_path),
               "--name", "job", "--set", "strategy.num_samples=2", "--set", "epochs=1"]
    deadline = time.monotonic() + 120
    while True:  # the head's job agent takes a few seconds to come up
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if "No available agent" not in done.stderr + done.stdout or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "best val_accuracy:" in done.stdout and "succeeded" in done.stdout + done.stderr
    assert len(list((tmp_path / "job").glob("trial_*/result.json"))) == 2
