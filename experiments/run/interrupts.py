"""Whether a stop signal ended a run: Ctrl+C (SIGINT), a scheduler's or `docker stop`'s SIGTERM, a closed
terminal's SIGHUP. Ray catches SIGINT during fit(), saves the run and returns as if done.

Ray installs its SIGINT handler before it sets up the callbacks, so InterruptWatch.setup wraps that
handler and hands SIGTERM and SIGHUP to it too: each is noted for the run, then stops the run as Ray
stops it on Ctrl+C (trials at their last checkpoint, state saved, the lock released), instead of
killing the driver mid-write with Ray's C++ stack dump. What is noted is process-local (never
pickled with the callback), so a resumed run starts unmarked.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

from ray.tune import Callback

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_stopped_by: dict[str, int] = {}  # run path -> the first stop signal that ended its fit(), in this process


class StopSignal(BaseException):
    """SIGTERM or SIGHUP outside Ray's fit() (while the data loads, while Ray starts): the command stops there."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, frame: Any) -> None:
    raise StopSignal(signum)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise StopSignal in the block, never Ray's C++ stack dump; during fit() the runner
    hands them to Ray's own graceful stop instead (InterruptWatch)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {stop: signal.signal(stop, _raise_stop) for stop in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for stop, handler in handlers.items():
            signal.signal(stop, handler)


class InterruptWatch(Callback):
    """Notes a stop signal during the run at `run_path`; each stops the run as Ray stops it on Ctrl+C."""

    def __init__(self, run_path: str) -> None:
        self._path = run_path

    def setup(self, **info: Any) -> None:
        _stopped_by.pop(self._path, None)
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may handle signals; Ray then catches none either
        ray_handler, path = signal.getsignal(signal.SIGINT), self._path

        def note_then_stop(signum: int, frame: Any) -> None:
            _stopped_by.setdefault(path, signum)
            if callable(ray_handler):
                ray_handler(signal.SIGINT, frame)  # Ray's graceful stop; a second signal forces it
            else:
                signal.default_int_handler(signum, frame)

        for stop in STOP_SIGNALS:
            signal.signal(stop, note_then_stop)


@contextlib.contextmanager
def stop_signals_restored() -> Iterator[None]:
    """The process's own stop-signal handlers after the run: Ray leaves its handler (and ours) installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {stop: signal.getsignal(stop) for stop in STOP_SIGNALS}
    try:
        yield
    finally:
        for stop, handler in handlers.items():
            signal.signal(stop, handler)


@contextlib.contextmanager
def stop_signals_kept() -> Iterator[None]:
    """Whatever Python handles SIGTERM and SIGHUP with, still handled so after the block (Ray starting).

    ray.init first sets a SIGTERM handler of its own (`sys.exit(15)`: read here as the StopSignal it is),
    then Ray's core worker installs a C++ one (a stack dump, then exit) without Python knowing: the
    Python handlers are installed again over both.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {stop: signal.getsignal(stop) for stop in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except SystemExit as stop:
        if stop.code == signal.SIGTERM:
            raise StopSignal(signal.SIGTERM) from None
        raise
    finally:
        for stop, handler in handlers.items():
            if handler is not None:
                signal.signal(stop, handler)


def stop_signal(run_path: str) -> int | None:
    """The signal that ended the latest fit() of the run at `run_path` in this process, or None."""
    return _stopped_by.get(run_path)
