"""The Ray Tune function trainable: build or resume a Keras model, fit, report every epoch.

Used as `tune.with_resources(tune.with_parameters(train, data=data, run=settings), ...)`: a Dataset's
arrays travel through Ray's object store once, not once per trial; a streamed source's description
is all that travels, and each worker reads the data itself (trainables.data.streaming).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from tunelab.core.checks import check_int
from tunelab.core.out_of_memory import named_out_of_memory
from tunelab.trainables.adjustable import apply_adjustable, optimizer_values, set_optimizer_values
from tunelab.trainables.checkpoints import MODEL_FILE, load_model, read_state
from tunelab.trainables.compile import compile_model, learning_params
from tunelab.trainables.data import Dataset
from tunelab.trainables.data.base import StreamedData
from tunelab.trainables.data.located import data_errors_located
from tunelab.trainables.data.streaming import streamed_batches
from tunelab.trainables.model_params import Declared, Integer, ModelParams, family_params
from tunelab.trainables.metrics import TASKS
from tunelab.trainables.model_cost import LATENCY_EXAMPLES, MEASURES
from tunelab.trainables.models import FAMILIES, FAMILY_PARAMS, build_model, is_compiled, resolve_model_function
from tunelab.trainables.gpu_setup import trial_strategy
from tunelab.trainables.tf_setup import (
    clear_session,
    released_custom_gradients,
)
from tunelab.trainables.trial_log import trial_session

if TYPE_CHECKING:
    import keras
    from ray import tune


@dataclass(frozen=True)
class RunSettings:
    """What a trial needs besides its hyperparameters; the trainable never sees the YAML."""

    model: str
    """"mlp", "cnn" or "package.module:function"."""
    epochs: int
    """Epochs of a complete trial; schedulers may stop or pause it earlier."""
    batch_size: int = 32
    """Used unless the trial's config tunes `batch_size`."""
    cpus: float = 1
    """CPUs the trial reserves; also the size of TensorFlow's thread pools."""
    gpus: float = 0
    """GPUs the trial reserves: a share of one card (its memory limit), one, or several (MirroredStrategy, with
    `batch_size` the global batch); 0 hides every GPU from TensorFlow."""
    seed: int = 0
    """Seeds Python, NumPy and TensorFlow, so that a trial is reproducible."""
    checkpoint_every: int = 1
    """Checkpoint every k epochs (and after the last); metrics are reported every epoch."""
    metric: str = "val_accuracy"
    """The experiment's objective: an epoch that improves it is checkpointed too (the best model)."""
    mode: str = "max"
    """max or min."""
    log_folder: str | None = None
    """The run folder: each trial writes its output to trial_ID/trial.log there (None: no log)."""
    task: str = "classification"
    """classification (one-hot labels, softmax head) or regression (numeric targets, linear head)."""
    metrics: tuple[str, ...] = ()
    """Names of trainables.metrics compiled besides the task's defaults (a model tunelab compiles)."""
    measure: tuple[str, ...] = ()
    """Costs reported with every epoch besides the Keras logs: `params`, `latency_ms` (trainables.model_cost)."""

    def __post_init__(self) -> None:
        module, _, function = self.model.rpartition(":")
        if self.model not in FAMILIES and not (module and function):
            raise ValueError(
                f"model must be one of {', '.join(FAMILIES)} or 'package.module:function'; "
                f"got {self.model!r}"
            )
        for name in ("epochs", "batch_size", "checkpoint_every"):
            check_int(name, getattr(self, name), 1)
        if not self.cpus > 0:
            raise ValueError(f"cpus must be > 0; got {self.cpus!r}")
        if not self.gpus >= 0:
            raise ValueError(f"gpus must be >= 0; got {self.gpus!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        if set(self.measure) - set(MEASURES):
            raise ValueError(f"measure takes {', '.join(MEASURES)}; got {self.measure!r}")


# Beyond any data set a trial could hold in memory, or any run a person would wait for: a typo (10**20).
MAX_BATCH_SIZE = 2**24
MAX_EPOCHS = 100_000
BATCH_SIZE = Declared("batch_size", Integer(1, MAX_BATCH_SIZE), 32)  # the experiment's unless the space tunes it


def trial_params(trainable: str, task: str = "classification", *, compiled: bool = False) -> ModelParams:
    """Every hyperparameter a trial of `trainable` reads: its model's, the learning ones (the task's losses), the
    batch size.

    For a user's `package.module:function` only the learning ones and the batch size are known, so
    other names pass to the function unchecked; when it returns a `compiled` model, only the batch size
    is tunelab's, and the learning names are the function's to read as it likes.
    """
    own = FAMILY_PARAMS.get(trainable, ())
    learning = () if compiled else learning_params(task)
    return family_params(own, learning, (BATCH_SIZE,), family=trainable, complete=trainable in FAMILY_PARAMS)


def train(config: dict[str, Any], data: Dataset | StreamedData, run: RunSettings) -> None:
    """Train one trial, resuming from its latest checkpoint when Ray hands it one; its output goes to trial.log."""
    from ray import tune

    if isinstance(data, Dataset) and data.x_test is not None:  # the runner leaves it out; this fence keeps it out
        raise ValueError("a trial was handed the test part; trials fit and validate on train and validation only")

    trial_id = tune.get_context().get_trial_id()
    with trial_session(run.log_folder, trial_id, cpus=run.cpus, gpus=run.gpus) as devices:
        _train(config, data, run, devices)


def _train(config: dict[str, Any], data: Dataset | StreamedData, run: RunSettings, devices: list[str]) -> None:
    # Keras loads TensorFlow, which must not happen before configure_tensorflow.
    import keras
    from ray import tune

    from tunelab.trainables.reporting import TuneReporter

    clear_session()  # a reused worker process must not carry the last trial's state
    keras.utils.set_random_seed(run.seed)
    batch_size = family_params((BATCH_SIZE,), family=run.model).parse(config, {"batch_size": run.batch_size})[
        "batch_size"]
    models: list[keras.Model] = []  # the trial's model once built, for an out-of-memory's cause
    with named_out_of_memory(batch_size=batch_size, parameters=lambda: models[0].count_params() if models else None,
                             devices=devices):
        with data_errors_located(data):  # a file a streamed source cannot read is named, not an op of its pipeline
            inputs, steps_per_epoch = _fit_inputs(data, batch_size, run.seed)
        with trial_strategy(run.gpus).scope():  # several GPUs: the model's variables are mirrored on each
            model, finished_epochs = _built_or_restored(config, data, run, steps_per_epoch)
        models.append(model)
        if finished_epochs >= run.epochs:
            return
        with released_custom_gradients(), data_errors_located(data):  # or a reused worker keeps every trial's graph
            model.fit(
                **inputs,
                epochs=run.epochs,
                initial_epoch=finished_epochs,
                verbose=0,
                callbacks=[TuneReporter(total_epochs=run.epochs, checkpoint_every=run.checkpoint_every,
                                        metric=run.metric, mode=run.mode, measure=run.measure,
                                        latency_batch=_latency_batch(inputs["validation_data"])
                                        if "latency_ms" in run.measure else None)],
            )


def _built_or_restored(config: dict[str, Any], data: Dataset | StreamedData, run: RunSettings,
                       steps_per_epoch: int) -> tuple[keras.Model, int]:
    """The trial's compiled model and its finished epochs: new, or from the checkpoint Ray hands it."""
    from ray import tune

    users_optimizer: list[dict[str, float]] = []  # a user-compiled model's rate and momentum, as its function chose

    def built() -> keras.Model:
        model = build_model(config, data.input_shape, data.num_outputs, run.model, run.task)
        if is_compiled(model):  # the user's own loss, metrics and optimizer: only fit it
            users_optimizer.append(optimizer_values(model))
        else:
            compile_model(model, config, steps_per_epoch=steps_per_epoch, epochs=run.epochs, task=run.task,
                          metrics=run.metrics, num_classes=data.num_classes)
        return model

    restored = _restore(tune.get_checkpoint(), run.model, built)
    if restored is None:
        return built(), 0
    model, finished_epochs = restored
    if finished_epochs < run.epochs:
        # PBT copied a better trial's checkpoint and changed these; the saved optimizer state holds the old ones
        if users_optimizer:
            set_optimizer_values(model, users_optimizer[-1])
        else:
            apply_adjustable(model, config, run.model, run.task)
    return model, finished_epochs


def _fit_inputs(data: Dataset | StreamedData, batch_size: int, seed: int) -> tuple[dict[str, Any], int]:
    """model.fit's data arguments and the steps of an epoch: arrays as they are, a streamed source as its
    worker's batches (already shuffled, so fit must not shuffle them). Labels are one-hot classes, or the
    regression targets as numbers, (n, targets) like the model's output."""
    if isinstance(data, StreamedData):
        train_batches, validation_batches, steps = streamed_batches(data, batch_size, seed)
        return {"x": train_batches, "validation_data": validation_batches, "shuffle": False}, steps
    return {
        "x": data.x_train,
        "y": fit_targets(data, data.y_train),
        "validation_data": (data.x_val, fit_targets(data, data.y_val)),
        "batch_size": batch_size,
    }, math.ceil(len(data.x_train) / batch_size)


def _latency_batch(validation: Any) -> Any:
    """The examples `latency_ms` times: the start of the validation arrays, or the first validation batch."""
    if isinstance(validation, tuple):
        return validation[0][:LATENCY_EXAMPLES]
    x = next(iter(validation.take(1)))[0]
    return x[:LATENCY_EXAMPLES]


def fit_targets(data: Dataset, y: Any) -> Any:
    """`y` of `data` as a model of its task fits on it: one-hot classes, or float32 (n, targets)."""
    import keras

    if data.task == "classification":
        return keras.utils.to_categorical(y, data.num_classes)
    return y.reshape(len(y), data.num_outputs).astype("float32")


def _restore(checkpoint: tune.Checkpoint | None, family: str, built: Callable[[], keras.Model]
             ) -> tuple[keras.Model, int] | None:
    """The compiled model (optimizer state included) and finished epochs from a checkpoint, as
    `trainables.checkpoints` loads one: built again by the trial's own builder, then the saved state."""
    if checkpoint is None:
        return None
    if family not in FAMILIES:
        resolve_model_function(family)  # imports the user's module first: it registers its custom objects
    with checkpoint.as_directory() as folder:
        model = load_model(Path(folder) / MODEL_FILE, built)
        finished_epochs = int(read_state(Path(folder))["epoch"])
    return model, finished_epochs
