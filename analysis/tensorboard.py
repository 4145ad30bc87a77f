"""Serving TensorBoard on an experiment's logs, and reading its HParams dashboard back.

The logs themselves are written by `analysis.tensorboard_logs` (`write_logs` and `LOG_FOLDER` are
importable from here too, where they lived first). TensorBoard is started with `--reload_interval
RELOAD_S`, so logs appended while it serves show within that many seconds.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tunelab.analysis.tensorboard_logs import LOG_FOLDER, write_logs

__all__ = ["LOG_FOLDER", "RELOAD_S", "TensorBoardError", "TensorBoardServer", "session_groups", "start_tensorboard",
           "write_logs"]

RELOAD_S = 5  # seconds between TensorBoard's rereads of the log folder


@dataclass
class TensorBoardServer:
    """A TensorBoard subprocess bound to one address; `stop` ends it."""

    process: subprocess.Popen
    url: str
    log: Path  # TensorBoard's own output; removed by `stop`

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.unlink(missing_ok=True)


class TensorBoardError(RuntimeError):
    """TensorBoard did not start (port taken, or it exited); the message holds its last output."""


def start_tensorboard(logdir: str | Path, port: int = 0, host: str = "127.0.0.1", timeout: float = 90.0,
                      extra_args: Iterable[str] = ()) -> TensorBoardServer:
    """Starts TensorBoard on `logdir`, bound to `host` only (loopback by default), and waits until it answers.

    Port 0 picks a free one. TensorBoard's output goes to a temporary log file, quoted in errors.
    """
    port = port or _free_port(host)
    with tempfile.NamedTemporaryFile(prefix="tunelab-tensorboard-", suffix=".log", delete=False) as log:
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", host,
                   "--port", str(port), "--reload_interval", str(RELOAD_S), *extra_args]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://{host}:{port}/"
    server = TensorBoardServer(process, url, Path(log.name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            message = f"TensorBoard exited ({process.returncode}): {_tail(log.name)}"
            server.stop()
            raise TensorBoardError(message)
        try:
            with urllib.request.urlopen(url + "data/environment", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    message = f"TensorBoard did not answer on {url} within {timeout:.0f}s: {_tail(log.name)}"
    server.stop()
    raise TensorBoardError(message)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _tail(path: str) -> str:
    lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def session_groups(url: str, limit: int = 10_000) -> list[dict]:
    """The HParams dashboard's data, as its frontend requests it: one group per trial."""
    request = {"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                         "STATUS_RUNNING"],
               "colParams": [], "startIndex": 0, "sliceSize": limit}
    body = json.dumps(request).encode()
    post = urllib.request.Request(url.rstrip("/") + "/data/plugin/hparams/session_groups", data=body,
                                  headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(post, timeout=10) as response:
        return json.loads(response.read()).get("sessionGroups", [])
