"""Streamed sources: the driver describes them from metadata, a worker builds its examples once and reuses them,
and every mistake in the `data:` mapping or the files is one line naming the key or the file."""
from __future__ import annotations

import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest
import yaml

from tests.trainables.data.streamed_files import FEATURES, tfrecord_data, write_image_folder, write_tfrecord
from tunelab.searchspaces import load_space
from tunelab.trainables import DataError, StreamedData, load_dataset
from tunelab.trainables.data import check_data
from tunelab.trainables.data.image_folder import ImageFolder
from tunelab.trainables.data.streaming import location, streamed_batches
from tunelab.trainables.model_params import TrainableError
from tunelab.trainables.preflight import check_trainable


def all_batches(dataset) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images") / "digits")


@pytest.fixture(scope="module")
def tfrecord(tmp_path_factory):
    return write_tfrecord(tmp_path_factory.mktemp("tfrecord") / "digits.tfrecord")


def test_an_image_folder_is_described_not_loaded(image_folder):
    data = load_dataset(f"images:{image_folder}", validation_fraction=0.2, seed=1)

    assert isinstance(data, ImageFolder)
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10  # the PNGs' own size, grayscale
    assert data.class_names == tuple("0123456789") and not data.split_folders
    assert len(pickle.dumps(data)) < 1000  # all that travels to the trials


def test_a_worker_builds_the_examples_once_and_its_next_trials_reuse_them(tmp_path, monkeypatch):
    folder = write_image_folder(tmp_path / "digits", count=100)
    data = load_dataset(f"images:{folder}", validation_fraction=0.2, seed=0)
    reads = []
    original = ImageFolder.read
    monkeypatch.setattr(ImageFolder, "read", lambda self: reads.append(self) or original(self))

    train, validation, steps = streamed_batches(data, 16, seed=0)
    x, y = all_batches(train)
    x_val, y_val = all_batches(validation)
    shutil.rmtree(folder)  # the next trial of this worker must not read the files again
    again, validation_again, steps_again = streamed_batches(data, 32, seed=0)

    assert len(reads) == 1
    assert (len(x), len(x_val), steps, steps_again) == (80, 20, 5, 3)
    assert x.shape[1:] == (8, 8, 1) and 0 <= x.min() and x.max() <= 1 and x.max() > 0.9
    assert y.shape == (80, 10) and (y.sum(axis=1) == 1).all()  # one-hot
    x_again, _ = all_batches(again)
    np.testing.assert_allclose(np.sort(x_again.ravel()), np.sort(x.ravel()))  # the cached examples, reshuffled
    np.testing.assert_array_equal(all_batches(validation_again)[1], y_val)  # validation keeps its order


def test_image_size_and_color_mode_resize_and_recolour(image_folder):
    data = load_dataset({"source": f"images:{image_folder}", "image_size": [16, 12], "color_mode": "rgb"})
    train, _, _ = streamed_batches(data, 8, seed=0)

    assert data.input_shape == (16, 12, 3)
    assert next(iter(train))[0].shape == (8, 16, 12, 3)


def test_train_and_val_folders_are_the_split(tmp_path):
    folder = write_image_folder(tmp_path / "digits", count=100, split_folders=True)
    data = load_dataset(f"images:{folder}", validation_fraction=0.5)
    train, validation, _ = streamed_batches(data, 100, seed=0)

    on_disk = [len(list((folder / part).glob("*/*.png"))) for part in ("train", "val")]
    assert data.split_folders and data.num_classes == 10 and min(on_disk) > 0
    assert [len(all_batches(train)[0]), len(all_batches(validation)[0])] == on_disk


def test_tfrecord_split_is_seeded_and_about_the_fraction(tfrecord):
    def validation_labels(seed: int) -> np.ndarray:
        data = load_dataset(tfrecord_data(tfrecord, cache=False), validation_fraction=0.25, seed=seed)
        _, validation, _ = streamed_batches(data, 400, seed=0)
        return all_batches(validation)[1].argmax(axis=1)

    first, again, other = validation_labels(1), validation_labels(1), validation_labels(2)

    assert 60 <= len(first) <= 140  # each of 400 records is held out with probability 0.25
    np.testing.assert_array_equal(first, again)
    assert len(first) != len(other) or not np.array_equal(first, other)


