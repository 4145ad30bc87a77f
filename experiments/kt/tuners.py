"""KerasTuner's tuners on Ray: RandomSearch, GridSearch, BayesianOptimization, Hyperband.

    tuner = RandomSearch(build_model, objective="val_accuracy", max_trials=10, directory="out")
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=10, batch_size=32)
    tuner.get_best_hyperparameters(1)[0].values, tuner.get_best_models(1)[0], tuner.results.trials

The search space is discovered from build_model when the tuner is made (experiments/kt/discovery.py),
each tuner is a tunelab strategy, and `search` runs it on Ray through tunelab.experiments.runner;
the results folder is directory/project_name, readable with tunelab.load.
"""
from __future__ import annotations

import abc
import copy
import dataclasses
import inspect
import logging
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from tunelab.analysis.checkpoints import BestCheckpoint, best_checkpoint, trial_best_checkpoint
from tunelab.analysis.load import Results, ResultsError, load
from tunelab.checks import check_int, did_you_mean
from tunelab.experiments.kt.discovery import Discovered, discover, space_as_dict
from tunelab.experiments.kt.display import print_finished_trial
from tunelab.experiments.kt.hypermodel import get_hypermodel, overrides_fit
from tunelab.experiments.kt.hyperparameters import HyperParameters
from tunelab.experiments.kt.objective import Objective, create_objective
from tunelab.experiments.kt.oracle import Oracle
from tunelab.experiments.kt.results import ranked
from tunelab.experiments.kt.trainable import FitData, HyperModelRun, load_model, train_hypermodel
from tunelab.experiments.runner import RayJob, resolve_storage, run_job
from tunelab.experiments.schedulers import hyperband_brackets
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.strategies import MAX_GRID, Budget, Plan, check_options, plan_strategy
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.run_folder import SPEC_FILE
from tunelab.searchspaces import Fixed, Space
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


