"""Typed reads of one hyperparameter from a trial config, with one-line errors.

Search algorithms hand back numpy scalars and integral floats (BayesOpt samples 3.0 for an
integer), so reads accept any number of the right kind and return a plain Python value.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping


def choice(config: Mapping[str, Any], key: str, default: str, allowed: tuple[str, ...]) -> str:
    """The value of `key`, which must be one of `allowed`."""
    value = config.get(key, default)
    if value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def integer(config: Mapping[str, Any], key: str, default: int, *, minimum: int = 1) -> int:
    """The value of `key` as an int >= `minimum`; integral floats such as 3.0 are accepted."""
    value = config.get(key, default)
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    )
    if isinstance(value, bool) or not integral or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def number(
    config: Mapping[str, Any],
    key: str,
    default: float,
    *,
    low: float,
    low_open: bool = False,
    high: float | None = None,
) -> float:
    """The value of `key` as a float above `low` (open or closed) and below `high` (open)."""
    value = config.get(key, default)
    allowed = f"{'>' if low_open else '>='} {low}" + ("" if high is None else f" and < {high}")
    # Written as "not inside" so that NaN is rejected too.
    inside = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and (value > low if low_open else value >= low)
        and (high is None or value < high)
    )
    if not inside:
        raise ValueError(f"{key} must be a number {allowed}; got {value!r}")
    return float(value)
