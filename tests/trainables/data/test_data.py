"""Data sets by name: digits, the Keras cache, npz and csv files, and every error a user can hit."""

from __future__ import annotations

import numpy as np
import pytest

from tunelab.trainables import DataError, load_dataset


def _class_shares(y: np.ndarray) -> np.ndarray:
    return np.bincount(y, minlength=10) / len(y)


def test_digits_are_scaled_images_split_by_class():
    data = load_dataset("digits", validation_fraction=0.25, seed=3)

    assert data.name == "digits" and data.num_classes == 10
    assert data.x_train.shape == (1347, 8, 8, 1) and data.x_val.shape == (450, 8, 8, 1)
    assert data.input_shape == (8, 8, 1)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert 0.0 <= data.x_train.min() and data.x_train.max() == 1.0
    np.testing.assert_allclose(_class_shares(data.y_train), _class_shares(data.y_val), atol=0.01)


def test_digits_split_is_reproducible_from_the_seed():
    first, again = load_dataset("digits", seed=1), load_dataset("digits", seed=1)
    other = load_dataset("digits", seed=2)

    np.testing.assert_array_equal(first.x_val, again.x_val)
    assert not np.array_equal(first.x_val, other.x_val)


def test_npz_with_x_and_y_is_split(tmp_path):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.random((100, 5)), y=np.repeat([3, 5, 9, 11], 25))

    data = load_dataset(f"npz:{path}", validation_fraction=0.2)

    assert data.name == f"npz:{path}"
    assert data.x_train.shape == (80, 5) and data.x_val.shape == (20, 5)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.num_classes == 4 and set(data.y_val) == {0, 1, 2, 3}


def test_npz_with_its_own_split_keeps_it_and_adds_a_channel_axis(tmp_path):
    path = tmp_path / "d.npz"
    x_train, x_val = np.zeros((6, 4, 4), np.uint8), np.ones((3, 4, 4), np.uint8)
    np.savez(path, x_train=x_train, y_train=list("abcabc"), x_val=x_val, y_val=list("cba"))

    data = load_dataset(f"npz:{path}")

    assert data.x_train.shape == (6, 4, 4, 1) and data.x_val.shape == (3, 4, 4, 1)
    assert data.y_train.tolist() == [0, 1, 2, 0, 1, 2] and data.y_val.tolist() == [2, 1, 0]
    assert data.num_classes == 3


def test_csv_with_string_labels(tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"{i},{i * 0.5},{'cat' if i % 2 else 'ant'}" for i in range(20)]
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")

    data = load_dataset(f"csv:{path}", validation_fraction=0.5, seed=0)

    assert data.x_train.shape == (10, 2) and data.x_val.shape == (10, 2)
    assert data.num_classes == 2
    # "ant" sorts before "cat": odd first columns are cats, class 1.
    assert ((data.x_train[:, 0] % 2 == 1) == (data.y_train == 1)).all()


def test_csv_integer_labels_are_ordered_as_numbers(tmp_path):
    path = tmp_path / "d.csv"
    labels = [10, 9, 3] * 4
    path.write_text("label,f\n" + "\n".join(f"{y},{y}" for y in labels) + "\n")

    data = load_dataset(f"csv:{path}", validation_fraction=0.25)

    assert (data.y_train == np.searchsorted([3, 9, 10], data.x_train[:, 0])).all()


def _npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


def _csv(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return f"csv:{path}"


@pytest.mark.parametrize(
    "make_name, expected",
    [
        (lambda p: _npz(p, inputs=np.zeros((4, 2)), y=np.arange(4)), "expected x and y"),
        (lambda p: _npz(p, x=np.zeros((4, 2)), y=np.arange(3)), "y must be one label per row"),
        (lambda p: _npz(p, x=np.full((4, 2), "a"), y=np.arange(4)), "x must be numeric"),
        (lambda p: _npz(p, x=np.zeros(4), y=np.arange(4)), "x must have shape"),
        (lambda p: _npz(p, x=np.zeros((4, 2)), y=np.zeros(4)), "at least 2 classes"),
        (lambda p: _csv(p, "a,b\n1,2\n"), "no 'label' column"),
        (lambda p: _csv(p, "a,label\n1,x\nfoo,y\n"), "column 'a' must be numeric; line 3"),
        (lambda p: _csv(p, "a,label\n1,x\n2\n"), "line 3 has 1 fields"),
        (lambda p: _csv(p, "a,label\n1,x\n2,x\n"), "at least 2 classes"),
        (lambda p: _csv(p, "a,label\n"), "at least one data row"),
        (lambda p: _csv(p, "a,label\n1,x\n2,y\n"), "labels 'x', 'y' have one example each with validation_fraction"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(tmp_path, make_name, expected):
    name = make_name(tmp_path)
    with pytest.raises(DataError, match=expected) as error:
        load_dataset(name)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_unreadable_npz(tmp_path):
    path = tmp_path / "d.npz"
    path.write_text("not an archive")
    with pytest.raises(DataError, match=f"npz:{path}: cannot read as a NumPy .npz archive"):
        load_dataset(f"npz:{path}")


def test_single_array_npy_is_not_an_archive(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(DataError, match="single array"):
        load_dataset(f"npz:{path}")


@pytest.mark.parametrize("form", ["npz", "csv"])
def test_missing_file(tmp_path, form):
    path = tmp_path / f"absent.{form}"
    with pytest.raises(DataError, match=f"{form}:{path}: file {path} does not exist"):
        load_dataset(f"{form}:{path}")


def test_unknown_name_suggests_the_closest_and_lists_the_forms():
    with pytest.raises(DataError, match="did you mean 'digits'") as error:
        load_dataset("digts")
    message = str(error.value)
    assert "'digts'" in message and "mnist" in message
    assert "npz:PATH" in message and "csv:PATH" in message


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_validation_fraction_must_be_a_proper_fraction(fraction):
    with pytest.raises(DataError, match=r"validation_fraction must be in \(0, 1\)"):
        load_dataset("digits", validation_fraction=fraction)


@pytest.mark.parametrize(
    "name, cached",
    [("mnist", "datasets/mnist.npz"), ("fashion_mnist", "datasets/fashion-mnist/")],
)
def test_keras_cache_miss_explains_how_to_fetch(tmp_path, monkeypatch, name, cached):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError) as error:
        load_dataset(name)
    message = str(error.value)
    assert str(tmp_path / cached) in message
    assert "no network download is attempted" in message
    assert f'python -c "import keras; keras.datasets.{name}.load_data()"' in message


def test_mnist_is_read_from_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    images = np.full((5, 28, 28), 255, np.uint8)
    np.savez(
        tmp_path / "datasets" / "mnist.npz",
        x_train=images,
        y_train=np.arange(5, dtype=np.uint8),
        x_test=images[:2],
        y_test=np.array([9, 0], np.uint8),
    )

    data = load_dataset("mnist")

    assert data.x_train.shape == (5, 28, 28, 1) and data.x_val.shape == (2, 28, 28, 1)
    assert data.x_train.max() == 1.0 and data.num_classes == 10
