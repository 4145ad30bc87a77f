"""The Ray trainable behind the KerasTuner-style tuners: hp from the config, build, fit, report.

Used as `tune.with_resources(tune.with_parameters(train_hypermodel, data=FitData(...),
run=HyperModelRun(...)), ...)`, so the data given to `search()` travels through Ray's object
store once, not once per trial (tunelab/keras_tuner/data.py says in what form). Every epoch is
reported with a checkpoint (the model with its optimizer state, and the epoch), so a paused,
failed or interrupted trial resumes at the next epoch.

With `executions` > 1 the trial trains that many models side by side, one epoch at a time, and
reports the mean of their metrics each epoch; the checkpoint then holds every model
(model_0.keras, model_1.keras, ...) and state.json their latest objective values.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tunelab.keras_tuner.data import FitData
from tunelab.keras_tuner.discovery import Discovered
from tunelab.keras_tuner.hyperparameters import HyperParameters
from tunelab.core.out_of_memory import named_out_of_memory
from tunelab.trainables.checkpoints import load_model, model_files, read_state, report
from tunelab.trainables.gpu_setup import trial_strategy
from tunelab.trainables.tf_setup import (
    clear_session,
    released_custom_gradients,
)
from tunelab.trainables.trial_log import trial_session

if TYPE_CHECKING:
    import keras
    from ray import tune

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HyperModelRun:
    """What a trial needs besides its config and data; built by the tuner, never by the user."""

    hypermodel: Any
    """An object with build(hp) and fit(hp, model, *args, **kwargs), like KerasTuner's HyperModel."""
    discovered: Discovered
    """The recorded search space: rebuilds each trial's `hp` from its config."""
    objective: str
    epochs: int | None
    """Passed to fit as `epochs`; None when search() got none (fit then decides)."""
    executions: int = 1
    custom_fit: bool = False
    """HyperModel.fit is overridden: call it, with our reporter among its callbacks."""
    callbacks: tuple = ()
    """The user's Keras callbacks, deep-copied for every model trained."""
    cpus: float = 1
    gpus: float = 0
    seed: int = 0
    max_model_size: int | None = None
    compile_overrides: Mapping[str, Any] = field(default_factory=dict)
    """KerasTuner's Tuner(optimizer=, loss=, metrics=): recompile every built model with these."""
    log_folder: str | None = None
    """The project folder: each trial writes its output to trial_ID/trial.log there (None: no log)."""

    def __post_init__(self) -> None:
        if self.executions < 1:
            raise ValueError(f"executions_per_trial must be >= 1, got {self.executions}")
        if self.executions > 1 and (self.custom_fit or self.epochs is None):
            raise ValueError("executions_per_trial > 1 needs the default HyperModel.fit and epochs given to search()")


def train_hypermodel(config: dict[str, Any], data: FitData, run: HyperModelRun) -> None:
    """One trial: build (or restore) the model(s), fit, report every epoch; its output goes to trial.log."""
    from ray import tune

    trial_id = tune.get_context().get_trial_id()
    with trial_session(run.log_folder, trial_id, cpus=run.cpus, gpus=run.gpus) as devices:
        _train_hypermodel(config, data, run, devices)


def _train_hypermodel(config: dict[str, Any], data: FitData, run: HyperModelRun, devices: list[str]) -> None:
    # Keras loads TensorFlow, which must not happen before configure_tensorflow.
    import keras
    from ray import tune

    clear_session()  # a reused worker must not carry the last trial's state
    data = data.in_worker(run.seed)  # a dataset read on the driver is a tf.data.Dataset again
    strategy = trial_strategy(run.gpus)  # several GPUs: each model's variables are mirrored on them
    models: list[keras.Model] = []  # the models built, for an out-of-memory's cause

    def build(execution: int) -> keras.Model:
        keras.utils.set_random_seed(run.seed + execution)
        with strategy.scope():
            models.append(build_trial_model(run, config))
        return models[-1]

    batch_size = data.kwargs.get("batch_size")
    with named_out_of_memory(batch_size=batch_size, parameters=lambda: models[-1].count_params() if models else None,
                             devices=devices):
        with strategy.scope():  # the saved optimizer state loads into mirrored variables too
            restored = _restore(tune.get_checkpoint(), run, build)
        with released_custom_gradients():  # or a reused worker keeps every trial's graph
            if run.executions == 1:
                _fit_one(run, data, build, restored, run.discovered.hyperparameters(config))
            else:
                _fit_side_by_side(run, data, build, restored, config)


