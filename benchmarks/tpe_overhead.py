"""What the tpe searcher costs the driver per suggestion: its ask (suggest) plus its tell (results).

TPE refits its densities over every finished trial at each ask, so the cost grows with the
trials; the goal is under 50 ms per suggestion at 200 trials. Measured on the catalog's MLP space
(conditional per-layer units, log scales, choices) with a synthetic objective, so the time is
the searcher's alone: no Ray, no training. Processor time is given beside wall time: on a shared
machine the wall time also counts the other processes' turns.
"""
from __future__ import annotations

import math
import statistics
import time
from collections import deque
from dataclasses import dataclass

from tunelab.experiments.searchers.tpe import TPESearch
from tunelab.searchspaces.catalog.mlp import SPACE

EPOCHS = 9  # each trial reports this many epochs, as under a scheduler


def synthetic_score(config: dict, epoch: int) -> float:
    """Peaks at learning rate 1e-3 and two layers, rising with the epoch: a stand-in for val_accuracy."""
    distance = abs(math.log10(config["learning_rate"]) + 3) + 0.1 * abs(config.get("num_layers", 1) - 2)
    return (1 - math.exp(-epoch / 3)) / (1 + distance)


@dataclass(frozen=True)
class SuggestionCost:
    trials: int
    concurrent: int
    mean_ms: float      # ask + tell per suggestion, wall time, over all trials
    last_ms: float      # the same over the last tenth: the cost at `trials`
    max_ms: float
    mean_cpu_ms: float  # processor time of this process, over all trials
    last_cpu_ms: float  # over the last tenth


def measure(trials: int = 200, concurrent: int = 1, seed: int = 0) -> SuggestionCost:
    """Drives a TPESearch through `trials` suggestions, `concurrent` live at once, every epoch reported."""
    searcher = TPESearch(SPACE, "score", "max", seed=seed, epochs=EPOCHS)
    wall: list[float] = []
    cpu: list[float] = []
    live: deque = deque()
    for number in range(trials):
        began, began_cpu = time.perf_counter(), time.process_time()
        config = searcher.suggest(f"t{number}")
        live.append((f"t{number}", config, time.perf_counter() - began, time.process_time() - began_cpu))
        while live and (len(live) >= concurrent or number == trials - 1):
            trial_id, config, asked, asked_cpu = live.popleft()
            began, began_cpu = time.perf_counter(), time.process_time()
            _finish(searcher, trial_id, config)
            wall.append(asked + time.perf_counter() - began)
            cpu.append(asked_cpu + time.process_time() - began_cpu)
    last = max(1, trials // 10)
    return SuggestionCost(trials, concurrent, 1000 * statistics.mean(wall), 1000 * statistics.mean(wall[-last:]),
                          1000 * max(wall), 1000 * statistics.mean(cpu), 1000 * statistics.mean(cpu[-last:]))


def _finish(searcher: TPESearch, trial_id: str, config: dict) -> None:
    """Reports every epoch, then completes the trial."""
    for epoch in range(1, EPOCHS):
        searcher.on_trial_result(trial_id, {"score": synthetic_score(config, epoch), "epoch": epoch})
    searcher.on_trial_complete(trial_id, {"score": synthetic_score(config, EPOCHS), "epoch": EPOCHS})


def markdown(costs: list[SuggestionCost]) -> str:
    lines = ["| trials | concurrent | ask+tell, mean (ms) | last tenth (ms) | slowest (ms) | processor, mean (ms) "
             "| processor, last tenth (ms) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {c.trials} | {c.concurrent} | {c.mean_ms:.1f} | {c.last_ms:.1f} | {c.max_ms:.1f} "
              f"| {c.mean_cpu_ms:.1f} | {c.last_cpu_ms:.1f} |" for c in costs]
    return "\n".join(lines)
