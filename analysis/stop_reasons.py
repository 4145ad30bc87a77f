"""Why each trial ended, and where its configuration came from, read from the trial event log.

Ray keeps no record of why a scheduler stopped or paused a trial; tunelab's event log does, and
Ray's status fills in for a copied folder that lacks it.
"""
from __future__ import annotations

from typing import Any

_TERMINAL = ("completed", "errored")
_ENDED = ("completed", "errored", "stopped", "timed_out")
_RUNNING = {"RUNNING": "running", "PAUSED": "paused", "PENDING": "pending", "ERROR": "errored"}


def stop_reason(status: str, epochs: int, budget: int | None, events: list[dict]) -> tuple[str, str | None]:
    """completed, stopped (a scheduler's decision, or ended short of the budget), trial_timeout, errored, paused,
    running, pending.

    A scheduler's `stopped` event wins over the `completed` Ray records after it; otherwise the
    last outcome counts (an errored trial that a resume finished has completed). Without an
    events file, Ray's status and the epoch budget decide.
    """
    timed_out = [e for e in events if e.get("event") == "timed_out"]
    if timed_out:  # stopped by the driver past the experiment's trial_timeout
        return "trial_timeout", _details(timed_out[-1])
    stopped = [e for e in events if e.get("event") == "stopped"]
    if stopped:
        return "stopped", _details(stopped[-1])
    outcomes = [e for e in events if e.get("event") in _TERMINAL]
    if outcomes and status not in ("RUNNING", "PENDING"):
        outcome = outcomes[-1]
        if outcome["event"] == "errored":
            return "errored", None
        return _completed_or_short(epochs, budget)
    if status in _RUNNING:
        paused = [e for e in events if e.get("event") in ("paused", "resumed")]
        if status in ("RUNNING", "PAUSED") and paused and paused[-1]["event"] == "paused":
            return "paused", _details(paused[-1])  # Ray may still say RUNNING until its next snapshot
        return _RUNNING[status], None
    return _completed_or_short(epochs, budget)


def unlisted_status(errored: bool, reported: bool, events: list[dict], run_live: bool) -> str:
    """Ray's status for a trial its saved state does not list: started after Ray's last snapshot
    (taken every 10 s or more), or copied without the state.

    One that tunelab's event log says ended has ended (`stop_reason` reads how). In a live run
    any other one runs: called TERMINATED for having epochs, it would end early in every view
    that follows the run.
    """
    if errored:
        return "ERROR"
    if any(e.get("event") in _ENDED for e in events):
        return "TERMINATED"
    if run_live:
        return "RUNNING"
    return "TERMINATED" if reported else "PENDING"


def _completed_or_short(epochs: int, budget: int | None) -> tuple[str, str | None]:
    if budget is None or epochs >= budget:
        return "completed", None
    return "stopped", f"ended at epoch {epochs} of {budget}"


def _details(event: dict) -> str | None:
    """`epoch 3, rung 1, cutoff 0.91` from an event's fields."""
    parts = [f"{key} {_format(value)}" for key, value in event.items() if key not in ("trial_id", "event", "time")]
    return ", ".join(parts) or None


def label(events: list[dict]) -> str | None:
    """Where a configuration came from (a strategy's `suggested` event): its source, or factor=value."""
    suggested = [e for e in events if e.get("event") == "suggested"]
    if not suggested:
        return None
    fields = {k: v for k, v in suggested[-1].items() if k not in ("trial_id", "event", "time")}
    if len(fields) == 1:
        return str(next(iter(fields.values())))
    return ", ".join(f"{key}={_format(value)}" for key, value in fields.items()) or None


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
