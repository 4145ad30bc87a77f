"""TensorFlow's C++ log lines kept out of the driver's terminal, where tunelab's own line should be alone.

The driver imports TensorFlow to check a `package.module:function` model, and the user's modules
may import it themselves. TensorFlow reads TF_CPP_MIN_LOG_LEVEL when it loads, so it is set first
(3: its cuInit error on a machine without a GPU driver, and cpu_feature_guard, are no news to a
user whose input tunelab is about to refuse); a value the user set is kept. TensorFlow 2.19 and
later print a few lines while loading, before they read the level (oneDNN, "Could not find cuda
drivers", absl's "All log messages before absl::InitializeLog()"): those are filtered from the
process's stderr by the same level while the first import runs. Numerics are left alone
(TF_ENABLE_ONEDNN_OPTS is not touched): only what is printed changes.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
DRIVER_LEVEL = "3"  # the workers' level is set apart, in their runtime environment (runner.start_local_ray)
_SEVERITIES = "IWEF"  # absl's INFO, WARNING, ERROR, FATAL: TF_CPP_MIN_LOG_LEVEL 1 hides I, 2 also W, 3 also E
# absl's prefix (before its initialisation the clock counts from 1970): `I0000 00:00:1796546443.6 7280 port.cc:153] `
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_BEFORE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_filtering = False  # a nested use (a user module imported while checking a model) filters once


@contextlib.contextmanager
def quiet_tensorflow_logs() -> Iterator[None]:
    """Sets TF_CPP_MIN_LOG_LEVEL (unless set) and, while TensorFlow is not loaded yet, filters the lines it
    prints while loading; everything else written to stderr meanwhile is passed on, in order, afterwards."""
    global _filtering
    os.environ.setdefault(LEVEL_VARIABLE, DRIVER_LEVEL)
    if _filtering or "tensorflow" in sys.modules:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to filter (a closed descriptor, a daemon)
        yield
        return
    _filtering = True
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _filtering = False
            held.seek(0)
            kept = kept_lines(held.read().decode(errors="replace"), os.environ.get(LEVEL_VARIABLE, "0"))
            if kept:
                os.write(2, kept.encode())


def kept_lines(text: str, level: str) -> str:
    """`text` without absl's log lines below `level` (and its pre-initialisation notice once any is hidden)."""
    try:
        hidden = _SEVERITIES[:max(0, min(int(level), 3))]
    except ValueError:
        hidden = ""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not ((match := _LOG_LINE.match(line)) and match.group(1) in hidden)]
    if hidden:
        kept = [line for line in kept if line.rstrip("\n") != _BEFORE_INIT]
    return "".join(kept)
