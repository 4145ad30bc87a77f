"""An out-of-memory trial, named: the trial raises `TrialOutOfMemory` with a one-line cause, the driver
refuses to retry it (the same batch on the same card runs out again), and analysis shows the stop reason
`out_of_memory` with that cause. No TensorFlow here: the driver and analysis read it from the error text.
"""
from __future__ import annotations

import contextlib
import re
from typing import Callable, Iterator, Sequence

OUT_OF_MEMORY = "out_of_memory"  # the trial's stop reason in the trials table
_MARKER = "TrialOutOfMemory: "   # how the error's class name appears in Ray's error text
_TENSORFLOW_MESSAGE = 160        # characters of TensorFlow's own first line kept in the cause


class TrialOutOfMemory(RuntimeError):
    """TensorFlow ran out of GPU or host memory; the message says the trial's batch, model and limit."""


def is_out_of_memory(error: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError (GPU or host allocation), or Python's MemoryError."""
    return isinstance(error, MemoryError) or any(
        kind.__name__ == "ResourceExhaustedError" for kind in type(error).__mro__)


def cause_line(error: BaseException, *, batch_size: int | None, parameters: int | None,
               devices: Sequence[str]) -> str:
    """`out of memory: batch size 512, 2,345,678 parameters, on GPU 0 (...): ..., memory limit 40,360 MB: OOM ...`.

    `devices` describe the trial's GPUs with their memory limits; none: the trial ran on the host.
    """
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # Keras prints a layer's error in bold
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    # Keras wraps a layer's error in "Exception encountered when calling ...": TensorFlow's own line says more
    telling = [line for line in lines if "OOM" in line] or [
        line for line in lines if "out of memory" in line.lower() or "resource exhausted" in line.lower()]
    first = (telling or lines or [type(error).__name__])[0]
    if len(first) > _TENSORFLOW_MESSAGE:
        first = first[:_TENSORFLOW_MESSAGE - 3] + "..."
    parts = [f"batch size {batch_size}" if batch_size is not None else "batch size unknown",
             f"{parameters:,} parameters" if parameters is not None else "model not built yet",
             f"on {'; '.join(devices)}" if devices else "on the host (no GPU)"]
    return f"out of memory: {', '.join(parts)}: {first}"


@contextlib.contextmanager
def named_out_of_memory(*, batch_size: int | None, parameters: Callable[[], int | None],
                        devices: Sequence[str]) -> Iterator[None]:
    """Re-raises an out-of-memory inside the block as TrialOutOfMemory with its one-line cause."""
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        raise TrialOutOfMemory(cause_line(error, batch_size=batch_size, parameters=parameters(),
                                          devices=devices)) from error


def out_of_memory_cause(error_text: str | None) -> str | None:
    """The cause line of a TrialOutOfMemory in an error's text (Ray's error file, its last line); None if
    the error was something else."""
    if not error_text:
        return None
    lines = [line for line in error_text.splitlines() if _MARKER in line]
    return lines[-1].split(_MARKER, 1)[1].strip() if lines else None