def build_trial_model(run: HyperModelRun, config: Mapping[str, Any]) -> keras.Model:
    """build_model(hp) with the trial's values (defaults for those config lacks), compiled as the trial uses it."""
    import keras

    hp = run.discovered.hyperparameters(config)
    model = run.hypermodel.build(hp)
    if not isinstance(model, keras.Model):
        raise TypeError(f"build_model(hp) must return a keras.Model, got {type(model).__name__}")
    unknown = run.discovered.unknown(hp)
    if unknown:
        logger.warning("build_model declared %s, which discovery never saw; they used their defaults",
                       ", ".join(unknown))
    if run.compile_overrides:  # KerasTuner's Tuner(optimizer=, loss=, metrics=): the rest as build compiled it
        model.compile_from_config({**(model.get_compile_config() or {}), **run.compile_overrides})
    if run.max_model_size is not None and model.built:
        size = sum(math.prod(weight.shape) for weight in model.trainable_weights)
        if size > run.max_model_size:
            raise ValueError(f"oversized model: {size} parameters, above max_model_size {run.max_model_size}")
    return model


# --- one model per trial ---------------------------------------------------------------------


def _fit_one(run: HyperModelRun, data: FitData, build: Callable[[int], Any],
             restored: tuple[list, dict] | None, hp: HyperParameters) -> None:
    if restored is None:
        model, finished = build(0), 0
    else:
        (model,), state = restored
        finished = int(state["epoch"])
        if run.epochs is not None and finished >= run.epochs:
            return
    reporter = _reporter_class()(run.objective, total_epochs=run.epochs or 1, score_returned=run.custom_fit)
    kwargs = {"verbose": 0, **data.kwargs, "callbacks": [*_trial_callbacks(run, 0, hp.values), reporter]}
    if run.epochs is not None:
        kwargs["epochs"] = run.epochs
    if finished:
        kwargs["initial_epoch"] = finished
    result = run.hypermodel.fit(hp, model, *data.args, **kwargs)
    if reporter.reported == 0 or (run.custom_fit and _is_score(result)):  # KerasTuner scores what fit returns
        _report_returned(result, run.objective, model, trained=reporter.last)


def _trial_callbacks(run: HyperModelRun, execution: int, values: Mapping[str, Any]) -> list:
    """The user's callbacks, deep-copied for one model; a TensorBoard callback writes to
    LOG_DIR/<trial id>/execution<n> with the trial's hyperparameters (HParams), as in KerasTuner."""
    import os

    from ray import tune

    callbacks = copy.deepcopy(list(run.callbacks))
    boards = [callback for callback in callbacks if type(callback).__name__ == "TensorBoard"]
    if boards:
        from tensorboard.plugins.hparams import api as hparams_api

        trial_id = tune.get_context().get_trial_id()
        hparams = {name: value for name, value in values.items() if isinstance(value, (bool, int, float, str))}
        for board in boards:
            board.log_dir = os.path.join(str(board.log_dir), str(trial_id), f"execution{execution}")
            callbacks.append(hparams_api.KerasCallback(writer=board.log_dir, hparams=hparams, trial_id=trial_id))
    return callbacks


def _reporter_class() -> type:
    """TuneReporter that reports every epoch with the objective and counts what it reported.

    An epoch without the objective is refused, unless `score_returned`: a custom HyperModel.fit
    that passes the reporter on to model.fit and returns the objective itself (KerasTuner's custom
    objective) is scored by what it returns, so such epochs are not reported; `last` keeps the last
    epoch trained for the report that fit's return makes.
    """
    from tunelab.trainables.reporting import TuneReporter

    class ObjectiveReporter(TuneReporter):
        def __init__(self, objective: str, *, total_epochs: int, score_returned: bool = False) -> None:
            super().__init__(total_epochs=total_epochs)
            self.objective = objective
            self.score_returned = score_returned
            self.reported = 0
            self.last: tuple[int, dict[str, float]] | None = None  # the last epoch trained: number, metrics

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            self.last = (epoch + 1, {name: float(value) for name, value in logs.items()})
            if self.score_returned and self.objective not in logs:
                return  # waits for what fit returns
            _require_objective(self.objective, logs)
            super().on_epoch_end(epoch, logs)
            self.reported += 1

    return ObjectiveReporter


def _require_objective(objective: str, logs: Mapping[str, Any]) -> None:
    if objective not in logs:
        raise ValueError(
            f"objective {objective!r} is not among the metrics fit reports ({', '.join(logs) or 'none'}); "
            "pass validation data to search() or compile the model with that metric"
        )


def _is_score(result: Any) -> bool:
    """Whether a custom fit returned its own objective (a float, a dict, a list of them), not a History."""
    import keras

    return result is not None and not isinstance(result, keras.callbacks.History)


