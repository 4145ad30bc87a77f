"""Ray's console output during a run goes to a log file in the run folder, not to the user's terminal.

Ray prints a configuration box, a token-authentication warning and a `tensorboard --logdir` hint
into its own session folder (not tunelab's), and tunelab shows its own progress instead. Capturing
Python's streams and Ray's logger, rather than switching each message off, keeps working when a
Ray release adds a message. tunelab's progress callables run inside `terminal()`, so they still
print where the user's stdout is (a terminal, a notebook cell, a pytest capture).
"""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import tempfile
from pathlib import Path
from typing import Iterator, TextIO

from tunelab.core.errors import InputError
from tunelab.core.run_folder import DRIVER_LOG, is_uri

_terminals: list[tuple[TextIO, TextIO]] = []  # the streams to restore, innermost capture last


class DriverLog(io.TextIOBase):
    """Held in memory until the run folder may be written (a failed start writes nothing), then a file.

    Once closed, what still arrives (a thread that kept the stream) goes to the user's stderr. A log
    that cannot be written (a full disk) is given up, not allowed to end the run: `failure` says why.
    """

    def __init__(self) -> None:
        super().__init__()
        self._held: list[str] = []
        self._file: TextIO | None = None
        self._closed_to: TextIO | None = None
        self.path: Path | None = None
        self.failure: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._closed_to is not None:
            return self._closed_to.write(text)
        if self._file is None:
            if self.failure is None:
                self._held.append(text)
            return len(text)
        try:
            self._file.write(text)
        except OSError as error:
            self._give_up(error)
        return len(text)

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as error:
                self._give_up(error)

    def attach(self, run_path: str) -> Path:
        """Appends to RUN/tunelab_driver.log (a resume adds to it); a URI run logs to a local temp file."""
        if is_uri(run_path):
            name = run_path.rstrip("/").rsplit("/", 1)[-1]
            self.path = Path(tempfile.gettempdir()) / f"{name}-{DRIVER_LOG}"
        else:
            Path(run_path).mkdir(parents=True, exist_ok=True)
            self.path = Path(run_path) / DRIVER_LOG
        self._file = open(self.path, "a", encoding="utf-8")
        self.write("".join(self._held))
        self._held.clear()
        return self.path

    def release(self, terminal: TextIO, *, drop_held: bool = False) -> None:
        """Closes the log; later writes, and what was held if no run folder was ever named, go to `terminal`."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError as error:
                self.failure = self.failure or error
            self._file = None
        if not drop_held:
            terminal.write("".join(self._held))
        self._held.clear()
        self._closed_to = terminal

    def _give_up(self, error: OSError) -> None:
        self.failure = self.failure or error
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = None


@contextlib.contextmanager
def captured(log: DriverLog) -> Iterator[DriverLog]:
    """Sends Python's stdout and stderr and the `ray` logger's records to `log` while the block runs.

    A user mistake (InputError) leaves only its own line: Ray's start-up messages are dropped with
    it. Any other exception before the run folder exists shows them, since they may explain it.
    One run at a time per process: the streams are the process's own.
    """
    ray_logger = logging.getLogger("ray")
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers, ray_logger.handlers = ray_logger.handlers, [handler]
    _terminals.append((sys.stdout, sys.stderr))
    sys.stdout = sys.stderr = log
    mistake = False
    try:
        yield log
    except InputError:
        mistake = True
        raise
    finally:
        sys.stdout, sys.stderr = _terminals.pop()
        ray_logger.handlers = handlers
        log.release(sys.stderr, drop_held=mistake)


@contextlib.contextmanager
def terminal() -> Iterator[None]:
    """The user's own stdout and stderr while the block runs, inside or outside a capture."""
    if not _terminals:
        yield
        return
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _terminals[0]  # the user's, also inside a nested capture
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams
