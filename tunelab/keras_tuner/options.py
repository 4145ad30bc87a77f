"""What every KerasTuner-style tuner accepts besides its own arguments, checked once."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from tunelab.core.checks import check_int, did_you_mean
from tunelab.core.errors import InputError
from tunelab.experiments.tracking import TrackingSpec, tracking_from_raw
from tunelab.keras_tuner.hyperparameters import HyperParameters


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
    max_data_bytes: int = 2 * 1024**3
    """The most the tf.data datasets given to search() may hold in all: each is read whole on the driver."""
    optimizer: Any = None
    """Recompile every built model with this optimizer (and loss, metrics below)."""
    loss: Any = None
    metrics: Any = None
    resources_per_trial: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    """What one trial reserves; fractional GPUs let trials share a card."""
    distribution_strategy: Any = None
    """KerasTuner's: a strategy over n > 1 devices asks for n GPUs per trial; each trial builds its own
    MirroredStrategy over the GPUs Ray gives it (the object itself stays in this process)."""
    max_concurrent_trials: int = 0
    """0: as many as the cluster fits (BayesianOptimization: 2, as each pending trial blinds the GP)."""
    address: str | None = None
    """A Ray cluster to join ("auto", "ray://head:10001"); None starts (or reuses) a local Ray."""
    scheduler: Any = None
    """Early stopping for the search tuners: "asha", "hyperband", "sha" or {"name": "asha", ...}."""
    on_progress: Callable[[Any], None] | None = None
    """Called with tunelab.experiments.run.progress.Progress snapshots during `search`, instead of the
    line per finished trial that search(verbose=1), the default, prints."""
    tuner_id: Any = None
    """Accepted from KerasTuner code (its distributed-tuning id); Ray needs none."""
    tracking: Mapping[str, Any] | None = None
    """As the experiment YAML's `tracking:` key: {"mlflow": URI, "checkpoint": bool, "callbacks": [...]};
    the MLflow experiment is the project_name."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", os.fspath(self.directory if self.directory is not None else "."))
        object.__setattr__(self, "project_name", str(self.project_name or "untitled_project"))
        for name, low in (("executions_per_trial", 1), ("max_retries_per_trial", 0),
                          ("max_consecutive_failed_trials", 0), ("max_concurrent_trials", 0), ("max_data_bytes", 1)):
            check_int(name, getattr(self, name), low)
        unknown = [key for key in self.resources_per_trial if key not in ("cpu", "gpu")]
        if unknown:
            raise ValueError(f"resources_per_trial: {unknown[0]!r} is not a resource; use cpu and gpu")
        object.__setattr__(self, "resources_per_trial", _with_strategy_gpus(self.resources_per_trial,
                                                                           self.distribution_strategy))
        cpu, gpu = self.resources_per_trial.get("cpu", 1), self.resources_per_trial.get("gpu", 0)
        if not cpu > 0 or not gpu >= 0 or (gpu > 1 and gpu != int(gpu)):
            raise ValueError(f"resources_per_trial: cpu must be > 0 and gpu >= 0 (whole above 1), got {cpu}, {gpu}")
        if self.hyperparameters is not None and not isinstance(self.hyperparameters, HyperParameters):
            raise TypeError("hyperparameters: expected this module's HyperParameters")
        try:
            self.tracking_spec  # noqa: B018  (checked here, so a mistake surfaces at the tuner's creation)
        except InputError as error:
            raise ValueError(str(error)) from None

    @property
    def tracking_spec(self) -> TrackingSpec:
        return tracking_from_raw(self.tracking)

    @property
    def cpus(self) -> float:
        return float(self.resources_per_trial.get("cpu", 1))

    @property
    def gpus(self) -> float:
        return float(self.resources_per_trial.get("gpu", 0))


_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(TunerOptions))
_REFUSED = {
    "oracle": "tunelab's tuners pick their Ray search algorithm themselves; use one of its tuners",
}


def _with_strategy_gpus(resources: Mapping[str, float], strategy: Any) -> Mapping[str, float]:
    """resources_per_trial with as many GPUs as `strategy` has replicas, when it has several."""
    if strategy is None:
        return resources
    replicas = getattr(strategy, "num_replicas_in_sync", None)
    if not isinstance(replicas, int):
        raise ValueError(f"distribution_strategy: expected a tf.distribute strategy, got {type(strategy).__name__}")
    if replicas < 2:
        return resources
    if resources.get("gpu", 0) not in (0, replicas):
        raise ValueError(f"distribution_strategy has {replicas} replicas but resources_per_trial asks for "
                         f"{resources['gpu']} GPUs; give one of them")
    return {**resources, "gpu": replicas}


def tuner_options(given: Mapping[str, Any]) -> TunerOptions:
    for key in given:
        if key in _REFUSED:
            raise ValueError(f"{key}: not supported on Ray: {_REFUSED[key]}")
        if key not in _OPTION_NAMES and key != "logger":
            raise TypeError(f"unexpected tuner argument {key!r}{did_you_mean(key, _OPTION_NAMES)}")
    return TunerOptions(**{k: v for k, v in given.items() if k != "logger"})


def compile_overrides(options: TunerOptions) -> dict[str, Any]:
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
