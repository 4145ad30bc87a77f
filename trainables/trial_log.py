"""A trial's own output in its folder: `trial.log` holds what the trial printed (the user's prints,
Keras' and TensorFlow's Python-level messages and warnings) and the traceback that ended it.

Ray keeps a trial's output in its worker's log under /tmp/ray and copies none of it to the run
folder, so a failed trial's own words were nowhere a user looks. The trial writes the file itself
from its first line on, appending across retries, so a trial that fails before it reports anything
still leaves one.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import IO, Iterator, Sequence

from tunelab.core.run_folder import GPUS_FILE, TRIAL_LOG, trial_folder_name
from tunelab.trainables.gpu_setup import TrialGpu
from tunelab.trainables.tf_setup import configure_tensorflow, release_trial_memory


class _Tee:
    """Writes to the stream the worker had and to the trial's log."""

    def __init__(self, stream: IO[str], log: IO[str]) -> None:
        self._stream, self._log = stream, log

    def write(self, text: str) -> int:
        self._log.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._log.flush()
        self._stream.flush()

    def __getattr__(self, name: str) -> object:  # isatty, encoding, fileno: the worker's stream answers
        return getattr(self._stream, name)


@contextlib.contextmanager
def trial_log(run_folder: str | None, trial_id: str) -> Iterator[None]:
    """Copies the trial's stdout, stderr and Python logging into RUN/trial_ID/trial.log while it runs.

    `run_folder` None (URI storage, or a trainable run outside an experiment) writes nothing; a
    folder that cannot be written is left for the run to report, the trial goes on without a log.
    """
    if run_folder is None:
        yield
        return
    path = Path(run_folder) / trial_folder_name(trial_id) / TRIAL_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = path.open("a", buffering=1)
    except OSError:
        yield
        return
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        with contextlib.redirect_stdout(_Tee(sys.stdout, log)), contextlib.redirect_stderr(_Tee(sys.stderr, log)):
            yield
    except SystemExit as stop:
        if stop.code not in (0, None):
            log.write(traceback.format_exc())
        raise  # exit 0 is how Ray stops a trial it pauses, ends early or leaves at Ctrl+C: no error to show
    except BaseException:
        log.write(traceback.format_exc())
        raise
    finally:
        logging.getLogger().removeHandler(handler)
        log.close()


def record_gpus(run_folder: str | None, trial_id: str, gpus: Sequence[TrialGpu]) -> None:
    """Names the trial's GPUs in its output, and in trial_ID/tunelab_gpus.json for the trials table.

    Nothing for a trial without GPUs; the file holds the latest attempt's (a retry may land elsewhere).
    """
    if not gpus:
        return
    for gpu in gpus:
        sys.stdout.write(f"tunelab: {gpu.describe()}\n")
    if run_folder is None:
        return
    with contextlib.suppress(OSError):
        path = Path(run_folder) / trial_folder_name(trial_id) / GPUS_FILE
        path.write_text(json.dumps({"gpus": [dataclasses.asdict(gpu) for gpu in gpus]}))


@contextlib.contextmanager
def trial_session(run_folder: str | None, trial_id: str, *, cpus: float, gpus: float) -> Iterator[list[str]]:
    """Every trainable's frame around one trial, yielding its GPUs as described: output into trial.log,
    TensorFlow set up for the trial's CPUs and GPUs before anything touches it (the GPUs recorded), and
    the trial's memory handed back when it ends, so a reused worker waits with only what every trial needs."""
    with trial_log(run_folder, trial_id):
        trial_gpus = configure_tensorflow(cpus=cpus, gpus=gpus)
        record_gpus(run_folder, trial_id, trial_gpus)
        try:
            yield [gpu.describe() for gpu in trial_gpus]
        finally:
            release_trial_memory()
