"""What search() accepts, made ready for Ray's workers: tf.data datasets read whole, PyDatasets as
themselves, arrays as they are; and a KerasTuner script with tf.data datasets, run for real.

The preparation is a function of its arguments (tunelab/keras_tuner/data.py), so most checks need
no Ray; one small real search shows a PyDataset training in a worker, and a slow one runs a user's
tf.data script from a folder outside the repository.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf

import tunelab.keras_tuner as kt
from tests.keras_tuner.kt_scripts import TF_DATA_SCRIPT, Batches, breast_cancer, build_binary
from tunelab.keras_tuner.data import HeldDataset, prepare_fit_data

MEGABYTE = 1024**2


def examples(count: int = 100) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(count * 3, dtype="float32").reshape(count, 3)
    return x, np.arange(count) % 2


def batches(dataset: tf.data.Dataset) -> list[list[np.ndarray]]:
    return [tf.nest.flatten(batch) for batch in dataset.as_numpy_iterator()]


# --- tf.data.Dataset: read once on the driver, rebuilt in the worker ------------------------------


def test_a_batched_dataset_is_read_once_and_rebuilt_with_the_same_batches():
    x, y = examples()
    weights = np.linspace(0.5, 1.5, len(x)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(({"a": x, "b": x[:, :1]}, y, weights)).batch(32)

    data = prepare_fit_data((dataset,), {"epochs": 3}, max_bytes=MEGABYTE)

    held = data.args[0]
    assert isinstance(held, HeldDataset) and data.kwargs == {"epochs": 3}
    assert (held.examples, held.batch_size, held.drop_remainder, held.reshuffle) == (100, 32, False, False)
    assert held.nbytes == x.nbytes + x[:, :1].nbytes + y.nbytes + weights.nbytes
    rebuilt = data.in_worker(seed=0).args[0]
    assert rebuilt.element_spec == dataset.element_spec  # dicts, labels and sample weights as the user built them
    got, expected = batches(rebuilt), batches(dataset)
    assert [len(batch[0]) for batch in got] == [32, 32, 32, 4]  # the user's batch size, the last batch short
    assert all(np.array_equal(a, b) for g, e in zip(got, expected) for a, b in zip(g, e)) and len(got) == len(expected)
    assert "x: tf.data.Dataset read whole: 100 examples (2.7 KiB) in batches of 32" in data.describe()
    sample_x, sample_y, sample_w = data.sample()  # what the driver evaluates to learn the metric names
    assert sample_x["a"].shape == (2, 3) and sample_y.tolist() == [0, 1] and sample_w.shape == (2,)


def test_a_shuffled_dataset_is_reshuffled_every_epoch_and_keeps_drop_remainder():
    x, y = examples()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100, seed=1).batch(32, drop_remainder=True)

    held = prepare_fit_data((), {"x": dataset}, max_bytes=MEGABYTE).kwargs["x"]

    assert (held.examples, held.batch_size, held.drop_remainder, held.reshuffle) == (96, 32, True, True)
    rebuilt = held.to_dataset(seed=0)
    epochs = [np.concatenate([batch[0][:, 0] for batch in batches(rebuilt)]) for _ in range(2)]
    assert [len(epoch) for epoch in epochs] == [96, 96]
    assert not np.array_equal(epochs[0], epochs[1])  # a new order each epoch, as the user's .shuffle() gives
    assert len(set(epochs[0])) == 96 and set(epochs[0]) <= set(x[:, 0])


def test_a_dataset_read_twice_in_the_same_order_keeps_that_order():
    x, y = examples()
    fixed = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100, seed=1, reshuffle_each_iteration=False).batch(10)

    held = prepare_fit_data((fixed,), {}, max_bytes=MEGABYTE).args[0]

    assert not held.reshuffle
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches(held.to_dataset(0)), batches(fixed)))


def failing_pipeline() -> tf.data.Dataset:
    strings = tf.data.Dataset.from_tensor_slices((["1", "x"], [0, 1])).batch(2)
    return strings.map(lambda text, label: (tf.strings.to_number(text), label))


def padded_to_each_batch() -> tf.data.Dataset:
    lengths = tf.data.Dataset.range(1, 9).map(lambda n: (tf.ones([n]), n))
    return lengths.padded_batch(4)


@pytest.mark.parametrize("args, kwargs, message", [
    ("repeat", {}, r"search\(x=...\): the tf.data.Dataset repeats forever .* end it with .take\(n\)"),
    ("unbatched", {}, r"search\(x=...\): the tf.data.Dataset yields single examples .* dataset.batch\(32\)"),
    ("batched", {"validation_split": 0.2}, r"search\(validation_split=0.2\): validation_split needs arrays .* "
                                           "pass validation_data= instead"),
    ("generator", {}, r"search\(x=...\): a generator cannot be sent to Ray's workers; wrap it in a "
                      r"keras.utils.PyDataset"),
    ("ragged", {}, r"search\(x=...\): the tf.data.Dataset holds a RaggedTensorSpec"),
    ("padded", {}, r"search\(x=...\): the tf.data.Dataset yields batches whose shapes differ .* padded_shapes"),
    ("empty", {}, r"search\(x=...\): the tf.data.Dataset is empty"),
    ("failing", {}, r"search\(x=...\): the tf.data.Dataset failed while tunelab read it: .*convert string"),
])
def test_datasets_that_cannot_be_held_are_refused_naming_the_argument(args, kwargs, message):
    x, y = examples()
    dataset = {
        "repeat": lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat(),
        "unbatched": lambda: tf.data.Dataset.from_tensor_slices((x, y)),
        "batched": lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8),
        "generator": lambda: (batch for batch in [(x, y)]),
        "ragged": lambda: tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1, 2], [3]])).batch(2),
        "padded": padded_to_each_batch,
        "empty": lambda: tf.data.Dataset.from_tensor_slices((x, y)).batch(8).take(0),
        "failing": failing_pipeline,
    }[args]()
    with pytest.raises(ValueError, match=message):
        prepare_fit_data((dataset,), kwargs, max_bytes=MEGABYTE)


def test_the_memory_limit_counts_every_dataset_and_names_the_one_that_crosses_it():
    x, y = examples(1000)  # 16 kB of examples
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(50)
    prepare_fit_data((train,), {}, max_bytes=x.nbytes + y.nbytes)  # fits exactly

    with pytest.raises(ValueError, match=r"search\(validation_data=...\): the tf.data.Dataset is larger than "
                                         r"max_data_bytes=20000 \(the datasets given to search\(\) in all\).* "
                                         "raise the tuner's max_data_bytes"):
        prepare_fit_data((train,), {"validation_data": train}, max_bytes=20_000)


# --- the other forms -------------------------------------------------------------------------------


def test_arrays_and_validation_split_travel_as_they_are():
    x, y = examples()
    data = prepare_fit_data((x, y), {"validation_split": 0.2, "batch_size": 16}, max_bytes=1)

    assert data.args[0] is x and data.args[1] is y and dict(data.kwargs) == {"validation_split": 0.2, "batch_size": 16}
    assert data.has_validation  # the objective check expects val_ metrics
    sample_x, sample_y = data.sample()
    assert np.array_equal(sample_x, x[:2]) and np.array_equal(sample_y, y[:2])
    assert not prepare_fit_data((x, y), {"validation_split": 0.0}, max_bytes=1).has_validation


class Locked(Batches):
    """A PyDataset holding something that cannot pickle."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()


