"""The tuner: what every KerasTuner-style tuner does to search, on Ray.

    tuner = RandomSearch(build_model, objective="val_accuracy", max_trials=10, directory="out")
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=10, batch_size=32)
    tuner.get_best_hyperparameters(1)[0].values, tuner.get_best_models(1)[0], tuner.results.trials

The search space is discovered from build_model when the tuner is made (tunelab/keras_tuner/discovery.py),
each tuner is a tunelab strategy, and `search` runs it on Ray through tunelab.experiments.run.runner;
the results folder is directory/project_name, readable with tunelab.load.
"""
from __future__ import annotations

import abc
import copy
import dataclasses
import logging
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from tunelab.analysis.load import load
from tunelab.analysis.results import ResultsError
from tunelab.core.checks import check_int
from tunelab.core.errors import InputError
from tunelab.core.run_folder import SPEC_FILE, is_uri
from tunelab.experiments.run.prepare import resolve_storage
from tunelab.experiments.run.runner import RayJob, run_job
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.strategies import Budget, Plan, check_options, plan_strategy
from tunelab.experiments.tracking import tracking_callbacks
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.keras_tuner.data import FitData, prepare_fit_data
from tunelab.keras_tuner.discovery import Discovered, discover, space_as_dict
from tunelab.keras_tuner.display import print_finished_trial
from tunelab.keras_tuner.hypermodel import get_hypermodel, overrides_fit
from tunelab.keras_tuner.hyperparameters import HyperParameters
from tunelab.keras_tuner.objective import Objective, create_objective
from tunelab.keras_tuner.options import compile_overrides, tuner_options
from tunelab.keras_tuner.results import TunerResults
from tunelab.keras_tuner.reported import check_objective
from tunelab.keras_tuner.trainable import HyperModelRun, build_trial_model, train_hypermodel
from tunelab.searchspaces import Space
from tunelab.searchspaces.inline import space_from_dict

logger = logging.getLogger(__name__)


class SearchInterrupted(RuntimeError):
    """Ray stopped the search early (Ctrl+C) and saved it; a tuner with overwrite=False continues it."""


@dataclass(frozen=True)
class _Search:
    """One run_job's worth: the Ray pieces, the record analysis reads, and the scheduler's event log."""

    plan: Plan
    record: dict[str, Any]
    events: TrialEventLog
    concurrency: int  # RayJob.max_concurrent_trials (0 for bayes, which limits itself)
    epochs: int = 0   # a trial's whole budget (0: unknown, fit decides)

_UNFINISHED = ("running", "paused", "pending")  # analysis' stop_reason of a trial Ray has not finished


