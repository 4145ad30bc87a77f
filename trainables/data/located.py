"""A streamed source's read error, named where it is.

TensorFlow raises an error met inside a tf.data pipeline from the op that asked for the next batch, so
its message names ops (`[[IteratorGetNext]] [Op:__inference_multi_step_on_iterator_1162]`), never the
file; and that last line is what a trial's error file and the run's closing line show. Around a trial's
reading and fitting, such an error becomes a DataError naming the source and, where the source can find
it by reading itself again (`StreamedData.locate`), the file or row; the original stays chained to it.
"""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from tunelab.trainables.data.base import DataError, StreamedData

_LONGEST = 300  # characters of TensorFlow's reason kept: an assertion's message shows the values too
_FROM_A_PIPELINE = re.compile(r"IteratorGetNext|Iterator::|Dataset")  # how TensorFlow names a tf.data op
_NOISE = (re.compile(r"\{\{function_node [^}]*\}\}\s*"), re.compile(r"\s*\[Op:[^\]]*\]( name:\s*\S*)?"),
          re.compile(r"^.*transformation with iterator: [\w:]+: "))


@contextmanager
def data_errors_located(data: Any) -> Iterator[None]:
    """Turns a TensorFlow error raised from `data`'s pipeline (a streamed source) into a DataError saying where."""
    try:
        yield
    except Exception as error:
        if not (isinstance(data, StreamedData) and _from_a_pipeline(error)):
            raise
        where = data.locate(error)
        raise DataError(where or f"data: {data.name}: reading it failed: {reason(error)}") from error


def reason(error: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong, without the ops and graph around it."""
    message = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in message.splitlines()]
    useful = [line for line in lines if line and not line.startswith(("[[", "Graph execution error", "Detected at",
                                                                      "<stack traces", "File \"", "Traceback"))]
    text = useful[-1] if useful else type(error).__name__
    for noise in _NOISE:
        text = noise.sub("", text)
    return text if len(text) <= _LONGEST else f"{text[:_LONGEST]}..."


def _from_a_pipeline(error: Exception) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(error, tf.errors.OpError) and bool(
        _FROM_A_PIPELINE.search(error.message or ""))
