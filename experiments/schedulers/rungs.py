"""Rungs and brackets of successive halving and Hyperband, with integers only (no Ray here).

`math.log(243, 3)` is 4.999…: bracket and halving counts built on floating-point logarithms
gain or lose one at exact powers, so every count here is found by multiplication.
"""
from __future__ import annotations

from typing import Iterable

from tunelab.core.checks import check_int
from tunelab.experiments.errors import SpecError


def integer_log(n: int, base: int) -> int:
    """The largest k with base**k <= n, by multiplication: integer_log(243, 3) is 5, not 4."""
    check_int("n", n, 1)
    check_int("base", base, 2)
    k, power = 0, base
    while power <= n:
        k, power = k + 1, power * base
    return k


def halvings_to_one(num_trials: int, reduction_factor: int) -> int:
    """ceil(log_eta N): the halvings that take N configurations to one, each keeping ceil(n / eta)."""
    check_int("num_trials", num_trials, 1)
    check_int("reduction_factor", reduction_factor, 2)
    k, power = 0, 1
    while power < num_trials:
        k, power = k + 1, power * reduction_factor
    return k


def kept(num_trials: int, reduction_factor: int) -> int:
    """Trials that survive one halving: ceil(n / eta), so that ceil(log_eta N) halvings leave one."""
    return -(-num_trials // reduction_factor)


def successive_halving_rungs(max_t: int, reduction_factor: int = 3, min_t: int | None = None) -> list[int]:
    """Epochs at which successive halving compares trials: min_t * eta**i, ending with max_t.

    The default min_t is max_t // eta**k for the largest k that leaves it >= 1, so that
    max_t 9, eta 3 gives [1, 3, 9] and max_t 10 gives [1, 3, 10] (max_t replaces 9, as in
    Hyperband's brackets, rather than adding a rung one epoch later).
    """
    check_int("max_t", max_t, 1)
    check_int("reduction_factor", reduction_factor, 2)
    if min_t is None:
        min_t = max_t // reduction_factor ** integer_log(max_t, reduction_factor)
    check_int("min_t", min_t, 1)
    if min_t > max_t:
        raise ValueError(f"min_t must be <= max_t; got {min_t} > {max_t}")
    halvings = integer_log(max_t // min_t, reduction_factor)
    if halvings == 0 and min_t < max_t:
        raise ValueError(
            f"min_t {min_t} leaves no rung before max_t {max_t} with reduction_factor {reduction_factor}; "
            f"use min_t <= {max_t // reduction_factor}, or min_t = max_t for no early stopping"
        )
    return [min_t * reduction_factor**i for i in range(halvings)] + [max_t]


def halving_to_one_rungs(num_trials: int, epochs: int, reduction_factor: int = 3,
                         min_epochs: int | None = None, where: str = "strategy") -> list[int]:
    """The rungs of successive halving as the course defines it: N configurations halve to one.

    k = ceil(log_eta N) halvings need k + 1 rungs; the first is epochs // eta**k (or `min_epochs`),
    each next one eta times later, and the last is `epochs`, where the one survivor finishes.
    SpecError, naming the key, when the halvings cannot fit before `epochs`.
    """
    halvings = halvings_to_one(num_trials, reduction_factor)
    if min_epochs is None:
        min_epochs = epochs // reduction_factor**halvings
        if min_epochs < 1:
            raise SpecError(
                f"epochs: {epochs} cannot hold the {halvings} halvings that take {num_trials} configurations to "
                f"one at factor {reduction_factor} (the first rung would come before epoch 1); use epochs >= "
                f"{reduction_factor**halvings}, num_samples <= {_most_trials(epochs, reduction_factor)} or a "
                f"larger reduction_factor")
    pausing = [min_epochs * reduction_factor**i for i in range(halvings)]
    if pausing and pausing[-1] >= epochs:
        raise SpecError(
            f"{where}.min_epochs: {min_epochs} puts the last of {halvings} halvings at epoch {pausing[-1]}, "
            f"not before epochs ({epochs}); use min_epochs <= {max(epochs // reduction_factor**halvings, 1)}")
    return [*pausing, epochs]


def _most_trials(epochs: int, reduction_factor: int) -> int:
    """The most configurations that halve to one within `epochs` (first rung at epoch 1 or later)."""
    return reduction_factor ** integer_log(epochs, reduction_factor)


def rung_trials(num_trials: int, rungs: list[int], reduction_factor: int = 3) -> list[int]:
    """How many trials train to each rung: 27 trials, rungs [1, 3, 9, 27], eta 3 give [27, 9, 3, 1]."""
    counts = [num_trials]
    for _ in rungs[1:]:
        counts.append(kept(counts[-1], reduction_factor))
    return counts


def successive_halving_epochs(num_trials: int, rungs: list[int], reduction_factor: int = 3) -> int:
    """Epochs that successive halving trains in all: 9 trials, rungs [1, 3, 9], eta 3 give 21."""
    total, done = 0, 0
    for rung, alive in zip(rungs, rung_trials(num_trials, rungs, reduction_factor)):
        total, done = total + alive * (rung - done), rung
    return total


def hyperband_brackets(max_t: int, reduction_factor: int = 3) -> list[tuple[int, int]]:
    """(configurations, first-rung epochs) of each Hyperband bracket, most aggressive first.

    s_max = integer_log(max_t, eta); bracket s starts ceil((s_max + 1) * eta**s / (s + 1))
    configurations at max_t // eta**s epochs, as in Li et al. (2018): 81, 3 gives
    [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)].
    """
    check_int("max_t", max_t, 1)
    check_int("reduction_factor", reduction_factor, 2)
    s_max = integer_log(max_t, reduction_factor)
    return [
        (-(-(s_max + 1) * reduction_factor**s // (s + 1)), max_t // reduction_factor**s)
        for s in range(s_max, -1, -1)
    ]


def hyperband_rungs(max_t: int, reduction_factor: int = 3) -> list[int]:
    """Every epoch at which some Hyperband bracket compares (and may pause) trials, ascending."""
    return sorted({
        rung
        for _, first in hyperband_brackets(max_t, reduction_factor)
        for rung in successive_halving_rungs(max_t, reduction_factor, first)
    })


def hyperband_place(position: int, brackets: list[tuple[int, int]]) -> tuple[int, int]:
    """(band, bracket index) of the trial at `position` of the creation order: the brackets fill in
    order, most aggressive first, band after band."""
    band, slot = divmod(position, sum(size for size, _ in brackets))
    index = 0
    while slot >= brackets[index][0]:
        slot -= brackets[index][0]
        index += 1
    return band, index


def hyperband_fill(num_trials: int, max_t: int, reduction_factor: int = 3) -> list[tuple[int, int, int]]:
    """(band, bracket index, trials it gets) of every bracket `num_trials` reach, in the order they fill.

    A bracket that gets fewer trials than its size halves what it gets: its first rung is decided
    once the searcher has no more trials to give (`SuccessiveHalvingScheduler.rung_complete`).
    """
    brackets = hyperband_brackets(max_t, reduction_factor)
    filled: dict[tuple[int, int], int] = {}
    for position in range(num_trials):
        place = hyperband_place(position, brackets)
        filled[place] = filled.get(place, 0) + 1
    return [(band, index, trials) for (band, index), trials in filled.items()]


def hyperband_epochs(num_trials: int, max_t: int, reduction_factor: int = 3) -> int:
    """Epochs Hyperband trains in all for `num_trials`, filling its brackets in order, band after band."""
    brackets = hyperband_brackets(max_t, reduction_factor)
    return sum(
        successive_halving_epochs(trials, successive_halving_rungs(max_t, reduction_factor, brackets[index][1]),
                                  reduction_factor)
        for _, index, trials in hyperband_fill(num_trials, max_t, reduction_factor))


def refuse_without_checkpoints(checkpoint_every: int, rungs: Iterable[int], strategy: str) -> None:
    """SpecError unless the trainable checkpoints at every rung a trial may pause at.

    The last rung is max_t, where the trainable always checkpoints; at any other rung that
    `checkpoint_every` does not divide, a resumed trial would retrain from an older checkpoint.
    """
    check_int("checkpoint_every", checkpoint_every, 1)
    *pausing, _ = sorted(rungs)
    missed = [rung for rung in pausing if rung % checkpoint_every]
    if missed:
        epochs = ", ".join(map(str, missed))
        raise SpecError(
            f"checkpoint_every: {checkpoint_every} leaves no checkpoint at epoch {epochs}, where {strategy} "
            f"pauses trials, so they would retrain from an older one; use 1 or a divisor of every rung "
            f"({', '.join(map(str, pausing))})"
        )