@dataclass(frozen=True)
class TunerOptions:
    """What every tuner shares (KerasTuner repeats these in each class; here they live once)."""

    directory: str | os.PathLike = "."
    """Results go to directory/project_name (a relative directory is taken from the current one)."""
    project_name: str = "untitled_project"
    overwrite: bool = False
    """True deletes an earlier run there; False resumes it (unfinished trials from their checkpoints)."""
    executions_per_trial: int = 1
    """Models trained per trial, side by side; the mean of their metrics is reported each epoch."""
    max_retries_per_trial: int = 0
    """Retries of a failing trial, each from its last checkpoint."""
    max_consecutive_failed_trials: int = 3
    """The search stops, and raises, after this many failed trials in a row."""
    hyperparameters: HyperParameters | None = None
    """Declared ahead of build_model; these win over build_model's own declarations."""
    tune_new_entries: bool = True
    """False: parameters build_model declares beyond `hyperparameters` stay at their defaults."""
    allow_new_entries: bool = True
    """False: build_model may not declare parameters beyond `hyperparameters`."""
    max_model_size: int | None = None
    """A model with more trainable scalars fails its trial."""
    optimizer: Any = None
    """Recompile every built model with this optimizer (and loss, metrics below)."""
    loss: Any = None
    metrics: Any = None
    resources_per_trial: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    """What one trial reserves; fractional GPUs let trials share a card."""
    max_concurrent_trials: int = 0
    """0: as many as the cluster fits (BayesianOptimization: 2, as each pending trial blinds the GP)."""
    address: str | None = None
    """A Ray cluster to join ("auto", "ray://head:10001"); None starts (or reuses) a local Ray."""
    scheduler: Any = None
    """Early stopping for the search tuners: "asha", "hyperband", "sha" or {"name": "asha", ...}."""
    on_progress: Callable[[Any], None] | None = None
    """Called with tunelab.experiments.progress.Progress snapshots during `search`, instead of the
    line per finished trial that search(verbose=1), the default, prints."""
    tuner_id: Any = None
    """Accepted from KerasTuner code (its distributed-tuning id); Ray needs none."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", os.fspath(self.directory if self.directory is not None else "."))
        object.__setattr__(self, "project_name", str(self.project_name or "untitled_project"))
        for name, low in (("executions_per_trial", 1), ("max_retries_per_trial", 0),
                          ("max_consecutive_failed_trials", 0), ("max_concurrent_trials", 0)):
            check_int(name, getattr(self, name), low)
        unknown = [key for key in self.resources_per_trial if key not in ("cpu", "gpu")]
        if unknown:
            raise ValueError(f"resources_per_trial: {unknown[0]!r} is not a resource; use cpu and gpu")
        cpu, gpu = self.resources_per_trial.get("cpu", 1), self.resources_per_trial.get("gpu", 0)
        if not cpu > 0 or not gpu >= 0 or (gpu > 1 and gpu != int(gpu)):
            raise ValueError(f"resources_per_trial: cpu must be > 0 and gpu >= 0 (whole above 1), got {cpu}, {gpu}")
        if self.hyperparameters is not None and not isinstance(self.hyperparameters, HyperParameters):
            raise TypeError("hyperparameters: expected this module's HyperParameters")

    @property
    def cpus(self) -> float:
        return float(self.resources_per_trial.get("cpu", 1))

    @property
    def gpus(self) -> float:
        return float(self.resources_per_trial.get("gpu", 0))


_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(TunerOptions))
_REFUSED = {
    "distribution_strategy": "each trial runs in its own Ray worker; give it GPUs with resources_per_trial={'gpu': 2}",
    "oracle": "tunelab's tuners pick their Ray search algorithm themselves; use one of its tuners",
}


def _options(given: Mapping[str, Any]) -> TunerOptions:
    for key in given:
        if key in _REFUSED:
            raise ValueError(f"{key}: not supported on Ray: {_REFUSED[key]}")
        if key not in _OPTION_NAMES and key != "logger":
            raise TypeError(f"unexpected tuner argument {key!r}{did_you_mean(key, _OPTION_NAMES)}")
    return TunerOptions(**{k: v for k, v in given.items() if k != "logger"})


class Tuner(abc.ABC):
    """The shared machinery; use RandomSearch, GridSearch, BayesianOptimization or Hyperband."""

    _grid_points = False  # GridSearch: continuous ranges get KerasTuner's ten grid points

    def __init__(self, hypermodel: Any, objective: Any, seed: int | None, options: Mapping[str, Any]) -> None:
        if type(self) is Tuner:
            raise TypeError("Tuner cannot search on its own (a custom run_trial has no Ray equivalent); "
                            "use RandomSearch, GridSearch, BayesianOptimization or Hyperband")
        self.hypermodel = get_hypermodel(hypermodel)
        self.objective: Objective = create_objective(objective)
        self.seed = seed
        self.options = _options(options)
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
        callbacks = tuple(fit_kwargs.pop("callbacks", None) or ())
        _check_callbacks(callbacks)
        _check_data(fit_args, fit_kwargs)
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
            compile_overrides=_compile_overrides(self.options),
        )
        trainable = _trainable(FitData(fit_args, fit_kwargs), run, self.options.resources_per_trial)
        search = self._plan(space, epochs, seed)
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
            search = self._plan(space, epochs, seed)
            search = dataclasses.replace(search, plan=_continue_after(search.plan, len(trials), self.project_dir))
        self._run(trainable, search, resume=False, verbose=verbose)

    def _run(self, trainable: Any, search: _Search, *, resume: bool, verbose: bool) -> None:
        job = RayJob(
            trainable=trainable, plan=search.plan, metric=self.objective.name, mode=self.objective.direction,
            storage=self._storage, name=self.project_name, events=search.events, record=search.record,
            resume=resume, max_concurrent_trials=search.concurrency, max_failures=self.options.max_retries_per_trial,
            max_consecutive_failures=self.options.max_consecutive_failed_trials,
            resources={"cpu": self.options.cpus, "gpu": self.options.gpus}, epochs_per_trial=search.epochs,
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

    def _plan(self, space: Space, epochs: int | None, seed: int) -> _Search:
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
            "data": "search() arguments",
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
    def results(self) -> Results:
        """Results frames: `.trials` (one row per trial) and `.history` (one row per trial and epoch).

        Hyperparameter columns carry build_model's names.
        """
        results = load(self.project_dir)
        names = self._discovered.names
        renamed = {key: name for key, name in names.items() if key != name}
        if not renamed:
            return results
        return dataclasses.replace(results, trials=results.trials.rename(columns=renamed),
                                   params=tuple(renamed.get(p, p) for p in results.params))

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The best trials' hyperparameters, best first: `.values`, `.get(name)`, `hp[name]`."""
        results = load(self.project_dir)
        best = ranked(results).head(num_trials)
        return [self._discovered.hyperparameters(results.config(row)) for _, row in best.iterrows()]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' models with the weights of their best epoch, best first."""
        import keras

        results = load(self.project_dir)
        models = []
        for _, row in ranked(results).head(num_models).iterrows():
            checkpoint = trial_best_checkpoint(row, results)
            if checkpoint is None:
                raise RuntimeError(f"trial {row['trial_id']}: no checkpoint of its best epoch is left")
            hp = self._discovered.hyperparameters(results.config(row))
            keras.backend.clear_session()
            models.append(_load_best(checkpoint.model_file, lambda hp=hp: self._rebuild(hp)))
        return models

    def best_model(self) -> Any:
        """The best trial's model with the weights of its best epoch (`get_best_models(1)[0]`)."""
        return self.get_best_models(1)[0]

    def best_checkpoint(self) -> BestCheckpoint:
        """Where the best completed trial's best epoch is saved (the trial get_best_models(1) loads)."""
        results = load(self.project_dir)
        best = ranked(results)
        if best.empty:
            raise RuntimeError("no trial completed with the objective yet")
        return best_checkpoint(results, best.iloc[0]["trial_id"])

    def _rebuild(self, hp: HyperParameters) -> Any:
        """build_model(hp), recompiled with Tuner(optimizer=, loss=, metrics=) as the trials were."""
        model = self.hypermodel.build(hp)
        overrides = _compile_overrides(self.options)
        if overrides:
            model.compile_from_config({**(model.get_compile_config() or {}), **overrides})
        return model

    @property
    def oracle(self) -> Oracle:
        """The read-only oracle scripts use: `get_best_trials(n)`, `get_trial(id)`, `trials`."""
        return Oracle(self.project_dir, self._discovered, self.objective)

    def results_summary(self, num_trials: int = 10) -> None:
        """Prints the best trials as KerasTuner does, failed ones (with their error) when too few completed."""
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(self.objective)
        for trial in self.oracle.get_best_trials(num_trials):
            print()
            trial.summary()

    def search_space_summary(self, extended: bool = False) -> None:
        """Prints the discovered space as KerasTuner does, with the conditions tunelab inferred."""
        print("Search space summary")
        print(f"Default search space size: {len(self._discovered.declarations)}")
        for declaration in self._discovered.declarations:
            config = declaration.summary()
            if declaration.name in self._discovered.inferred:
                config["when"] = self._discovered.inferred[declaration.name]
            print(f"{declaration.name} ({declaration.kind})")
            print(config)

    @property
    def remaining_trials(self) -> int | None:
        """Trials still to run (None for a grid without max_trials): counts an earlier run in project_dir."""
        total = self._total_trials()
        started = len(self._trials()) if _record(self.project_dir) else 0
        return None if total is None else max(0, total - started)

    def _total_trials(self) -> int | None:
        return None