def _report_returned(result: Any, objective: str, model: Any, trained: tuple[int, Mapping[str, float]] | None = None
                     ) -> None:
    """Report what fit returned, as KerasTuner scores it: after a custom loop that reported no epoch,
    or a fit whose score is its return value. `trained`: the last epoch model.fit ran meanwhile (its
    number and metrics), which the returned metrics join in one report at that epoch."""
    import keras

    if trained is not None and _is_score(result):
        number, logs = trained
        metrics = {**logs, **_metrics_of(result, objective)}
        _require_objective(objective, metrics)
        report({"epoch": number, **metrics}, [model], {"epoch": number, "scores": [metrics[objective]]})
        return
    if isinstance(result, keras.callbacks.History):
        epochs = max((len(values) for values in result.history.values()), default=0)
        reports = [{name: float(values[i]) for name, values in result.history.items() if i < len(values)}
                   for i in range(epochs)]
    else:
        reports = [_metrics_of(result, objective)]
    if not reports:
        raise ValueError("HyperModel.fit trained no epoch and returned no metrics")
    for number, metrics in enumerate(reports, start=1):
        _require_objective(objective, metrics)
        report({"epoch": number, **metrics}, [model] if number == len(reports) else None,
                {"epoch": number, "scores": [metrics[objective]]})


def _metrics_of(result: Any, objective: str) -> dict[str, float]:
    if isinstance(result, Sequence) and not isinstance(result, (str, bytes)):
        parts = [_metrics_of(item, objective) for item in result]
        names = {name for part in parts for name in part}
        return {name: float(sum(p[name] for p in parts if name in p) / sum(name in p for p in parts))
                for name in names}
    if isinstance(result, Mapping):
        return {str(name): float(value) for name, value in result.items()}
    if isinstance(result, (int, float)) or hasattr(result, "item"):
        return {objective: float(result)}
    raise TypeError(f"HyperModel.fit returned {type(result).__name__}; expected a History, a dict or a float")


# --- several executions, side by side -----------------------------------------------------------


def _fit_side_by_side(run: HyperModelRun, data: FitData, build: Callable[[int], Any],
                      restored: tuple[list, dict] | None, config: Mapping[str, Any]) -> None:
    """Each model trains one epoch in turn, so the mean over executions is reported every epoch."""
    if restored is None:
        models, finished, stopped = [build(k) for k in range(run.executions)], 0, [False] * run.executions
    else:
        models, state = restored
        finished, stopped = int(state["epoch"]), list(state.get("stopped", [False] * run.executions))
    values = run.discovered.hyperparameters(config).values
    callbacks = [[_continuing(callback) for callback in _trial_callbacks(run, k, values)] for k in range(len(models))]
    for epoch in range(finished, run.epochs):
        logs: list[dict[str, float] | None] = []
        for model, model_callbacks, done in zip(models, callbacks, stopped):
            if done:
                logs.append(None)
                continue
            kwargs = {"verbose": 0, **data.kwargs, "callbacks": model_callbacks, "epochs": epoch + 1,
                      "initial_epoch": epoch}
            history = model.fit(*data.args, **kwargs)
            logs.append({name: float(values[-1]) for name, values in history.history.items()})
        live = [entry for entry in logs if entry is not None]
        mean = {name: sum(entry[name] for entry in live) / len(live) for name in live[0]}
        _require_objective(run.objective, mean)
        stopped = [done or bool(model.stop_training) for model, done in zip(models, stopped)]
        scores = [None if entry is None else entry[run.objective] for entry in logs]
        report({"epoch": epoch + 1, **mean}, models, {"epoch": epoch + 1, "stopped": stopped, "scores": scores})
        if all(stopped):
            break
    for model_callbacks in callbacks:
        for callback in model_callbacks:
            callback.finish()


def _continuing(callback: Any) -> Any:
    """Wraps a user callback so the per-epoch fit calls look like one training run to it.

    on_train_begin is passed on once and on_train_end at `finish()`, so EarlyStopping,
    ReduceLROnPlateau and CSVLogger keep their state across the epochs.
    """
    import keras

    class Continuing(keras.callbacks.Callback):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner, self.begun = inner, False

        def set_model(self, model: Any) -> None:
            super().set_model(model)
            self.inner.set_model(model)

        def set_params(self, params: dict) -> None:
            super().set_params(params)
            self.inner.set_params(params)

        def on_train_begin(self, logs: dict | None = None) -> None:
            if not self.begun:
                self.begun = True
                self.inner.on_train_begin(logs)

        def on_train_end(self, logs: dict | None = None) -> None:
            """Deferred to finish()."""

        def finish(self) -> None:
            if self.begun:
                self.inner.on_train_end(None)

    for hook in ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
                 "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
                 "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"):
        setattr(Continuing, hook, _forward(hook))
    return Continuing(callback)


def _forward(hook: str) -> Callable:
    def forward(self: Any, *args: Any, **kwargs: Any) -> None:
        getattr(self.inner, hook)(*args, **kwargs)

    return forward


# --- checkpoints --------------------------------------------------------------------------------


def _restore(checkpoint: tune.Checkpoint | None, run: HyperModelRun, build: Callable[[int], Any]
             ) -> tuple[list, dict] | None:
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        state = read_state(Path(folder))
        models = [load_model(Path(folder) / name, lambda k=k: build(k))
                  for k, name in enumerate(model_files(run.executions))]
    return models, state
