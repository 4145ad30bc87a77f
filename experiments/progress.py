"""Progress of a running experiment, pushed to a callable so library code never prints."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from ray.tune import Callback


@dataclass(frozen=True)
class Progress:
    """A snapshot: how many trials are done or running, and the best metric value so far."""

    done: int
    running: int
    errored: int
    total: int
    best: float | None
    elapsed: float
    event: str   # what just happened, e.g. "trial_0001 finished"


class ProgressCallback(Callback):
    """Tracks trial states and the best value; calls `on_progress` on every trial event.

    Per-epoch results update the best value but emit at most one snapshot every
    `interval` seconds, so a fast experiment does not flood the terminal.
    """

    def __init__(
        self, metric: str, mode: str, total: int, on_progress: Callable[[Progress], None] | None,
        interval: float = 10.0,
    ) -> None:
        self._metric, self._mode, self._total = metric, mode, total
        self._on_progress, self._interval = on_progress, interval
        self._best: float | None = None
        self._started = time.monotonic()
        self._last_emit = 0.0
        self._done: set[str] = set()
        self._errored: set[str] = set()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        value = result.get(self._metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            if self._best is None or (value > self._best if self._mode == "max" else value < self._best):
                self._best = float(value)
        if time.monotonic() - self._last_emit >= self._interval:
            self._emit(trials, f"trial {trial.trial_id} epoch {result.get('epoch', '?')}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._done.add(trial.trial_id)
        self._emit(trials, f"trial {trial.trial_id} finished")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._done.add(trial.trial_id)
        self._errored.add(trial.trial_id)
        self._emit(trials, f"trial {trial.trial_id} errored")

    def _emit(self, trials: list, event: str) -> None:
        self._last_emit = time.monotonic()
        if self._on_progress is None:
            return
        running = sum(1 for trial in trials if trial.status == "RUNNING" and trial.trial_id not in self._done)
        self._on_progress(Progress(
            done=len(self._done), running=running, errored=len(self._errored), total=self._total,
            best=self._best, elapsed=time.monotonic() - self._started, event=event,
        ))