# --- the four tuners ------------------------------------------------------------------------------


class RandomSearch(Tuner):
    """Random configurations, seeded: KerasTuner's RandomSearch, `max_trials` of them."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10, seed: int | None = None,
                 **options: Any) -> None:
        self.max_trials = check_int("max_trials", max_trials, 1)
        super().__init__(hypermodel, objective, seed, options)

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        return "random", {"num_samples": self.max_trials, "seed": seed}

    def _total_trials(self) -> int:
        return self.max_trials


class GridSearch(Tuner):
    """Every combination in declaration order, the last parameter varying fastest; `max_trials` stops early.

    As in KerasTuner, a Float without a step (and a log-sampled Int) contributes its default and
    ten evenly spread values.
    """

    _grid_points = True

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int | None = None,
                 seed: int | None = None, **options: Any) -> None:
        self.max_trials = None if max_trials is None else check_int("max_trials", max_trials, 1)
        super().__init__(hypermodel, objective, seed, options)

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        return "grid", {"max_trials": MAX_GRID}  # KerasTuner's max_trials cuts the grid in _limit

    def _limit(self, plan: Plan) -> Plan:
        if self.max_trials is None or self.max_trials >= plan.num_samples:  # KerasTuner stops at max_trials
            return plan
        if self.options.scheduler is not None:
            raise ValueError("GridSearch: max_trials below the grid size cannot be combined with a scheduler; "
                             "pin parameters or leave max_trials out")
        configs = plan.searcher.get_state()["configs"][: self.max_trials]
        return dataclasses.replace(plan, searcher=ConfigSequenceSearcher(configs), num_samples=len(configs),
                                   max_epochs=plan.max_epochs * len(configs) // plan.num_samples)

    def _total_trials(self) -> int:
        return min(self.max_trials or len(self.space.grid()), len(self.space.grid()))


class BayesianOptimization(Tuner):
    """A Gaussian process with upper-confidence-bound acquisition (beta) after `num_initial_points` random ones."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10,
                 num_initial_points: int | None = None, alpha: float = 1e-4, beta: float = 2.6,
                 seed: int | None = None, **options: Any) -> None:
        if alpha != 1e-4:
            raise ValueError("alpha: tunelab's Gaussian process fits its own noise level; leave alpha out")
        self.max_trials = check_int("max_trials", max_trials, 1)
        self.num_initial_points = None if num_initial_points is None else check_int(
            "num_initial_points", num_initial_points, 1)
        self.beta = beta
        super().__init__(hypermodel, objective, seed, options)

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        dimensions = sum(not isinstance(param, Fixed) for param in space.values())
        return "bayes", {
            "num_samples": self.max_trials, "seed": seed, "acquisition": "ucb", "kappa": float(self.beta),
            "random_steps": self.num_initial_points or max(3 * dimensions, 3),
            "max_concurrent": self.options.max_concurrent_trials or 2,
        }

    def _total_trials(self) -> int:
        return self.max_trials


