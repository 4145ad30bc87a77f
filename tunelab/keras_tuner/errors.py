"""KerasTuner's error types, so `raise kt.errors.FailedTrialError(...)` in user code keeps working.

On Ray every error a trial raises ends that trial (after `max_retries_per_trial` retries, each
from its last checkpoint); none of them stops the whole search, except that
`max_consecutive_failed_trials` failures in a row do.
"""
from __future__ import annotations


class FatalError(Exception):
    """A trial error that KerasTuner treats as fatal to the search."""


class FatalValueError(FatalError, ValueError):
    pass


class FatalTypeError(FatalError, TypeError):
    pass


class FatalRuntimeError(FatalError, RuntimeError):
    pass


class FailedTrialError(Exception):
    """A trial that failed for a reason retrying will not fix (an oversized model)."""
