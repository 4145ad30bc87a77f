"""The user's data function: described by one call on the driver, called again in each worker, and every mistake it
can make one line naming it."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.trainables.data.data_functions import arrays
from tunelab.experiments.spec import load_spec, spec_from_dict
from tunelab.trainables import DataError, load_dataset
from tunelab.trainables.data import check_data
from tunelab.trainables.data.function import DataFunction, absolute_reference, is_function_reference
from tunelab.trainables.data.streaming import held_out_batches, read_split, streamed_batches

HELPERS = "tests.trainables.data.data_functions"


def labels_of(dataset) -> np.ndarray:
    return np.concatenate([y.numpy().argmax(axis=1) for _, y in dataset])


def test_arrays_are_described_by_the_driver_and_read_by_the_worker_with_labels_mapped():
    data = load_dataset(f"{HELPERS}:arrays")

    assert isinstance(data, DataFunction) and len(pickle.dumps(data)) < 1000  # the name travels, not the data
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10 and data.has_test
    assert data.classes == tuple(range(10, 20))
    train, validation, steps = streamed_batches(data, 32, seed=0)
    (_, y_train), (_, y_val), (_, y_test) = arrays()
    assert steps == 13
    assert sorted(labels_of(train)) == sorted(y_train - 10)  # every example once an epoch, shuffled
    assert labels_of(validation).tolist() == (y_val - 10).tolist()
    assert labels_of(held_out_batches(data, 32)).tolist() == (y_test - 10).tolist()


def test_pipelines_keep_their_class_indices_and_their_parts():
    data = load_dataset(f"{HELPERS}:pipelines")

    assert data.classes is None and data.num_classes == 10 and data.input_shape == (8, 8, 1)
    split = read_split(data)
    assert split.sizes == {"train": 400, "val": 100, "test": 100}
    x, y = next(iter(split.test))
    assert x.shape == (8, 8, 1) and x.dtype.name == "float32" and y.dtype.name == "int64"
    assert [int(y) for _, y in split.val] == (arrays()[1][1] - 10).tolist()


def test_num_classes_spares_the_driver_reading_every_label():
    data = load_dataset({"source": f"{HELPERS}:two_pipelines", "num_classes": 12})

    assert data.num_classes == 12 and not data.has_test
    with pytest.raises(DataError, match="has no test part"):
        data.read_test()


@pytest.mark.parametrize("function, message", [
    ("raises", "data: {ref} raised ValueError: the data server is down"),
    ("four_parts", "data: {ref} returned a 4-tuple; expected (train, val) or (train, val, test)"),
    ("not_a_tuple", "data: {ref} returned dict; expected (train, val) or (train, val, test)"),
    ("mismatched", "data: {ref} returned train examples of shape (8, 8, 1) but val examples of shape (7, 8, 1)"),
    ("mixed", "data: {ref} returned a tf.data.Dataset for val and arrays for train; return one kind for every part"),
    ("batched", "(batched? give it unbatched: tunelab batches with the trial's batch_size)"),
    ("one_label", "data: {ref}: needs at least 2 classes; found [0.0]"),
    ("lod", f"data: {HELPERS} has no function 'lod'"),
])
def test_a_mistake_of_the_function_is_one_line_naming_it(function, message):
    reference = f"{HELPERS}:{function}"
    with pytest.raises(DataError) as raised:
        load_dataset(reference)
    assert message.format(ref=reference) in str(raised.value) and "\n" not in str(raised.value)


def test_test_fraction_is_refused_for_a_function_which_returns_its_own_parts():
    with pytest.raises(DataError, match="^test_fraction: .*:pipelines returns its own parts; leave test_fraction out"):
        load_dataset(f"{HELPERS}:pipelines", test_fraction=0.2)
    with pytest.raises(DataError, match=r"return \(train, val, test\) for a test part"):
        load_dataset(f"{HELPERS}:two_pipelines", test_fraction=0.2)


def test_a_missing_file_and_a_misspelt_option_name_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=f"^data: {tmp_path}/nothere.py:load: no such file$"):
        load_dataset("nothere.py:load")
    with pytest.raises(DataError, match=r"data.num_clases: unknown key for a data function; allowed: source, "
                                        r"num_classes, cache \(did you mean 'num_classes'\?\)"):
        check_data({"source": f"{HELPERS}:arrays", "num_clases": 10})
    with pytest.raises(DataError, match="data.num_classes: expected an integer >= 2"):
        check_data({"source": f"{HELPERS}:arrays", "num_classes": 1})


@pytest.mark.parametrize("source, expected", [
    ("mypkg.data:load", True), ("data.py:load", True), ("/abs/dir/data.py:load", True), ("~/d/data.py:load", True),
    ("npz:/data/x.npz", False), ("digits", False), ("mypkg.data:", False), ("my-pkg:load", False),
    ("mypkg.data:load.x", False), ("data/x.txt:load", False),
])
def test_a_function_is_told_by_its_form(source, expected):
    assert is_function_reference(source) is expected


def test_a_relative_file_is_made_absolute_against_the_given_folder(tmp_path):
    assert absolute_reference("fn.py:load", tmp_path) == f"{tmp_path}/fn.py:load"
    assert absolute_reference({"source": "sub/fn.py:load", "cache": False}, tmp_path) == {
        "source": f"{tmp_path}/sub/fn.py:load", "cache": False}
    for unchanged in ("/abs/fn.py:load", "mypkg.data:load", "digits", {"source": "npz:/x.npz"}):
        assert absolute_reference(unchanged, tmp_path) == unchanged


def test_the_experiment_finds_its_file_next_to_it_and_set_next_to_the_current_folder(tmp_path, monkeypatch):
    folder, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    folder.mkdir(), elsewhere.mkdir()
    raw = {"name": "fn", "trainable": "mlp", "data": "fn.py:load", "space": {"learning_rate": 0.01}}
    (folder / "exp.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(elsewhere)

    spec = load_spec(Path("../project/exp.yaml"))
    assert spec.data == f"{folder}/fn.py:load" and spec.source["data"] == spec.data  # the run's record is absolute
    assert load_spec(folder / "exp.yaml", ["data=other.py:load"]).data == f"{elsewhere}/other.py:load"
    assert spec_from_dict({**raw, "data": {"source": "fn.py:load"}}).data == {"source": f"{elsewhere}/fn.py:load"}