@pytest.mark.parametrize("encoded", [False, True], ids=["float_list", "png"])
def test_tfrecord_examples_are_the_declared_shape(tmp_path, encoded):
    path = write_tfrecord(tmp_path / "d.tfrecord", count=50, encoded=encoded)
    features = {"image": {"shape": [8, 8] if not encoded else [8, 8, 1], "dtype": "png" if encoded else "float32"},
                "label": {"dtype": "int64"}}
    data = load_dataset(tfrecord_data(path, features=features), validation_fraction=0.2)
    train, validation, steps = streamed_batches(data, 64, seed=0)
    x, y = all_batches(train)

    assert data.input_shape == (8, 8, 1) and steps == 1
    assert x.shape[1:] == (8, 8, 1) and 0 <= x.min() and 0.9 < x.max() <= 1 and y.shape[1] == 10
    assert len(x) + len(all_batches(validation)[0]) == 50


def test_a_tfrecord_label_beyond_num_classes_fails_the_trial_with_its_source(tfrecord):
    data = load_dataset(tfrecord_data(tfrecord, num_classes=5, cache=False))
    with pytest.raises(Exception, match=f"tfrecord:{tfrecord}: a label is outside 0 to 4"):
        streamed_batches(data, 32, seed=0)


def test_a_memory_mapped_npz_splits_as_the_one_in_memory(tmp_path):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.random((120, 4, 3)).astype(np.float32), y=np.repeat(["a", "b", "c"], 40))
    in_memory = load_dataset(f"npz:{path}", validation_fraction=0.25, seed=3)
    mapped = load_dataset({"source": f"npz:{path}", "memory_map": True}, validation_fraction=0.25, seed=3)
    _, validation, steps = streamed_batches(mapped, 1000, seed=0)
    x_val, y_val = all_batches(validation)

    assert isinstance(mapped, StreamedData) and len(pickle.dumps(mapped)) < 1000
    assert mapped.input_shape == in_memory.input_shape == (4, 3, 1) and mapped.num_classes == 3 and steps == 1
    order = np.argsort(x_val[:, 0, 0, 0])  # a batch reads its rows in file order
    expected = np.argsort(in_memory.x_val[:, 0, 0, 0])
    np.testing.assert_array_equal(x_val[order], in_memory.x_val[expected])
    np.testing.assert_array_equal(y_val.argmax(axis=1)[order], in_memory.y_val[expected])


def test_a_memory_mapped_npz_keeps_its_own_split(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.arange(12.0).reshape(6, 2), y_train=[0, 1] * 3, x_val=np.ones((2, 2)), y_val=[1, 0])
    train, validation, _ = streamed_batches(load_dataset({"source": f"npz:{path}", "memory_map": True}), 4, seed=0)

    np.testing.assert_array_equal(np.sort(all_batches(train)[0][:, 0]), [0, 2, 4, 6, 8, 10])
    np.testing.assert_array_equal(all_batches(validation)[1], [[0, 1], [1, 0]])


