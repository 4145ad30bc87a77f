"""The test part: held out first (stratified, seeded) from the sources in memory, or the source's own (an .npz's
x_test, an image folder's test/, a data function's third part); a split it leaves empty is refused naming it."""
from __future__ import annotations

import numpy as np
import pytest

from tests.trainables.data.streamed_files import write_image_folder, write_tfrecord, tfrecord_data
from tunelab.trainables import DataError, load_dataset
from tunelab.trainables.data.base import hold_out_test
from tunelab.trainables.data.streaming import held_out_batches, read_split, streamed_batches


def rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def test_digits_hold_the_test_part_out_first_then_validation_from_the_rest():
    data = load_dataset("digits", validation_fraction=0.2, seed=4, test_fraction=0.2)

    assert (len(data.x_test), len(data.x_val), len(data.x_train)) == (360, 288, 1149)  # 20% of 1797, 20% of 1437
    assert data.x_test.dtype == np.float32 and data.y_test.dtype == np.int64
    assert not rows(data.x_test) & (rows(data.x_train) | rows(data.x_val))
    np.testing.assert_allclose(np.bincount(data.y_test) / 360, np.bincount(data.y_train) / 1149, atol=0.01)
    again = load_dataset("digits", validation_fraction=0.2, seed=4, test_fraction=0.2)
    other = load_dataset("digits", validation_fraction=0.2, seed=5, test_fraction=0.2)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert not np.array_equal(other.x_test, data.x_test)


def test_without_test_fraction_there_is_no_test_part_and_the_split_is_as_before():
    data = load_dataset("digits", seed=4)

    assert data.x_test is None and data.y_test is None
    assert len(data.x_val) == 360


def test_csv_and_npz_of_x_and_y_hold_out_a_test_part(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((100, 3)), y=np.repeat(list("abcd"), 25))
    (tmp_path / "d.csv").write_text("a,label\n" + "".join(f"{i},{i % 4}\n" for i in range(100)))

    for source in (f"npz:{tmp_path / 'd.npz'}", f"csv:{tmp_path / 'd.csv'}"):
        data = load_dataset(source, validation_fraction=0.25, test_fraction=0.2)
        assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (60, 20, 20)
        assert sorted(set(data.y_test)) == [0, 1, 2, 3]


def test_an_npz_split_already_holds_its_test_part_out_of_x_train(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.arange(40.0).reshape(20, 2), y_train=[0, 1] * 10, x_val=-np.ones((4, 2)),
             y_val=[0, 1] * 2)

    data = load_dataset(f"npz:{path}", test_fraction=0.2)

    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (16, 4, 4)
    assert (data.x_val == -1).all() and not rows(data.x_test) & rows(data.x_train)


@pytest.mark.parametrize("memory_map", [False, True])
def test_an_npz_with_x_test_keeps_it_in_memory_and_mapped(tmp_path, memory_map):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(80.0).reshape(40, 2), y=[0, 1] * 20, x_test=100 + np.arange(12.0).reshape(6, 2),
             y_test=[1, 0, 1, 0, 1, 1])
    data = load_dataset({"source": f"npz:{path}", "memory_map": memory_map}, validation_fraction=0.25)

    if memory_map:
        assert data.has_test
        x_test, y_test = (np.concatenate(part) for part in zip(*((x.numpy(), y.numpy().argmax(axis=1))
                                                                 for x, y in held_out_batches(data, 4))))
    else:
        x_test, y_test = data.x_test, data.y_test
    np.testing.assert_array_equal(x_test, 100 + np.arange(12.0, dtype=np.float32).reshape(6, 2))
    assert y_test.tolist() == [1, 0, 1, 0, 1, 1]
    with pytest.raises(DataError, match=r"^test_fraction: npz:.* has its own test part \(x_test, y_test\)"):
        load_dataset({"source": f"npz:{path}", "memory_map": memory_map}, test_fraction=0.2)


def test_a_memory_mapped_npz_holds_out_the_rows_the_one_in_memory_does(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(240.0).reshape(120, 2), y=np.repeat(["a", "b", "c"], 40))
    in_memory = load_dataset(f"npz:{path}", seed=2, test_fraction=0.25)
    mapped = read_split(load_dataset({"source": f"npz:{path}", "memory_map": True}, seed=2, test_fraction=0.25))

    assert mapped.sizes == {"train": 72, "val": 18, "test": 30}
    assert rows(np.stack([x.numpy() for x, _ in mapped.test])) == rows(in_memory.x_test)
    assert rows(np.stack([x.numpy() for x, _ in mapped.train])) == rows(in_memory.x_train)


def test_mnist_validates_on_its_own_test_split_and_holds_a_test_part_out_of_train(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    images = np.arange(20 * 28 * 28).reshape(20, 28, 28).astype(np.uint8)
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=images, y_train=np.arange(20) % 2, x_test=images[:4],
             y_test=np.array([1, 0, 1, 0]))

    data = load_dataset("mnist", test_fraction=0.2)

    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (16, 4, 4)
    assert data.x_test.shape[1:] == (28, 28, 1) and sorted(data.y_test) == [0, 0, 1, 1]


@pytest.mark.parametrize("fraction, message", [
    (0.999, "test_fraction: 0.999 of the 1797 examples of digits cannot be held out"),
    (0.004, "test_fraction: 0.004 of the 1797 examples of digits cannot be held out"),  # 8 examples, 10 classes
    (0.9, "digits: cannot split 179 examples of 10 classes, what test_fraction=0.9 leaves, with validation_fraction"),
])
def test_a_test_fraction_that_leaves_a_part_empty_is_refused(fraction, message):
    with pytest.raises(DataError, match=message):
        load_dataset("digits", validation_fraction=0.05, test_fraction=fraction)


def test_a_class_a_stratified_test_part_would_miss_is_refused_naming_test_fraction():
    codes = np.array([0] * 1000 + [1] * 2)
    with pytest.raises(DataError, match="test_fraction: 0.002 of the 1002 examples of tiny leaves label 1 out "
                                        "of the test part"):
        hold_out_test("tiny", codes, 0.002, seed=0)


def test_an_image_folder_with_test_keeps_it_and_holds_validation_out_of_train(tmp_path):
    folder = write_image_folder(tmp_path / "digits", count=150, split_folders=True)
    (folder / "val").rename(folder / "test")

    data = load_dataset(f"images:{folder}", validation_fraction=0.2, seed=0)

    assert data.has_test and not data.split_folders
    _, validation, _ = streamed_batches(data, 200, seed=0)
    test = held_out_batches(data, 200)
    train_images = sum(1 for _ in (folder / "train").rglob("*.png"))
    assert sum(len(y) for _, y in validation) == int(0.2 * train_images)
    assert sum(len(y) for _, y in test) == sum(1 for _ in (folder / "test").rglob("*.png"))
    with pytest.raises(DataError, match="^test_fraction: images:.* leave test_fraction out: test/ is its test part"):
        load_dataset(f"images:{folder}", test_fraction=0.2)


def test_sources_a_worker_splits_in_two_refuse_test_fraction(tmp_path):
    folder = write_image_folder(tmp_path / "digits", count=60)
    with pytest.raises(DataError, match="put the test images in a test/ folder beside train/"):
        load_dataset(f"images:{folder}", test_fraction=0.2)
    with pytest.raises(DataError, match="^test_fraction: tfrecord:.* a TFRecord source has no test part"):
        load_dataset(tfrecord_data(write_tfrecord(tmp_path / "d.tfrecord", count=20)), test_fraction=0.2)
