"""The long study: trials of 54 epochs on a task where later epochs still pay, for the claims about early stopping.

In the 9-epoch studies a trial stopped early saves a few cheap epochs and costs a trial start-up,
so Hyperband and ASHA cannot show what the course claims for them. Here the `mlp` space trains
with plain SGD (no momentum) in batches of 64 on digits: single trials keep gaining from epoch 9
to 27 and again to 54, while learning rates below ~3e-3 are under 0.25 val_accuracy at epoch 3
and under 0.9 at 81, so a search meets both slow learners worth waiting for and hopeless trials
worth stopping. Why 54 epochs and 14 grid points (756 epochs a search): docs/benchmarks.md,
"Long trials".
"""
from __future__ import annotations

from typing import Any

from benchmarks.task import STUDY_FIX, TUNELAB, Entry, StudyTask, entries, tunelab_epochs
from tunelab.core.errors import InputError
from tunelab.experiments.strategies import STRATEGIES

# Plain SGD: Adam (1e-3) is at 0.95 by epoch 9 and at its best by 27, leaving later epochs nothing
# to add. Searched: depth, units per layer, activation, learning rate and dropout.
LONG_FIX: dict[str, Any] = {**STUDY_FIX, "optimizer": "sgd", "momentum": 0.0}
# The grid enumerates the catalog's 14 structures (1-3 layers of 32 or 128 units) at the best
# plain-SGD settings measured: the range's top learning rate, relu, dropout 0.2.
LONG_GRID_FIX: dict[str, Any] = {"learning_rate": 0.1, "activation": "relu", "dropout": 0.2}
LONG = StudyTask(space="mlp", fix=dict(LONG_FIX), grid_fix=dict(LONG_GRID_FIX), epochs=54)

PBT = "pbt"
LONG_NAMES = ("grid", "random", "bayes", "sha", "hyperband", "asha", PBT)
# Synchronous PBT pauses every member at each meeting, and a member resumed on 2 cores costs a
# reload (~1.5 s): two meetings, at 1/3 and 2/3 of a trial, keep pbt within a search's share of time.
PBT_MEETINGS = 2


def long_entries(task: StudyTask = LONG) -> tuple[list[Entry], list[str]]:
    """The long study's entries in LONG_NAMES order, and what is left out, with why.

    pbt joins once tunelab's strategy registry has it, with a population as large as the grid:
    every member trains a whole trial, so that is the budget.
    """
    found = [entry for entry in entries(task) if entry.name in LONG_NAMES]
    pbt, note = pbt_entry(task)
    return (found + [pbt], []) if pbt else (found, [note])


def pbt_entry(task: StudyTask) -> tuple[Entry | None, str]:
    """The pbt entry sized to the budget, or None and why it cannot run."""
    if PBT not in STRATEGIES:
        return None, f"{PBT} (not in tunelab's strategies yet)"
    options = {"population": task.budget // task.epochs,
               "perturbation_interval": max(1, task.epochs // (PBT_MEETINGS + 1))}
    try:
        planned = tunelab_epochs(task, PBT, {**options, "seed": 0})  # the registry's checks and bound
    except InputError as error:
        return None, f"{PBT} (the strategy registry refuses its options: {error})"
    return Entry(PBT, TUNELAB, PBT, options, planned_epochs=planned), ""
