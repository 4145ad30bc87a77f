"""Small checks every layer shares, so their messages read alike: an integer at least so large, a
duration, and the "did you mean" suggestion for a misspelt name."""
from __future__ import annotations

import difflib
import math
import re
from typing import Any

from tunelab.core.errors import shown

SEED_LIMIT = 2**32 - 1  # NumPy's and Ray's seeds are 32-bit: every seed tunelab takes is checked against it


def check_int(name: str, value: Any, low: int, error: type[Exception] = ValueError) -> int:
    """`value` if it is an integer >= `low` (a bool is not), else `error`: `epochs must be an integer >= 1; got 0`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise error(f"{name} must be an integer >= {low}; got {shown(value)}")
    return value


_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h)\s*")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(name: str, value: Any, error: type[Exception] = ValueError) -> float:
    """Seconds from a positive number of seconds or a text like "90s", "10m", "1.5h"; else `error`, one line."""
    seconds = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise error(f"{name}: expected a positive number of seconds or a duration like 90s, 10m or 1.5h; "
                    f"got {shown(value)}")
    return seconds


def did_you_mean(word: str, options: Any) -> str:
    """' (did you mean X?)' when a close match exists, else ''."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=3)
    if not close:
        return ""
    # difflib scores `stpe` as close to `type` as to `step`; fewest edits (a swap is one) decides.
    return f" (did you mean {min(close, key=lambda option: _edits(str(word), option))!r}?)"


def _edits(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours that turn a into b."""
    rows = [list(range(len(b) + 1))] + [[i] + [0] * len(b) for i in range(1, len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]
