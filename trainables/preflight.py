"""What the driver checks of a trainable before Ray starts, so no trial fails on what was known.

The catalog families declare everything they read (their space is checked in the spec); here
the data's shape is held against the family, and a user's `package.module:function` is built once
with a sampled configuration, so "not a model builder" is one line before Ray starts instead of a
failure in every trial. Building imports TensorFlow in the driver and builds on its CPU.
"""
from __future__ import annotations

from typing import Any, Mapping

from tunelab.core.errors import InputError, shorter
from tunelab.core.tf_logs import quiet_tensorflow_logs
from tunelab.searchspaces import Space
from tunelab.searchspaces.params import Choice, Fixed, Param
from tunelab.trainables.data import Dataset
from tunelab.trainables.data.base import StreamedData
from tunelab.trainables.model_params import TrainableError
from tunelab.trainables.models import FAMILY_PARAMS, build_model, check_input_shape


def check_trainable(trainable: str, data: Dataset | StreamedData, config: Mapping[str, Any]) -> None:
    """Raises TrainableError when `trainable` cannot train on `data` with a config like `config`."""
    if trainable in FAMILY_PARAMS:
        check_input_shape(trainable, tuple(data.input_shape))
        return
    tf = _tensorflow_without_taking_the_gpus()
    import keras

    try:
        with tf.device("/CPU:0"):
            build_model(config, tuple(data.input_shape), data.num_classes, trainable)
    except InputError:
        raise
    except Exception as error:  # the user's function: whatever it raises is one line
        text = str(error).splitlines()[0] if str(error) else ""
        raise TrainableError(f"trainable: {trainable}(config, {tuple(data.input_shape)}, {data.num_classes}) "
                             f"raised {type(error).__name__}: {shorter(text)}") from None
    finally:
        keras.backend.clear_session()


def _tensorflow_without_taking_the_gpus() -> Any:
    """TensorFlow with memory growth on: the check builds one small model, the GPUs stay the trials'.

    Visibility is left alone: this may be the user's own process (tunelab.run in a notebook).
    """
    with quiet_tensorflow_logs():  # its C++ lines would come before tunelab's one line on a mistake
        import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # TensorFlow already initialised by the user's code: leave it as it is
            pass
    return tf


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
