"""Run an experiment from Python: the same steps as `tunelab run`, returning the results as frames.

    results = tunelab.run("experiments/quickstart.yaml", overrides={"strategy.num_samples": 4})
    results = tunelab.run("quickstart")     # a shipped experiment, by name, from any directory
    results = tunelab.run({"name": "mine", "trainable": "mlp", "data": "digits", "space": "mlp"})

A mistake raises ExperimentError, before Ray starts and with nothing written when the input
shows it; a run that ends early (too many failing trials) raises ExperimentStopped, whose `path`
still holds every finished trial; Ctrl+C raises KeyboardInterrupt once Ray saved the run.

    split = tunelab.data("experiments/quickstart.yaml")   # the train/val/test split its trials use
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import yaml

from tunelab.core.errors import InputError
from tunelab.experiments.errors import SpecError

if TYPE_CHECKING:
    from tunelab.analysis.results import Results
    from tunelab.experiments.run.progress import Progress
    from tunelab.experiments.run.prepare import Prepared
    from tunelab.experiments.spec import ExperimentSpec
    from tunelab.trainables.data import Dataset, StreamedSplit


class ExperimentError(SpecError):
    """A mistake in the experiment (its YAML, overrides or arguments), or a metric it never reports."""


class ExperimentStopped(RuntimeError):
    """The experiment was stopped before its plan was done; `path` holds what it finished."""

    def __init__(self, reason: str, path: str) -> None:
        super().__init__(f"experiment stopped early: {reason} (results so far: {path})")
        self.reason, self.path = reason, path


Overrides = Mapping[str, Any] | Sequence[str] | str


def prepare_experiment(experiment: str | Path | Mapping[str, Any], overrides: Overrides = (), *,
                       storage: str | None = None, name: str | None = None, resume: bool = False) -> Prepared:
    """Validates the experiment and plans its trials without starting Ray or writing anything.

    A mapping override sets each dotted key to its value (a mapping value replaces the whole key,
    as `--set strategy={...}` does); a list or a string holds `--set` texts.
    """
    from tunelab.experiments.run.prepare import prepare

    try:
        return prepare(_spec(experiment, overrides), storage=storage, name=name, resume=resume)
    except InputError as error:
        raise ExperimentError(str(error)) from None


def data(experiment: str | Path | Mapping[str, Any], overrides: Overrides = ()) -> Dataset | StreamedSplit:
    """The exact train/validation/test split an experiment's trials train on, or a run's trials trained on.

    `experiment` is a results folder (the experiment it recorded), or what `run` takes: a YAML path, a
    shipped experiment's name or the keys as a mapping, with `overrides`. Returns a Dataset of arrays
    (`x_test` None without a test part), or for a streamed source or a data function its parts as a
    worker reads them, tf.data pipelines of unbatched (x, label) examples (`Results.data()` is the same).
    """
    from tunelab.core.run_folder import SPEC_FILE
    from tunelab.core.tf_logs import quiet_tensorflow_logs
    from tunelab.trainables.data import trial_data

    if not isinstance(experiment, Mapping) and (Path(experiment).expanduser() / SPEC_FILE).is_file():
        from tunelab.analysis.load import load

        return load(experiment).data()
    try:
        spec = _spec(experiment, overrides)
        with quiet_tensorflow_logs():  # a data function or a streamed source loads TensorFlow
            return trial_data(spec.data, validation_fraction=spec.validation_fraction, seed=spec.seed,
                              test_fraction=spec.test_fraction, task=spec.task)
    except InputError as error:
        raise ExperimentError(str(error)) from None


def _spec(experiment: str | Path | Mapping[str, Any], overrides: Overrides) -> ExperimentSpec:
    """The experiment validated, its overrides applied: a mapping sets each dotted key, texts are `--set`'s."""
    from tunelab.experiments.spec import apply_override, read_experiment, set_key, spec_from_dict

    raw = _plain(experiment) if isinstance(experiment, Mapping) else read_experiment(experiment)
    if isinstance(overrides, Mapping):
        for key, value in _plain(overrides).items():
            set_key(raw, key, value)
    else:
        for text in [overrides] if isinstance(overrides, str) else overrides:
            apply_override(raw, text)
    return spec_from_dict(raw)


def run(experiment: str | Path | Mapping[str, Any], overrides: Overrides = (), *, storage: str | None = None,
        name: str | None = None, resume: bool = False, address: str | None = None,
        on_progress: Callable[[Progress], None] | None = None) -> Results:
    """Runs (or with `resume`, continues) an experiment and loads its results folder.

    `experiment` is a YAML path, a shipped experiment's name, or the same keys as a mapping;
    `overrides` maps dotted keys to values (`{"strategy.num_samples": 4}`) or lists `--set` texts
    (`["epochs=3"]`). Ray is started on this machine unless `address` (or RAY_ADDRESS) names a
    cluster, or this process already runs one.
    """
    from tunelab.analysis.load import load
    from tunelab.experiments.run.runner import run as run_prepared

    prepared = prepare_experiment(experiment, overrides, storage=storage, name=name, resume=resume)
    if prepared.complete:  # a resume of a finished run: nothing to run, no Ray to start
        return load(prepared.path)
    try:
        outcome = run_prepared(prepared, address=address, on_progress=on_progress)
    except InputError as error:
        raise ExperimentError(str(error)) from None
    if outcome.storage_error:
        raise ExperimentStopped(f"could not write to {outcome.path} ({outcome.storage_error}); "
                                f"{outcome.errored} trials errored; fix the storage, then resume", outcome.path)
    if outcome.stopped:
        if outcome.bad_input:
            raise ExperimentError(outcome.stopped)
        raise ExperimentStopped(outcome.stopped, outcome.path)
    if outcome.interrupted:
        raise KeyboardInterrupt(f"interrupted; Ray saved the run: continue with "
                                f"tunelab.run(..., resume=True, name={prepared.name!r})")
    return load(outcome.path)


def _plain(mapping: Mapping[str, Any]) -> dict:
    """A deep copy made of plain YAML values, as the experiment record will hold them."""
    try:
        return yaml.safe_load(yaml.safe_dump(copy.deepcopy(dict(mapping)), sort_keys=False))
    except yaml.YAMLError as error:  # numpy scalars, objects: the run folder's record could not hold them
        raise SpecError(f"experiment: holds a value YAML cannot write ({str(error).splitlines()[0]}); "
                        "use plain numbers, strings, lists and mappings") from None