class Hyperband(Tuner):
    """Hyperband brackets up to `max_epochs`, keeping 1/`factor` per rung; paused trials resume from checkpoints.

    `search(epochs=...)` is ignored, as in KerasTuner: each trial's budget is max_epochs. One
    iteration runs the brackets' trials (3 + 2 for max_epochs=3, factor=3); a promoted trial
    continues its own training instead of starting a new trial from a saved model.
    """

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_epochs: int = 100, factor: int = 3,
                 hyperband_iterations: int = 1, seed: int | None = None, **options: Any) -> None:
        self.max_epochs = check_int("max_epochs", max_epochs, 1)
        self.factor = check_int("factor", factor, 2)
        self.hyperband_iterations = check_int("hyperband_iterations", hyperband_iterations, 1)
        if options.get("scheduler") is not None:
            raise ValueError("scheduler: Hyperband is its own scheduler; use RandomSearch(scheduler=...) for others")
        super().__init__(hypermodel, objective, seed, options)

    def _epochs(self, epochs: Any) -> int:
        return self.max_epochs

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        return "hyperband", {"num_samples": self._total_trials(), "seed": seed, "reduction_factor": self.factor}

    def _total_trials(self) -> int:
        per_iteration = sum(count for count, _ in hyperband_brackets(self.max_epochs, self.factor))
        return self.hyperband_iterations * per_iteration


# --- helpers ------------------------------------------------------------------------------------


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


def _compile_overrides(options: TunerOptions) -> dict[str, Any]:
    """Tuner(optimizer=, loss=, metrics=) in Keras' compile-config form, which travels to workers."""
    import keras

    def serialized(value: Any, kind: Any) -> Any:
        return value if isinstance(value, str) else kind.serialize(value)

    overrides: dict[str, Any] = {}
    if options.optimizer is not None:
        overrides["optimizer"] = serialized(options.optimizer, keras.optimizers)
    if options.loss is not None:
        overrides["loss"] = serialized(options.loss, keras.losses)
    if options.metrics is not None:
        overrides["metrics"] = [serialized(metric, keras.metrics) for metric in options.metrics]
    return overrides


def _check_callbacks(callbacks: tuple) -> None:
    try:
        copy.deepcopy(list(callbacks))
    except Exception as error:
        raise ValueError("All callbacks used during a search should be deep-copyable (each trial gets a copy); "
                         f"copy.deepcopy failed: {error}") from None


def _check_data(args: tuple, kwargs: Mapping[str, Any]) -> None:
    """Data must travel to Ray workers: arrays do, tf.data pipelines and generators do not."""
    values = [*args, *kwargs.values()]
    if isinstance(kwargs.get("validation_data"), (tuple, list)):
        values.extend(kwargs["validation_data"])
    for value in values:
        kind = type(value)
        if inspect.isgenerator(value) or (kind.__module__.startswith("tensorflow") and "Dataset" in kind.__name__):
            raise TypeError(f"search(): a {kind.__name__} cannot be sent to Ray workers; pass NumPy arrays "
                            "(or build the pipeline inside HyperModel.fit)")


def _load_best(path: Path, build: Callable[[], Any]) -> Any:
    """As KerasTuner: build_model(hp), then the saved weights; the saved model itself if that fails."""
    try:
        model = build()
        if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # so the saved optimizer state loads too
        model.load_weights(path)
        return model
    except Exception as error:
        logger.warning("%s: loading the saved model instead of rebuilding it (%s)", path, error)
        return load_model(path, build)


def _configure_driver_tensorflow() -> None:
    """Discovery builds models in this process: let GPU memory grow instead of taking all of it."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # TensorFlow already initialised here by the user's own code
            pass