TFRECORD = "tfrecord:/data/d.tfrecord"
SCHEMA_MISTAKES = [
    ({"image_size": [8, 8]}, "data.source: missing; a data mapping names its source"),
    ({"source": 3}, "data.source: expected a data set name or FORM:PATH (digits, mnist, fashion_mnist, breast_cancer, "
                    "diabetes, npz:PATH"),
    (["digits"], "data: expected a data set name or FORM:PATH"),
    ({"source": "digitz"}, "data.source: unknown data set 'digitz' (did you mean 'digits'?)"),
    ({"source": "digits", "cache": True}, "data.cache: unknown key for digits; allowed: source"),
    ({"source": "csv:/d.csv", "memory_map": True}, "data.memory_map: unknown key for csv; allowed: source"),
    ({"source": "npz:/d.npz", "memory_map": 1}, "data.memory_map: must be true or false, got 1"),
    ({"source": "images:/d", "image_sise": [8, 8]},
     "data.image_sise: unknown key for images; allowed: source, image_size, color_mode, cache "
     "(did you mean 'image_size'?)"),
    ({"source": "images:/d", "image_size": [8]}, "data.image_size: expected [height, width], got [8]"),
    ({"source": "images:/d", "image_size": [8, 0]}, "data.image_size: expected [height, width], got [8, 0]"),
    ({"source": "images:/d", "color_mode": "rbg"}, "data.color_mode: 'rbg' is not allowed; use grayscale, rgb, rgba"),
    ({"source": "images:/d", "cache": "yes"}, "data.cache: must be true or false, got 'yes'"),
    ({"source": "images:/d", "cache": None}, "data.cache: empty; give it a value"),
    ({"source": TFRECORD, "num_classes": 10}, "data.features: missing; a tfrecord source declares its input feature"),
    ({"source": TFRECORD, "features": ["image"], "num_classes": 10}, "data.features: got ['image']"),
    ({"source": TFRECORD, "features": {"image": FEATURES["image"]}, "num_classes": 10},
     "data.features: declares image; declare one input feature and 'label'"),
    ({"source": TFRECORD, "features": {**FEATURES, "mask": FEATURES["image"]}, "num_classes": 10},
     "data.features: declares image, label, mask; declare one input feature and 'label'"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": {"shape": [64], "dtype": "float64"}}, "num_classes": 10},
     "data.features.image.dtype: 'float64' is not allowed; use float32 or int64"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": {"dtype": "float32"}}, "num_classes": 10},
     "data.features.image.shape: expected a list of 1 to 3 positive integers, got None"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": {"shape": [8, -8], "dtype": "int64"}}, "num_classes": 10},
     "data.features.image.shape: expected a list of 1 to 3 positive integers, got [8, -8]"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": {"shape": [8, 8], "dtype": "png"}}, "num_classes": 10},
     "data.features.image.shape: expected [height, width, channels] of an image, got [8, 8]"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": {"shape": [8, 8, 2], "dtype": "jpeg"}}, "num_classes": 10},
     "data.features.image.shape: an image has 1, 3 or 4 channels, got 2"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": {"shpae": [64], "dtype": "float32"}}, "num_classes": 10},
     "data.features.image.shpae: unknown key; allowed: shape, dtype (did you mean 'shape'?)"),
    ({"source": TFRECORD, "features": {**FEATURES, "image": "float32"}, "num_classes": 10},
     "data.features.image: expected a mapping like {shape: [8, 8, 1], dtype: float32}, got 'float32'"),
    ({"source": TFRECORD, "features": {**FEATURES, "label": {"dtype": "float32"}}, "num_classes": 10},
     "data.features.label: {'dtype': 'float32'} is not allowed; a label is one int64 class index"),
    ({"source": TFRECORD, "features": FEATURES}, "data.num_classes: missing; a tfrecord source declares its number"),
    ({"source": TFRECORD, "features": FEATURES, "num_classes": 1}, "data.num_classes: got 1; a tfrecord source"),
    ({"source": TFRECORD, "features": FEATURES, "num_classes": True}, "data.num_classes: got True"),
]


@pytest.mark.parametrize("data, message", SCHEMA_MISTAKES, ids=[m.split(":")[0] + f"-{i}" for i, (_, m)
                                                                 in enumerate(SCHEMA_MISTAKES)])
def test_schema_mistakes_are_one_line_naming_the_key(data, message):
    with pytest.raises(DataError) as error:
        check_data(data)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize("data, message", [
    ("images:relative/digits", "data: 'images:relative/digits' is relative, which would depend on where each worker"),
    ({"source": "npz:gs://bucket/d.npz", "memory_map": True}, "data.memory_map: npz:gs://bucket/d.npz is a URI"),
])
def test_paths_the_workers_cannot_share_are_refused(data, message):
    with pytest.raises(DataError, match=message):
        load_dataset(data)


def test_home_paths_are_expanded_for_the_workers_and_uris_kept():
    assert location("images:~/pets", "~/pets") == os.path.expanduser("~/pets")
    assert location("images:gs://bucket/pets", "gs://bucket/pets") == "gs://bucket/pets"


def test_a_cnn_on_streamed_rows_is_refused_before_ray_starts(tfrecord):
    rows = load_dataset(tfrecord_data(tfrecord, features={**FEATURES, "image": {"shape": [64], "dtype": "float32"}}))
    with pytest.raises(TrainableError, match=r"model cnn needs image input .* rows of shape \(64,\)"):
        check_trainable("cnn", rows, load_space("cnn"))


def _image_case(tmp_path, case: str) -> str:
    folder = tmp_path / "images"
    if case == "one class":
        write_image_folder(folder, count=1)
    elif case == "empty class":
        write_image_folder(folder, count=20)
        (folder / "notes").mkdir()
    elif case == "val classes differ":
        write_image_folder(folder, count=100, split_folders=True)
        shutil.rmtree(folder / "val" / "3")
    elif case == "not an image":
        write_image_folder(folder, count=20)
        (folder / "0" / "0.png").write_text("not a png")
    elif case == "too few to split":
        write_image_folder(folder, count=2)
    return f"images:{folder}"


