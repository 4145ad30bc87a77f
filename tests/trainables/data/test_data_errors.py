"""Data errors found where they are: a corrupt image named by the driver, or by the trial that meets it; NaN and
infinity refused in arrays on the driver and named per file in streamed ones; validation labels unseen in training
refused; label errors quoting the user's label."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.trainables.data.streamed_files import FEATURES, tfrecord_data, write_image_folder, write_tfrecord
from tunelab.cli.run import main
from tunelab.trainables import DataError, load_dataset
from tunelab.trainables.data import image_files
from tunelab.trainables.data.located import data_errors_located, reason
from tunelab.trainables.data.streaming import streamed_batches

HELPERS = "tests.trainables.data.data_functions"


def truncated(path: Path) -> None:
    """`path` cut short, as an interrupted copy leaves a file."""
    content = path.read_bytes()
    path.write_bytes(content[:len(content) // 2])


def flipped(path: Path) -> None:
    """One byte of `path`'s image data changed: its header and ending are intact, only decoding finds it."""
    content = path.read_bytes()
    at = content.index(b"IDAT") + 8
    path.write_bytes(content[:at] + bytes([content[at] ^ 0xFF]) + content[at + 1:])


def fit_one_epoch(data) -> None:
    """What a trial does with a streamed source, without Ray: its batches, one epoch of a small model."""
    import keras

    with data_errors_located(data):
        train, validation, _ = streamed_batches(data, 32, seed=0)
        model = keras.Sequential([keras.Input(data.input_shape), keras.layers.Flatten(),
                                  keras.layers.Dense(data.num_classes, activation="softmax")])
        model.compile("adam", "categorical_crossentropy")
        model.fit(train, validation_data=validation, epochs=1, verbose=0)


@pytest.mark.parametrize("damage", [truncated, flipped])
def test_the_driver_names_a_corrupt_image_anywhere_in_the_folder(tmp_path, damage):
    folder = write_image_folder(tmp_path / "digits", count=60)
    damage(folder / "7" / "17.png")  # not the first file, whose header gives the image size

    with pytest.raises(DataError, match=rf"data: images:{folder}: cannot read {folder}/7/17.png as an image \("):
        load_dataset(f"images:{folder}")


def test_beyond_the_decoded_sample_a_cut_file_is_still_found_by_its_ending(tmp_path, monkeypatch):
    folder = write_image_folder(tmp_path / "digits", count=60)
    truncated(folder / "7" / "17.png")
    monkeypatch.setattr(image_files, "DECODED_IN_FULL", 1)

    with pytest.raises(DataError, match=f"cannot read {folder}/7/17.png as an image"):
        load_dataset(f"images:{folder}")


def test_a_corrupt_image_the_driver_did_not_decode_is_named_by_the_trial(tmp_path, monkeypatch):
    folder = write_image_folder(tmp_path / "digits", count=60)
    flipped(folder / "7" / "17.png")
    monkeypatch.setattr(image_files, "DECODED_IN_FULL", 1)
    data = load_dataset(f"images:{folder}")  # header and ending intact: passes

    with pytest.raises(DataError) as error:
        fit_one_epoch(data)
    assert str(error.value).startswith(f"data: images:{folder}: cannot decode {folder}/7/17.png (Invalid PNG data")
    assert "\n" not in str(error.value) and "IteratorGetNext" not in str(error.value)


def test_nan_and_infinity_in_arrays_are_refused_naming_the_key_and_row(tmp_path):
    x = np.random.default_rng(0).random((60, 4)).astype(np.float32)
    x[37, 2] = np.inf
    np.savez(tmp_path / "inf.npz", x=x, y=np.arange(60) % 3)
    (tmp_path / "nan.csv").write_text("a,b,label\n" + "".join(
        f"{i},{'nan' if i == 5 else i},{i % 2}\n" for i in range(40)))

    with pytest.raises(DataError, match=rf"^data: npz:{tmp_path}/inf.npz: x holds inf at row 37; features and "):
        load_dataset(f"npz:{tmp_path}/inf.npz")
    with pytest.raises(DataError, match=r"column 'b' must hold finite numbers; line 7 has 'nan'"):
        load_dataset(f"csv:{tmp_path}/nan.csv")
    with pytest.raises(DataError, match=r"y holds nan at row 3; labels and targets must be finite numbers"):
        np.savez(tmp_path / "targets.npz", x=x, y=np.where(np.arange(60) == 3, np.nan, 1.0))
        load_dataset(f"npz:{tmp_path}/targets.npz", task="regression")


