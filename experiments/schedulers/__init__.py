"""Schedulers on the trainable's own `epoch`: successive halving, Hyperband, ASHA, and population
based training.

One module each: `rungs` (the integer arithmetic, no Ray), `sha`, `hyperband` (brackets of sha),
`asha`, `replay` (what a resumed run rebuilds after a driver crash), `pbt` and `explore` (its
explore step within the space, no Ray). Every scheduler records its decisions in the experiment's
`TrialEventLog`; what they use of Ray's private API is in `tunelab.experiments.run.ray_internals`.
"""
from tunelab.experiments.schedulers.asha import RecordingASHAScheduler
from tunelab.experiments.schedulers.common import TIME_ATTR
from tunelab.experiments.schedulers.hyperband import HyperbandScheduler
from tunelab.experiments.schedulers.pbt import PopulationBasedScheduler
from tunelab.experiments.schedulers.rungs import (
    halving_to_one_rungs, halvings_to_one, hyperband_brackets, hyperband_epochs, hyperband_fill, hyperband_rungs,
    integer_log, refuse_without_checkpoints, rung_trials, successive_halving_epochs, successive_halving_rungs,
)
from tunelab.experiments.schedulers.sha import SuccessiveHalvingScheduler, refuse_concurrency_limit

__all__ = [
    "TIME_ATTR",
    "HyperbandScheduler",
    "PopulationBasedScheduler",
    "RecordingASHAScheduler",
    "SuccessiveHalvingScheduler",
    "halving_to_one_rungs",
    "halvings_to_one",
    "hyperband_brackets",
    "hyperband_epochs",
    "hyperband_fill",
    "hyperband_rungs",
    "integer_log",
    "refuse_concurrency_limit",
    "refuse_without_checkpoints",
    "rung_trials",
    "successive_halving_epochs",
    "successive_halving_rungs",
]
