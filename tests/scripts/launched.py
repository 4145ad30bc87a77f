"""Waiting on a launched driver: the crash and fault tests poll its run folder for their kill points."""
from __future__ import annotations

import subprocess
import time
from typing import Callable


def wait_for(condition: Callable[[], object], process: subprocess.Popen, what: str, timeout: float = 240) -> None:
    """Polls `condition` until it holds; fails naming `what` if the run ends first (with its output) or
    never gets there."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.02)
