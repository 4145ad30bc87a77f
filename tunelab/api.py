"""Run an experiment from Python: the same steps as `tunelab run`, returning the results as frames.

    results = tunelab.run("experiments/quickstart.yaml", overrides={"strategy.num_samples": 4})
    results = tunelab.run({"name": "mine", "trainable": "mlp", "data": "digits", "space": "mlp"})

Bad input raises ExperimentError before Ray starts; a run that ends early (too many failing trials)
raises ExperimentStopped, whose `path` still holds every finished trial.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tunelab.experiments.errors import SpecError

if TYPE_CHECKING:
    from tunelab.analysis.load import Results
    from tunelab.experiments.progress import Progress
    from tunelab.experiments.runner import Prepared


class ExperimentError(SpecError):
    """A mistake in the experiment (its YAML, overrides or arguments); nothing was run or written."""


class ExperimentStopped(RuntimeError):
    """The experiment was stopped before its plan was done; `path` holds what it finished."""

    def __init__(self, reason: str, path: str) -> None:
        super().__init__(f"experiment stopped early: {reason} (results so far: {path})")
        self.reason, self.path = reason, path


Overrides = Mapping[str, Any] | Sequence[str]


def prepare_experiment(experiment: str | Path | Mapping[str, Any], overrides: Overrides = (), *,
                       storage: str | None = None, name: str | None = None, resume: bool = False) -> Prepared:
    """Validates the experiment and plans its trials without starting Ray or writing anything."""
    from tunelab.experiments.runner import prepare
    from tunelab.experiments.spec import apply_override, read_experiment, set_key, spec_from_dict
    from tunelab.searchspaces import SpaceError
    from tunelab.trainables import DataError

    try:
        raw = copy.deepcopy(dict(experiment)) if isinstance(experiment, Mapping) else read_experiment(experiment)
        if isinstance(overrides, Mapping):
            for key, value in overrides.items():
                set_key(raw, key, value)
        else:
            for text in overrides:
                apply_override(raw, text)
        return prepare(spec_from_dict(raw), storage=storage, name=name, resume=resume)
    except (SpecError, SpaceError, DataError) as error:
        raise ExperimentError(str(error)) from None


def run(experiment: str | Path | Mapping[str, Any], overrides: Overrides = (), *, storage: str | None = None,
        name: str | None = None, resume: bool = False, address: str | None = None,
        on_progress: Callable[[Progress], None] | None = None) -> Results:
    """Runs (or with `resume`, continues) an experiment and loads its results folder.

    `experiment` is a YAML path or the same keys as a mapping; `overrides` either maps dotted keys to
    values (`{"strategy.num_samples": 4}`) or lists `--set` texts (`["epochs=3"]`). Ray is started on
    this machine unless `address` (or RAY_ADDRESS) names a cluster, or this process already runs one.
    """
    from tunelab.analysis.load import load
    from tunelab.experiments.runner import run as run_prepared

    prepared = prepare_experiment(experiment, overrides, storage=storage, name=name, resume=resume)
    try:
        outcome = run_prepared(prepared, address=address, on_progress=on_progress)
    except SpecError as error:
        raise ExperimentError(str(error)) from None
    if outcome.stopped:
        if outcome.bad_input:
            raise ExperimentError(outcome.stopped)
        raise ExperimentStopped(outcome.stopped, outcome.path)
    return load(outcome.path)
