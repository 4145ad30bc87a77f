"""What the driver checks of a trainable before Ray starts, so no trial fails on what was known.

The catalog families declare everything they read (their space is checked in the spec); here
the data's shape is held against the family, and a user's `package.module:function` is built once
with a sampled configuration, so "not a model builder" is one line before Ray starts instead of a
failure in every trial. A model the function compiles itself reports what its own compile names:
one tiny batch evaluated tells them, so `metric:` is checked against what the trials will report;
and a compile-time hyperparameter (optimizer, learning_rate, ...) its space tunes must reach the model,
or every trial would train the same: built with two values, the two models must differ. Building
imports TensorFlow in the driver and builds on its CPU.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from tunelab.core.errors import InputError, shorter, shown
from tunelab.core.tf_logs import quiet_tensorflow_logs
from tunelab.searchspaces import Space
from tunelab.searchspaces.params import Bool, Choice, Fixed, Param
from tunelab.trainables.compile import COMPILE_PARAMS, learning_params
from tunelab.trainables.data import Dataset
from tunelab.trainables.data.base import StreamedData
from tunelab.trainables.keras_trainable import trial_params
from tunelab.trainables.metrics import MetricError, compiled_names, reported_names
from tunelab.trainables.model_params import Among, TrainableError
from tunelab.trainables.models import FAMILY_PARAMS, build_model, check_input_shape, is_compiled

PROBE_SAMPLES = 50  # configurations drawn to find those where a conditional compile-time hyperparameter is active
PROBE_CONFIGS = 5   # of which at most this many are built, twice each, before a hyperparameter is found unread


def check_trainable(trainable: str, data: Dataset | StreamedData, space: Space, *, metrics: Sequence[str] = (),
                    seed: int = 0) -> tuple[str, ...]:
    """Raises TrainableError when `trainable` cannot train on `data` with a configuration of `space`; returns
    the names its trials report (loss, val_loss, each metric with and without val_).

    `metrics` are the experiment's `metrics:` names, compiled besides the task's defaults by tunelab.
    """
    if trainable in FAMILY_PARAMS:
        check_input_shape(trainable, tuple(data.input_shape))
        return reported_names(compiled_names(metrics, data.task))
    tf = _tensorflow_without_taking_the_gpus()
    import keras

    config = space.sample_many(1, seed=seed)[0]
    try:
        with tf.device("/CPU:0"):
            model = _built(trainable, data, config)
            if not is_compiled(model):  # tunelab compiles it from the learning hyperparameters
                trial_params(trainable, data.task).check_space(space, "space")
                return reported_names(compiled_names(metrics, data.task))
            if metrics:
                raise MetricError(f"metrics: {trainable} returns a compiled model, which reports the metrics of its "
                                  f"own compile(); add {', '.join(metrics)} there")
            _check_compile_params(trainable, data, space, seed)
            return reported_names(_measured(trainable, model, data))
    finally:
        keras.backend.clear_session()


def _built(trainable: str, data: Dataset | StreamedData, config: Mapping[str, Any]) -> Any:
    try:
        return build_model(config, tuple(data.input_shape), data.num_outputs, trainable, data.task)
    except InputError:
        raise
    except Exception as error:  # the user's function: whatever it raises is one line
        raise TrainableError(f"trainable: {trainable}(config, {tuple(data.input_shape)}, {data.num_outputs}) "
                             f"raised {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {shorter(text)}"


def _measured(trainable: str, model: Any, data: Dataset | StreamedData) -> tuple[str, ...]:
    """What a compiled model measures, read from one evaluated batch of two examples labelled as the
    trials label them (one-hot classes or numbers)."""
    x = np.zeros((2, *data.input_shape), np.float32)
    y = np.zeros((2, data.num_outputs), np.float32)
    if data.task == "classification":
        y[:, 0] = 1.0
    try:
        scores = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    except Exception as error:
        labels = "one-hot classes" if data.task == "classification" else "numbers"
        raise TrainableError(f"trainable: {trainable} returns a compiled model that cannot evaluate a batch labelled "
                             f"as trials label theirs ({labels} of shape {y.shape[1:]}): "
                             f"{_first_line(error)}") from None
    return tuple(scores)


def _check_compile_params(trainable: str, data: Dataset | StreamedData, space: Space, seed: int) -> None:
    """Refuses a compile-time hyperparameter the space tunes that reaches the user's compiled model in none of
    a few configurations where it is active (momentum may matter only with one optimizer, as in tunelab's own)."""
    samples = space.sample_many(PROBE_SAMPLES, seed=seed)
    for name in COMPILE_PARAMS:
        configs = [sample for sample in samples if name in sample][:PROBE_CONFIGS]
        if not configs:
            continue
        first, second = _two_values(space[name], name, data.task)
        if not any(_reaches(trainable, data, {**config, name: first}, {**config, name: second}) for config in configs):
            raise TrainableError(
                f"space.{name}: {trainable} returns a compiled model, whose optimizer and loss are its own, and "
                f"{name} never reaches it (built with {shown(first)} and {shown(second)}, both models got the same); "
                f"read config[{name!r}] in {trainable.rpartition(':')[2]}, or leave {name} out of the space")


def _reaches(trainable: str, data: Dataset | StreamedData, one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether the two configurations give models compiled differently."""
    return _compiled_setup(_built(trainable, data, one)) != _compiled_setup(_built(trainable, data, other))


def _two_values(param: Param, name: str, task: str) -> tuple[Any, Any]:
    """Two different values of `name` to build with: the space's own where it has two, else its one and another."""
    values = (list(param.values) if isinstance(param, Choice) else [False, True] if isinstance(param, Bool)
              else [param.value] if isinstance(param, Fixed) else [param.low, param.high])
    if len(set(map(repr, values))) > 1:
        return values[0], next(value for value in values if repr(value) != repr(values[0]))
    domain = next(item.domain for item in learning_params(task) if item.name == name)
    value = values[0]
    if isinstance(domain, Among):
        return value, next(other for other in domain.values if other != value)
    return value, value / 2 if value else 0.5


def _compiled_setup(model: Any) -> tuple[Any, ...]:
    """What compile gave `model`: its optimizer's class and settings, and its loss."""
    optimizer = model.optimizer
    settings = {key: value for key, value in optimizer.get_config().items() if key != "name"}
    loss = model.loss
    loss_setup = loss if isinstance(loss, str) else (type(loss).__name__, getattr(loss, "__name__", None),
                                                     loss.get_config() if hasattr(loss, "get_config") else None)
    return type(optimizer).__name__, repr(settings), repr(loss_setup)


_OWN_PROCESS = {"hide_gpus": False}  # set by tunelab's own command, whose process trains nothing itself


def keep_the_driver_off_the_gpus() -> None:
    """For tunelab's command: the check builds on the CPU with every GPU hidden from the driver's TensorFlow,
    so the driver opens no CUDA context and the cards stay whole for the trials (Ray assigns them; a hidden
    device here hides nothing from a worker)."""
    _OWN_PROCESS["hide_gpus"] = True


def _tensorflow_without_taking_the_gpus() -> Any:
    """TensorFlow that leaves the GPUs to the trials.

    In tunelab's command the GPUs are hidden; elsewhere (tunelab.run in a notebook, the user's own process)
    visibility is left alone and the GPUs only get memory growth.
    """
    with quiet_tensorflow_logs():  # its C++ lines would come before tunelab's one line on a mistake
        import tensorflow as tf

    keep_off_the_gpus(tf.config, hide=_OWN_PROCESS["hide_gpus"])
    return tf


def keep_off_the_gpus(config: Any, hide: bool) -> None:
    """`config` is tf.config: GPUs hidden, or given memory growth; a TensorFlow the user's code already
    initialised is left as it is."""
    gpus = config.list_physical_devices("GPU")
    try:
        if hide:
            config.set_visible_devices([], "GPU")
        else:
            for gpu in gpus:
                config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:  # already initialised: visibility and growth can no longer change
        pass


def check_batch_size(space: Space, batch_size: int, data: Dataset | StreamedData) -> None:
    """A batch larger than the whole training split is a typo, not a choice: refused naming the key.

    A streamed source is counted only in the workers; its batch size is bounded by the spec alone.
    """
    if not isinstance(data, Dataset):
        return
    key, largest = ("space.batch_size", _largest(space["batch_size"])) if "batch_size" in space else (
        "batch_size", batch_size)
    examples = len(data.x_train)
    if largest > examples:
        raise TrainableError(f"{key}: {largest:,} is more than the {examples:,} training examples of {data.name}; "
                             f"allowed: 1 to {examples:,}")


def _largest(param: Param) -> float:
    values = param.values if isinstance(param, Choice) else (param.value,) if isinstance(param, Fixed) else (
        param.high,)
    return max(values)