def test_nan_in_streamed_data_is_named_per_file_by_the_trial(tmp_path):
    import tensorflow as tf

    write_tfrecord(tmp_path / "a.tfrecord", count=40)
    with tf.io.TFRecordWriter(str(tmp_path / "b.tfrecord")) as writer:
        for i in range(10):
            values = [float("nan") if i == 2 else 0.5] * 64
            example = {"image": tf.train.Feature(float_list=tf.train.FloatList(value=values)),
                       "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=example)).SerializeToString())
    x = np.random.default_rng(0).random((60, 4)).astype(np.float32)
    x[41, 0] = np.nan
    np.savez(tmp_path / "mapped.npz", x=x, y=np.arange(60) % 2)

    with pytest.raises(DataError, match=rf"record 3 of {tmp_path}/b.tfrecord \(counting from 1\): feature 'image' "
                                        "holds NaN or infinity"):
        fit_one_epoch(load_dataset(tfrecord_data(f"{tmp_path}/*.tfrecord", features=FEATURES)))
    with pytest.raises(DataError, match=rf"^data: npz:{tmp_path}/mapped.npz: x holds nan at row 41"):
        fit_one_epoch(load_dataset({"source": f"npz:{tmp_path}/mapped.npz", "memory_map": True}))
    with pytest.raises(DataError, match=rf"^data: {HELPERS}:pipeline_with_infinity: reading it failed: .*a train "
                                        "example holds NaN or infinity"):
        fit_one_epoch(load_dataset(f"{HELPERS}:pipeline_with_infinity"))


@pytest.mark.parametrize("memory_map", [False, True])
def test_a_validation_label_absent_from_training_is_refused(tmp_path, memory_map):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "split.npz", x_train=rng.random((40, 4)), y_train=np.repeat(["cat", "dog"], 20),
             x_val=rng.random((6, 4)), y_val=np.array(["cat", "dog", "cat", "bird", "dog", "cat"]))

    with pytest.raises(DataError, match=r"y_val holds label 'bird', which the training labels never hold"):
        load_dataset({"source": f"npz:{tmp_path}/split.npz", "memory_map": memory_map})


def test_label_errors_quote_the_users_label_not_its_index(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rare.npz", x=rng.random((50, 4)), y=np.r_[[-1], np.zeros(24, int), np.ones(25, int)])
    source = f"npz:{tmp_path}/rare.npz"

    with pytest.raises(DataError, match=r"^data: npz:.*rare.npz: label -1 has one example with validation_fraction=0.2; "):
        load_dataset(source)
    with pytest.raises(DataError, match=r"^test_fraction: npz:.*rare.npz: label -1 has one example with test_fraction=0.2; "):
        load_dataset(source, test_fraction=0.2)


def test_a_corrupt_image_is_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    folder = write_image_folder(tmp_path / "digits", count=40)
    truncated(folder / "3" / "3.png")
    experiment = {"name": "corrupt", "trainable": "cnn", "data": f"images:{folder}", "epochs": 1,
                  "space": {"learning_rate": 0.01}, "strategy": {"name": "random", "num_samples": 1},
                  "storage": str(tmp_path / "results")}
    (tmp_path / "corrupt.yaml").write_text(yaml.safe_dump(experiment))

    code = main([str(tmp_path / "corrupt.yaml")], prog="tunelab run")

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"cannot read {folder}/3/3.png as an image" in err[0], err
    assert not (tmp_path / "results").exists()


def test_the_reason_is_taken_out_of_tensorflows_graph_message():
    message = ("Graph execution error:\n\nDetected at node decode_image/DecodeImage defined at (most recent call "
               "last):\n<stack traces unavailable>\nError in user-defined function passed to ParallelMapDatasetV2:4 "
               "transformation with iterator: Iterator::Root::Prefetch::ParallelMapV2: Invalid PNG data, size 63\n\t "
               "[[{{node decode_image/DecodeImage}}]]\n\t [[IteratorGetNext]] [Op:__inference_multi_step_on_iterator_1]")

    assert reason(ValueError(message)) == "Invalid PNG data, size 63"
    assert reason(ValueError("{{function_node __wrapped__DecodeImage}} Invalid JPEG data [Op:DecodeImage] name: "
                             )) == "Invalid JPEG data"
