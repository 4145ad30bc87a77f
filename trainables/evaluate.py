"""The one score of a run's best model on the test part, computed in a Ray task with a trial's resources.

The model loads as analysis loads it (`trainables.checkpoints.load_model`: Keras deserializes the saved,
compiled model after the trainable's module registered its custom objects) and is evaluated with the loss
and metrics it was compiled with, on the test part read as the trials read theirs: a Dataset's test arrays,
or a streamed source's test examples, batched with the trial's batch size, in order.
"""
from __future__ import annotations

from pathlib import Path

from tunelab.trainables.checkpoints import import_user_module, load_model
from tunelab.trainables.data import Dataset, StreamedData
from tunelab.trainables.data.located import data_errors_located
from tunelab.trainables.data.streaming import held_out_batches
from tunelab.trainables.keras_trainable import fit_targets
from tunelab.trainables.model_params import TrainableError
from tunelab.trainables.tf_setup import configure_tensorflow


def evaluate_checkpoint(model_file: str, trainable: str, data: Dataset | StreamedData, batch_size: int, cpus: float,
                        gpus: float) -> dict[str, float]:
    """The saved model's loss and metrics on the test part of `data`, by their Keras names."""
    configure_tensorflow(cpus=cpus, gpus=gpus)  # before Keras loads TensorFlow
    import_user_module(trainable, "trainable", TrainableError)
    model = load_model(Path(model_file))
    if isinstance(data, StreamedData):
        inputs = {"x": held_out_batches(data, batch_size)}
    else:
        inputs = {"x": data.x_test, "y": fit_targets(data, data.y_test), "batch_size": batch_size}
    with data_errors_located(data):  # a test file that cannot be read is named, as in a trial
        scores = model.evaluate(**inputs, verbose=0, return_dict=True)
    return {name: float(value) for name, value in scores.items()}