class Tuner(TunerResults, abc.ABC):
    """The shared machinery; use RandomSearch, GridSearch, BayesianOptimization or Hyperband."""

    _grid_points = False  # GridSearch: continuous ranges get KerasTuner's ten grid points

    def __init__(self, hypermodel: Any, objective: Any, seed: int | None, options: Mapping[str, Any]) -> None:
        if type(self) is Tuner:
            raise TypeError("Tuner cannot search on its own (a custom run_trial has no Ray equivalent); "
                            "use RandomSearch, GridSearch, BayesianOptimization or Hyperband")
        self.hypermodel = get_hypermodel(hypermodel)
        self.objective: Objective = create_objective(objective)
        self.seed = seed
        self.options = tuner_options(options)
        self.directory = self.options.directory
        self.project_name = self.options.project_name
        self._storage = resolve_storage(self.options.directory)
        if self.options.overwrite and Path(self.project_dir).exists():
            shutil.rmtree(self.project_dir)
        _configure_driver_tensorflow()
        self._discovered = self._discover()
        for note in self._discovered.notes:
            logger.warning("build_model: %s", note)

    # --- the space ------------------------------------------------------------------------

    @property
    def project_dir(self) -> str:
        return str(Path(self._storage) / self.project_name)

    @property
    def discovery(self) -> Discovered:
        """What discovery found: declarations, their conditions (declared and inferred), and notes."""
        return self._discovered

    @property
    def space(self) -> Space:
        """The tunelab Space this tuner searches (keys are identifiers: `a/b` becomes `a_b`)."""
        return self._discovered.to_space(grid_points=self._grid_points)

    def _discover(self, fit: tuple[tuple, dict] | None = None) -> Discovered:
        import keras

        declared = self.options.hyperparameters.copy() if self.options.hyperparameters else None
        if hasattr(self.hypermodel, "declare_hyperparameters"):
            declared = declared or HyperParameters()
            self.hypermodel.declare_hyperparameters(declared)
            if not declared.space:
                declared = None

        def build(hp: HyperParameters) -> Any:
            keras.backend.clear_session()
            model = self.hypermodel.build(hp)
            if fit is not None:  # HyperModel.fit may declare hyperparameters too (batch_size, ...)
                args, kwargs = fit
                self.hypermodel.fit(hp, _NoTraining(model, self.objective.name), *args, **kwargs)
            return model

        return discover(build, declared=declared, tune_new_entries=self.options.tune_new_entries,
                        allow_new_entries=self.options.allow_new_entries)

    # --- search ---------------------------------------------------------------------------

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """Runs the trials on Ray; takes model.fit's arguments (x, y, validation_data, epochs, ...)."""
        epochs = self._epochs(fit_kwargs.pop("epochs", None))
        callbacks = _with_absolute_log_dirs(tuple(fit_kwargs.pop("callbacks", None) or ()))
        _check_callbacks(callbacks)
        data = prepare_fit_data(fit_args, fit_kwargs, max_bytes=self.options.max_data_bytes)
        custom_fit = overrides_fit(self.hypermodel)
        if custom_fit:
            self._discover_with_fit(fit_args, fit_kwargs, epochs)
        executions = self.options.executions_per_trial
        if executions > 1 and (custom_fit or epochs is None):
            raise ValueError("executions_per_trial > 1 trains the models side by side one epoch at a time: "
                             "it needs epochs given to search() and the default HyperModel.fit")
        space = self.space
        previous = _record(self.project_dir)
        seed = self._resolve_seed(previous)
        run = HyperModelRun(
            hypermodel=self.hypermodel, discovered=self._discovered, objective=self.objective.name, epochs=epochs,
            executions=executions, custom_fit=custom_fit, callbacks=callbacks, cpus=self.options.cpus,
            gpus=self.options.gpus, seed=seed, max_model_size=self.options.max_model_size,
            compile_overrides=compile_overrides(self.options),
            log_folder=None if is_uri(self.project_dir) else self.project_dir,
        )
        if not custom_fit:  # a custom fit may report (or return) any name
            check_objective(self.objective.name, lambda: build_trial_model(run, {}), data, callbacks)
        trainable = _trainable(data, run, self.options.resources_per_trial)
        search = self._plan(space, epochs, seed, data.describe())
        verbose = bool(fit_kwargs.get("verbose", 1))  # as KerasTuner, which also passes it on to fit
        if verbose and previous is None:
            for note in search.plan.notes:  # e.g. a space smaller than max_trials: each configuration once
                print(note)
        if previous is not None:
            self._check_same_search(previous, search.record)
            trials = self._trials()
            if trials["stop_reason"].isin(_UNFINISHED).any():  # interrupted: continue them from their checkpoints
                self._run(trainable, search, resume=True, verbose=verbose)
                trials = self._trials()
            if len(trials) >= search.plan.num_samples:
                return
            search = self._plan(space, epochs, seed, data.describe())
            search = dataclasses.replace(search, plan=_continue_after(search.plan, len(trials), self.project_dir))
        self._run(trainable, search, resume=False, verbose=verbose)

    def _run(self, trainable: Any, search: _Search, *, resume: bool, verbose: bool) -> None:
        try:
            callbacks = tracking_callbacks(
                self.options.tracking_spec, run_name=self.project_name, run_path=str(self.project_dir),
                metric=self.objective.name, mode=self.objective.direction, epochs=search.epochs,
                storage_is_local=not is_uri(self._storage))
        except InputError as error:
            raise ValueError(str(error)) from None
        job = RayJob(
            trainable=trainable, plan=search.plan, metric=self.objective.name, mode=self.objective.direction,
            storage=self._storage, name=self.project_name, events=search.events, record=search.record,
            resume=resume, max_concurrent_trials=search.concurrency, max_failures=self.options.max_retries_per_trial,
            max_consecutive_failures=self.options.max_consecutive_failed_trials,
            resources={"cpu": self.options.cpus, "gpu": self.options.gpus}, epochs_per_trial=search.epochs,
            callbacks=callbacks,
        )
        on_progress = self.options.on_progress or (print_finished_trial if verbose else None)
        outcome = run_job(job, address=self.options.address, on_progress=on_progress)
        if outcome.stopped and outcome.bad_input:
            raise ValueError(outcome.stopped)
        if outcome.stopped:  # as KerasTuner: too many failed trials in a row end the search with an error
            raise RuntimeError(f"Number of consecutive failures exceeded the limit of "
                               f"{self.options.max_consecutive_failed_trials}.\n{outcome.stopped}")
        if self._trials()["stop_reason"].isin(_UNFINISHED).any():  # Ray caught Ctrl+C (or lost its workers)
            raise SearchInterrupted(f"search stopped before its trials finished; the state is saved in "
                                    f"{self.project_dir}: run it again with overwrite=False to continue")

    def _discover_with_fit(self, fit_args: tuple, fit_kwargs: dict, epochs: int | None) -> None:
        kwargs = {**fit_kwargs, "callbacks": []}
        if epochs is not None:
            kwargs["epochs"] = epochs
        try:
            self._discovered = self._discover(fit=(fit_args, kwargs))
        except Exception as error:  # the user's fit could not run without training: its hps keep defaults
            logger.warning("HyperModel.fit could not run without training, for discovery (%s); hyperparameters "
                           "only it declares run at their defaults", error)
            built_only = self._discover()
            self._discovered = dataclasses.replace(
                built_only, notes=(*built_only.notes, f"HyperModel.fit not explored: {error}"))

    def _epochs(self, epochs: Any) -> int | None:
        if epochs is None:
            return None
        return check_int("epochs", epochs, 1)

    def _resolve_seed(self, previous: Mapping[str, Any] | None) -> int:
        if self.seed is not None:
            return int(self.seed)
        if previous is not None:
            return int(previous.get("keras_tuner", {}).get("seed", 0))
        return random.randrange(2**31)

    @abc.abstractmethod
    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        """The tunelab strategy and its options that this KerasTuner tuner stands for."""

    def _plan(self, space: Space, epochs: int | None, seed: int, data: str) -> _Search:
        """The Ray pieces for the whole search, and the experiment record analysis reads."""
        name, options = self._strategy(space, seed)
        if self.options.scheduler is not None:
            options["scheduler"] = self.options.scheduler
            if epochs is None:
                raise ValueError("scheduler: early stopping needs epochs given to search()")
        checked = check_options(name, options, where=type(self).__name__)
        concurrency = 0 if name == "bayes" else self.options.max_concurrent_trials  # bayes limits itself
        budget = Budget(self.objective.name, self.objective.direction, epochs or 1, max_concurrent_trials=concurrency)
        plan = self._limit(plan_strategy(space, name, checked, budget))
        record = {
            "name": self.project_name,
            "description": f"KerasTuner-style {type(self).__name__} over {_describe(self.hypermodel)}",
            "trainable": "keras_tuner",
            "data": data,
            "space": space_as_dict(space),
            "metric": self.objective.name,
            "mode": self.objective.direction,
            "strategy": {"name": name, **_yaml_safe(options)},
            **({"epochs": epochs} if epochs is not None else {}),
            "resources": {"cpu": self.options.cpus, "gpu": self.options.gpus},
            "max_concurrent_trials": self.options.max_concurrent_trials,
            "max_failures": self.options.max_retries_per_trial,
            "storage": self._storage,
            "keras_tuner": {"tuner": type(self).__name__, "seed": seed, "trials": plan.num_samples,
                            "executions_per_trial": self.options.executions_per_trial,
                            "names": {key: name for key, name in self._discovered.names.items() if key != name}},
        }
        return _Search(plan, record, budget.events, concurrency, epochs or 0)

    def _limit(self, plan: Plan) -> Plan:
        return plan

    def _check_same_search(self, previous: Mapping[str, Any], record: Mapping[str, Any]) -> None:
        tuner = previous.get("keras_tuner", {}).get("tuner")
        if tuner != type(self).__name__ or previous.get("metric") != record["metric"]:
            raise ValueError(f"{self.project_dir} holds a {tuner} run on {previous.get('metric')}; "
                             "use overwrite=True or another project_name")
        if dict(space_from_dict(previous["space"])) != dict(space_from_dict(record["space"])):
            raise ValueError(f"{self.project_dir}: build_model's search space changed since that run; "
                             "use overwrite=True or another project_name")

    def _trials(self) -> Any:
        """The trials of the run in project_dir so far (none if it has no trial yet)."""
        try:
            return load(self.project_dir).trials
        except ResultsError:
            return pd.DataFrame({"stop_reason": pd.Series(dtype=object)})

    @property
    def remaining_trials(self) -> int | None:
        """Trials still to run (None for a grid without max_trials): counts an earlier run in project_dir."""
        total = self._total_trials()
        started = len(self._trials()) if _record(self.project_dir) else 0
        return None if total is None else max(0, total - started)

    def _total_trials(self) -> int | None:
        return None


