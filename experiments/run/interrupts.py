"""Whether Ctrl+C ended a run: Ray catches SIGINT during fit(), saves the run and returns as if done.

Ray installs its SIGINT handler before it sets up the callbacks, so InterruptWatch.setup wraps that
handler: a Ctrl+C is noted for the run, then handled by Ray as before. What is noted is process-
local (never pickled with the callback), so a resumed run starts unmarked.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

from ray.tune import Callback

_interrupted: set[str] = set()  # run paths whose fit() a SIGINT ended, in this process


class InterruptWatch(Callback):
    """Notes a SIGINT during the run at `run_path`; Ray's own handling is unchanged."""

    def __init__(self, run_path: str) -> None:
        self._path = run_path

    def setup(self, **info: Any) -> None:
        _interrupted.discard(self._path)
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may handle signals; Ray then catches none either
        handler, path = signal.getsignal(signal.SIGINT), self._path

        def note_then_handle(signum: int, frame: Any) -> None:
            _interrupted.add(path)
            if callable(handler):
                handler(signum, frame)
            else:
                signal.default_int_handler(signum, frame)

        signal.signal(signal.SIGINT, note_then_handle)


@contextlib.contextmanager
def sigint_restored() -> Iterator[None]:
    """The process's own Ctrl+C handler after the run: Ray leaves its handler (and ours) installed after fit()."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


def was_interrupted(run_path: str) -> bool:
    """True once a SIGINT ended the latest fit() of the run at `run_path` in this process."""
    return run_path in _interrupted
