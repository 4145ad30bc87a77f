"""TensorFlow's C++ log lines stay out of the driver's terminal, by TF_CPP_MIN_LOG_LEVEL; nothing else does."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tunelab.core.tf_logs import kept_lines

ONEDNN = "I0000 00:00:1796546443.663594    7280 port.cc:153] oneDNN custom operations are on.\n"
CUINIT = "E0000 00:00:1796546448.727790    7280 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
BEFORE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
FATAL = "F0000 00:00:1796546448.727790    7280 check.cc:1] Check failed\n"


@pytest.mark.parametrize("level, kept", [
    ("3", "mine\n" + FATAL), ("2", "mine\n" + CUINIT + FATAL), ("0", BEFORE_INIT + ONEDNN + "mine\n" + CUINIT + FATAL),
    ("not a number", BEFORE_INIT + ONEDNN + "mine\n" + CUINIT + FATAL),
])
def test_tensorflows_lines_below_the_level_go_and_everything_else_stays(level, kept):
    assert kept_lines(BEFORE_INIT + ONEDNN + "mine\n" + CUINIT + FATAL, level) == kept


QUIETED = f"""
import os, sys
from tunelab.core.tf_logs import quiet_tensorflow_logs
print("before", file=sys.stderr, flush=True)
with quiet_tensorflow_logs():
    os.write(2, {(BEFORE_INIT + ONEDNN + CUINIT).encode()!r})  # as TensorFlow's C++ writes, past Python
    print("the user's own line", file=sys.stderr)
print("after", os.environ["TF_CPP_MIN_LOG_LEVEL"], file=sys.stderr)
"""


@pytest.mark.parametrize("level, expected", [
    (None, "before\nthe user's own line\nafter 3\n"),
    ("0", f"before\n{BEFORE_INIT}{ONEDNN}{CUINIT}the user's own line\nafter 0\n"),
])
def test_the_process_stderr_keeps_its_own_lines_in_order(level, expected):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level  # the user's own choice wins
    done = subprocess.run([sys.executable, "-c", QUIETED], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == expected, done.stderr