@pytest.mark.parametrize("case, message", [
    ("missing", "{folder} does not exist"),
    ("one class", "needs a folder per class, at least 2; {folder} holds ['0']"),
    ("empty class", "class folder {folder}/notes holds no .bmp, .gif, .jpeg, .jpg, .png files"),
    ("val classes differ", "val/ has the class folders ['0', '1', '2', '4', '5', '6', '7', '8', '9'], train/ has "
                           "['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']; they must be the same"),
    ("not an image", "cannot read {folder}/0/0.png as an image"),
    ("too few to split", "validation_fraction 0.2 of 2 images holds out 0; both parts need at least one image"),
])
def test_image_folder_mistakes_name_the_folder(tmp_path, case, message):
    source = _image_case(tmp_path, case) if case != "missing" else f"images:{tmp_path}/images/"
    with pytest.raises(DataError) as error:
        load_dataset(source)
    text = str(error.value)
    assert text.startswith(f"data: {source}: ") and message.format(folder=tmp_path / "images") in text, text


@pytest.mark.parametrize("change, message", [
    ({"source": "tfrecord:{tmp}/none-*.tfrecord"},
     "data: tfrecord:{tmp}/none-*.tfrecord: {tmp}/none-*.tfrecord matches no TFRecord file"),
    ({"features": {"pixels": FEATURES["image"], "label": FEATURES["label"]}},
     "data.features: the first record of {file} has no feature 'pixels'; it has image, label"),
    ({"features": {**FEATURES, "image": {"shape": [64], "dtype": "int64"}}},
     "data.features.image: the first record of {file} holds a float_list; dtype int64 reads a int64_list"),
    ({"features": {**FEATURES, "image": {"shape": [8, 4], "dtype": "float32"}}},
     "data.features.image: the first record of {file} holds 64 values; shape [8, 4] needs 32"),
    ({"features": {**FEATURES, "image": {"shape": [8, 8, 1], "dtype": "png"}}},
     "data.features.image: the first record of {file} holds a float_list; dtype png reads a bytes_list"),
])
def test_tfrecord_mistakes_hold_the_first_record_against_the_schema(tfrecord, change, message):
    data = tfrecord_data(tfrecord, **{k: v.format(tmp=tfrecord.parent) if isinstance(v, str) else v
                                      for k, v in change.items()})
    with pytest.raises(DataError) as error:
        load_dataset(data)
    assert str(error.value) == message.format(tmp=tfrecord.parent, file=tfrecord)


def test_a_png_of_another_size_than_declared_is_named(tmp_path):
    path = write_tfrecord(tmp_path / "d.tfrecord", count=3, encoded=True)
    features = {**FEATURES, "image": {"shape": [28, 28, 1], "dtype": "png"}}
    with pytest.raises(DataError, match=r"features.image.shape: \[28, 28, 1\], but the first record's image is 8x8"):
        load_dataset(tfrecord_data(path, features=features))


def test_a_file_that_is_no_tfrecord_is_named(tmp_path):
    path = tmp_path / "d.tfrecord"
    path.write_bytes(b"\x00" * 8)
    with pytest.raises(DataError, match=f"{path} holds no records, or is not an uncompressed TFRecord file"):
        load_dataset(tfrecord_data(path))


def test_a_compressed_npz_cannot_be_memory_mapped(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=np.zeros((4, 2)), y=[0, 1, 0, 1])
    with pytest.raises(DataError, match=r"x.npy is compressed \(np.savez_compressed\); a memory map needs the archive "
                                        "written by np.savez, or memory_map: false"):
        load_dataset({"source": f"npz:{path}", "memory_map": True})
    assert zipfile.is_zipfile(path)


def test_the_launch_command_refuses_a_schema_the_file_contradicts_before_ray_starts(tfrecord, tmp_path, capsys):
    from tunelab.cli.run import main

    experiment = tmp_path / "e.yaml"
    data = tfrecord_data(tfrecord, features={**FEATURES, "image": {"shape": [60], "dtype": "float32"}})
    experiment.write_text(yaml.safe_dump({"name": "e", "trainable": "mlp", "data": data, "space": "mlp",
                                          "storage": str(tmp_path / "results")}))

    assert main([str(experiment)], prog="tunelab run") == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tunelab run: error: data.features.image: the first record of ") and "needs 60" in line
    assert not (tmp_path / "results").exists()


def test_set_turns_a_data_string_into_a_mapping(tmp_path):
    from tunelab.experiments.spec import load_spec

    experiment = tmp_path / "e.yaml"
    experiment.write_text(yaml.safe_dump({"name": "e", "trainable": "mlp", "data": "npz:/d.npz", "space": "mlp"}))
    spec = load_spec(experiment, ["data.memory_map=true"])
    assert spec.data == {"source": "npz:/d.npz", "memory_map": True}
