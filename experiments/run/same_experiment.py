"""A resume runs the experiment its folder holds: what it trains and searches may not change.

A resume given other epochs, another space or another model used to mix them silently into one run
(a trial trained 4 epochs beside others trained 6; a saved CNN under an MLP's parameters). The
experiment given is held against the folder's record (tunelab_experiment.yaml), both read by the
same spec reader, so a default written out and one left implicit are the same. How the run is carried
out may change: more resources, other concurrency, retries or trial timeout, tracking, a description.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import yaml

from tunelab.core.errors import InputError, shown
from tunelab.core.run_folder import SPEC_FILE
from tunelab.experiments.errors import SpecError
from tunelab.experiments.spec import ExperimentSpec, spec_from_dict

HOW_IT_RUNS = ("description", "storage", "resources", "max_concurrent_trials", "max_failures", "retry_out_of_memory",
               "max_consecutive_failures", "tracking", "trial_timeout")


def check_same_experiment(spec: ExperimentSpec, run_folder: Path) -> None:
    """SpecError naming each key whose value differs from the one the run at `run_folder` was started with."""
    try:
        recorded = yaml.safe_load((run_folder / SPEC_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return  # no readable record: the resume's own checks decide
    if not isinstance(recorded, Mapping):
        return
    try:
        changes = _changes(spec_from_dict(recorded), spec)
    except InputError:  # the record no longer reads as an experiment here (a moved file): compare as written
        changes = [f"{key}: {shown(recorded.get(key))} -> {shown(spec.source.get(key))}"
                   for key in sorted(set(recorded) | set(spec.source))
                   if key not in HOW_IT_RUNS and recorded.get(key) != spec.source.get(key)]
    if changes:
        raise SpecError(f"--resume: {run_folder} was started with another experiment ({'; '.join(changes)}); "
                        "resume it as it was, or start a new run without --resume")


def _changes(recorded: ExperimentSpec, given: ExperimentSpec) -> list[str]:
    changes = []
    for field in dataclasses.fields(ExperimentSpec):
        if not field.compare or field.name in HOW_IT_RUNS:
            continue
        before, after = getattr(recorded, field.name), getattr(given, field.name)
        if field.name == "space":
            changes += _keyed("space", dict(before.items()), dict(after.items()))
        elif field.name == "strategy" and before.name == after.name:
            changes += _keyed("strategy", dict(before.options), dict(after.options))
        elif field.name == "strategy" and before != after:
            changes.append(f"strategy: {before.name} -> {after.name}")
        elif before != after:
            changes.append(f"{field.name}: {_shown(before)} -> {_shown(after)}")
    return changes


def _keyed(prefix: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [f"{prefix}.{key}: {_shown(before.get(key))} -> {_shown(after.get(key))}"
            for key in sorted(set(before) | set(after), key=str) if before.get(key) != after.get(key)]


def _shown(value: Any) -> str:
    """A value as the message quotes it: a hyperparameter by its own description (`int [8, 64]`)."""
    if value is None:
        return "(none)"
    return value.describe() if callable(getattr(value, "describe", None)) else shown(value)
