"""A trial's checkpoint, one policy for every writer and reader: the YAML trainable, the KerasTuner
trainable, a resumed or retried trial, analysis' best model and export-model.

Saved: each model of the trial (`model.keras`, compiled, optimizer state included) and `state.json`
(the finished epochs and that epoch's metrics). Loaded: the trial's own builder, given the trial's
configuration, builds the model again, then the saved weights and optimizer state load into it, so a
custom layer Keras cannot deserialize resumes as well as a catalog model; without a builder
(analysis), Keras deserializes the saved model. Either way the user's module is imported first, as
it registers its custom objects. No Keras at import: analysis finds checkpoints without TensorFlow.
"""
from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tunelab.core.user_code import import_module

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"   # the compiled model, optimizer state included
STATE_FILE = "state.json"    # {"epoch": finished epochs, "metrics": {...}}; the KerasTuner trainable adds "scores"
BEST_DIR = "best_checkpoint"  # best_checkpoint-epochN/ in the trial folder: a copy of its best-scoring checkpoint

logger = logging.getLogger(__name__)


def model_files(executions: int) -> list[str]:
    """One model file per execution of a trial (KerasTuner's executions_per_trial)."""
    return [MODEL_FILE] if executions == 1 else [f"model_{k}.keras" for k in range(executions)]


def report(metrics: Mapping[str, Any], models: Sequence[keras.Model] | None = None,
           state: Mapping[str, Any] | None = None) -> None:
    """`tune.report(metrics)`, with a checkpoint of `models` and `state` (plus the metrics) when models are given.

    Ray copies the checkpoint folder into the trial's storage before report() returns.
    """
    from ray import tune

    if models is None:
        tune.report(dict(metrics))
        return
    with tempfile.TemporaryDirectory(prefix="tunelab-checkpoint-") as folder:
        for model, name in zip(models, model_files(len(models))):
            model.save(Path(folder) / name)
        (Path(folder) / STATE_FILE).write_text(json.dumps({**(state or {}), "metrics": dict(metrics)}))
        tune.report(dict(metrics), checkpoint=tune.Checkpoint.from_directory(folder))


def read_state(folder: Path) -> dict[str, Any]:
    """A checkpoint's state.json: at least {"epoch": finished epochs}."""
    return json.loads((Path(folder) / STATE_FILE).read_text())


def import_user_module(trainable: str | None, key: str, error: type[Exception]) -> None:
    """A `package.module:function` trainable's module, which registers its custom objects on import."""
    if isinstance(trainable, str) and ":" in trainable:
        import_module(trainable.rpartition(":")[0], key, error)


def load_model(path: Path, build: Callable[[], keras.Model] | None = None) -> keras.Model:
    """The saved model at `path`: rebuilt by `build` and given the saved weights and optimizer state.

    Without a builder, or when the rebuilt model does not take the saved weights and optimizer state
    (a builder that changed since, another optimizer: Keras only warns that it skipped those
    variables), Keras deserializes the file: compiled as it trained, or uncompiled when a loss or
    metric cannot be rebuilt (the weights still load).
    """
    import keras

    if build is not None:
        try:
            with warnings.catch_warnings(record=True) as skipped:
                warnings.simplefilter("always")
                model = build()
                if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
                    model.optimizer.build(model.trainable_variables)  # so the saved optimizer state loads too
                model.load_weights(path)
            lost = [str(warning.message) for warning in skipped if "Skipping variable loading" in str(warning.message)]
            if lost:
                raise ValueError(lost[0].splitlines()[0])
            return model
        except Exception as error:  # the builder's model or optimizer differs from the saved one
            logger.warning("%s: the rebuilt model does not take the saved weights (%s); loading the saved model",
                           path.name, error)
    try:
        return keras.models.load_model(path, compile=True)
    except (TypeError, ValueError):  # a loss or metric Keras cannot rebuild
        return keras.models.load_model(path, compile=False)