def test_a_py_dataset_travels_as_itself_and_one_that_cannot_pickle_is_refused():
    x, y = examples()
    train, val = Batches(x, y, 16), Batches(x, y, 50)
    data = prepare_fit_data((train,), {"validation_data": val}, max_bytes=1)
    assert data.args[0] is train and data.kwargs["validation_data"] is val
    sample_x, sample_y = data.sample()
    assert np.array_equal(sample_x, x[:2]) and np.array_equal(sample_y, y[:2])

    with pytest.raises(ValueError, match=r"search\(validation_data=...\): the Locked cannot be pickled to go to "
                                         r"Ray's workers \(TypeError: cannot pickle '_thread.lock' object\)"):
        prepare_fit_data((train,), {"validation_data": Locked(x, y, 16)}, max_bytes=1)
    with pytest.raises(ValueError, match=r"search\(validation_split=0.1\): validation_split needs arrays"):
        prepare_fit_data((train,), {"validation_split": 0.1}, max_bytes=1)


# --- real searches ----------------------------------------------------------------------------------


def test_a_py_dataset_search_trains_in_a_worker(tmp_path, ray_session):
    x, y, x_val, y_val = breast_cancer()
    tuner = kt.RandomSearch(build_binary, objective="val_auc", max_trials=1, seed=0, directory=tmp_path)
    assert tuner.objective.direction == "max"  # inferred from the name, as KerasTuner does

    tuner.search(Batches(x, y, 32), validation_data=Batches(x_val, y_val, 64), epochs=2, verbose=0)

    trials, history = tuner.results.trials, tuner.results.history
    assert list(trials["stop_reason"]) == ["completed"] and history["val_auc"].notna().all() and len(history) == 2
    model = tuner.get_best_models(1)[0]
    evaluated = model.evaluate(Batches(x_val, y_val, 64), verbose=0, return_dict=True)["auc"]
    assert evaluated == pytest.approx(trials["val_auc_best"].iloc[0], abs=1e-4)


@pytest.mark.slow
@pytest.mark.ray
def test_a_kerastuner_script_with_tf_data_datasets_runs_from_outside_the_repository(tmp_path):
    """The issue's example: batched tf.data datasets, kt.Objective("val_auc", "max"), AUC named auc."""
    (tmp_path / "search.py").write_text(TF_DATA_SCRIPT)
    done = subprocess.run([sys.executable, "search.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    assert found["stop_reasons"] == ["completed"] * 3 and found["mode"] == "max"
    assert len(found["history_val_auc"]) == 9 and all(0.5 < auc <= 1 for auc in found["history_val_auc"])
    assert found["best_val_auc"] == max(found["val_auc_best"])  # val_auc maximized
    assert found["evaluated_val_auc"] == pytest.approx(found["best_val_auc"], abs=1e-4)  # the best epoch's weights
    assert found["data"] == ("search() arguments: x: tf.data.Dataset read whole: 426 examples (51.6 KiB) in "
                             "batches of 32, reshuffled each epoch; validation_data: tf.data.Dataset read whole: "
                             "143 examples (17.3 KiB) in batches of 64")
