"""Whom each PBT trial took over, and the hyperparameters its final model was trained with, epoch by epoch.

Population based training records every exploit in the event log: the trial that took over a
better one's checkpoint, the donor, the epoch it continued from, and the perturbed values before
and after (`experiments.schedulers.pbt`). A trial's final model was trained by the trial itself
since its last exploit, before that by the donor up to the epoch it was copied at, and so on back
to epoch 1: its lineage. No Ray here, as in the rest of analysis.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from tunelab.core.run_folder import read_events

EXPLOITED = "exploited"
POPULATION = "population"  # the run's own event: which hyperparameters PBT perturbs


class Epoch(NamedTuple):
    """One epoch of a final model's training: who trained it, with which perturbed values."""

    epoch: int
    trained_by: str
    values: dict[str, Any]


def copied_from(events: list[dict]) -> str | None:
    """`4c1f2a3b at epoch 4; 9e0d77aa at epoch 8`: whose checkpoints a trial took over, in order."""
    exploits = [event for event in events if event.get("event") == EXPLOITED]
    return "; ".join(f"{event.get('donor')} at epoch {event.get('epoch')}" for event in exploits) or None


def exploits_by_trial(run_folder: Path) -> dict[str, list[dict]]:
    """trial_id -> its exploit events, oldest first."""
    return {trial_id: sorted(events, key=lambda event: event.get("time", 0.0))
            for trial_id, events in read_events(run_folder, EXPLOITED).items()}


def perturbed_params(run_folder: Path) -> list[str]:
    """What the run's PBT perturbs, as it recorded when the population started; [] if not recorded."""
    announced = read_events(run_folder, POPULATION).get("", [])
    return list(announced[-1].get("perturb", [])) if announced else []


def lineage(trial_id: str, last_epoch: int, exploits: dict[str, list[dict]], initial: dict[str, dict]
            ) -> list[Epoch]:
    """Epochs 1 to `last_epoch` of `trial_id`'s final model, oldest first.

    `initial` holds each trial's configuration (its params.json); a trial's values before its first
    exploit are that exploit's `old` ones, since params.json holds the last configuration it trained.
    """
    segments: list[list[Epoch]] = []
    trial, end, before = trial_id, last_epoch, float("inf")
    for _ in range(len(exploits) * last_epoch + 1):  # each step goes back in time: no cycle, but bounded
        own = exploits.get(trial, [])
        earlier = [event for event in own if event.get("time", 0.0) < before]
        if not earlier:
            values = own[0].get("old", {}) if own else initial.get(trial, {})
            segments.append([Epoch(epoch, trial, dict(values)) for epoch in range(1, end + 1)])
            break
        last = earlier[-1]
        start = int(last.get("epoch", 0))
        segments.append([Epoch(epoch, trial, dict(last.get("new", {}))) for epoch in range(start + 1, end + 1)])
        trial, end, before = str(last.get("donor")), start, last.get("time", 0.0)
    return [epoch for segment in reversed(segments) for epoch in segment]