class _NoTraining:
    """A built model whose fit/evaluate/predict return at once, so discovery can run HyperModel.fit."""

    def __init__(self, model: Any, objective: str) -> None:
        self._model, self._objective = model, objective

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        import keras

        history = keras.callbacks.History()
        history.history = {self._objective: [0.0]}
        return history

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        return {self._objective: 0.0} if kwargs.get("return_dict") else 0.0

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self._model.predict(x[:1] if hasattr(x, "__getitem__") else x, verbose=0)


def _describe(hypermodel: Any) -> str:
    function = getattr(hypermodel, "_function", None)
    return getattr(function, "__name__", None) or type(hypermodel).__name__


def _yaml_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _yaml_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml_safe(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else repr(value)


def _record(path: str) -> dict[str, Any] | None:
    """The experiment record of an earlier tunelab run in `path`, if there is one."""
    import yaml

    file = Path(path) / SPEC_FILE
    if not file.exists():
        return None
    record = yaml.safe_load(file.read_text())
    return record if isinstance(record, dict) and "keras_tuner" in record else None


def _continue_after(plan: Plan, started: int, path: str) -> Plan:
    """A fresh plan whose searcher goes on where the earlier run in `path` stopped suggesting."""
    if isinstance(plan.searcher, ConfigSequenceSearcher):  # the same seeded list: skip what ran
        plan.searcher.set_state({**plan.searcher.get_state(), "next": started})
    else:  # bayes: the Gaussian process's observations come back from the saved searcher state
        plan.searcher.restore_from_dir(path)
    return dataclasses.replace(plan, num_samples=plan.num_samples - started)


def _trainable(data: FitData, run: HyperModelRun, resources: Mapping[str, float]) -> Any:
    from ray import tune

    return tune.with_resources(tune.with_parameters(train_hypermodel, data=data, run=run),
                               {"cpu": resources.get("cpu", 1), "gpu": resources.get("gpu", 0)})


def _with_absolute_log_dirs(callbacks: tuple) -> tuple:
    """TensorBoard callbacks with their log_dir made absolute here: a trial runs in Ray's own folder."""
    import os

    resolved = []
    for callback in callbacks:
        if type(callback).__name__ == "TensorBoard" and not os.path.isabs(str(callback.log_dir)):
            callback = copy.copy(callback)
            callback.log_dir = os.path.abspath(str(callback.log_dir))
        resolved.append(callback)
    return tuple(resolved)


def _check_callbacks(callbacks: tuple) -> None:
    try:
        copy.deepcopy(list(callbacks))
    except Exception as error:
        raise ValueError("All callbacks used during a search should be deep-copyable (each trial gets a copy); "
                         f"copy.deepcopy failed: {error}") from None


def _configure_driver_tensorflow() -> None:
    """Discovery builds models in this process: let GPU memory grow instead of taking all of it."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # TensorFlow already initialised here by the user's own code
            pass
