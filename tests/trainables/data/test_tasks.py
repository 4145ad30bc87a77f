"""Targets by task: classes for classification, numbers for regression, and the sources of each."""
from __future__ import annotations

import numpy as np
import pytest

from tunelab.trainables import DataError, load_dataset
from tunelab.trainables.data.base import Examples, StreamedData
from tunelab.trainables.data.streaming import streamed_batches


def test_diabetes_is_regression_on_standardised_features_with_targets_kept_as_numbers():
    data = load_dataset("diabetes", validation_fraction=0.2, seed=0, task="regression")

    assert data.task == "regression" and data.num_classes == 0 and data.num_outputs == 1
    assert data.x_train.shape == (353, 10) and data.x_val.shape == (89, 10) and data.x_train.dtype == np.float32
    features = np.concatenate([data.x_train, data.x_val])
    np.testing.assert_allclose(features.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(features.std(axis=0), 1, atol=1e-5)
    targets = np.concatenate([data.y_train, data.y_val])
    assert data.y_train.dtype == np.float32 and targets.min() == 25 and targets.max() == 346  # the disease scores


def test_breast_cancer_is_two_stratified_classes():
    data = load_dataset("breast_cancer", validation_fraction=0.2, seed=0)

    assert data.task == "classification" and data.num_classes == data.num_outputs == 2
    assert data.x_train.shape == (455, 30) and abs(data.y_train.mean() - data.y_val.mean()) < 0.01


def test_a_named_source_of_the_other_task_is_refused_naming_task():
    with pytest.raises(DataError, match="task: classification, but diabetes is a regression data set; use task: "
                                        "regression"):
        load_dataset("diabetes")
    with pytest.raises(DataError, match="task: regression, but digits is a classification data set"):
        load_dataset("digits", task="regression")


def test_a_csv_target_column_is_read_as_numbers_under_regression(tmp_path):
    path = tmp_path / "houses.csv"
    path.write_text("rooms,label,price\n" + "".join(f"{i % 5},{i % 2},{100.5 + 3 * i}\n" for i in range(50)))

    data = load_dataset({"source": f"csv:{path}", "target": "price"}, task="regression")

    assert data.task == "regression" and data.x_train.shape == (40, 2)  # rooms and label are features here
    prices = np.sort(np.concatenate([data.y_train, data.y_val]))
    np.testing.assert_allclose(prices, 100.5 + 3 * np.arange(50))


def test_a_continuous_target_as_classification_is_refused_suggesting_regression(tmp_path):
    path = tmp_path / "houses.csv"
    path.write_text("rooms,price\n" + "".join(f"{i % 5},{100.5 + 3.1 * i:.1f}\n" for i in range(50)))

    with pytest.raises(DataError, match=r"^task: classification, but the target of csv:.* is continuous \(50 "
                                        r"distinct values such as .*\); use task: regression$"):
        load_dataset({"source": f"csv:{path}", "target": "price"})


def test_a_few_fractional_labels_are_still_classes(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("score,label\n" + "".join(f"{i},{(i % 3) / 2}\n" for i in range(30)))
    assert load_dataset(f"csv:{path}").num_classes == 3


def test_regression_npz_keeps_several_targets_per_example(tmp_path):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((20, 4)), y_train=rng.random((20, 3)), x_val=rng.random((5, 4)),
             y_val=rng.random((5, 3)))

    data = load_dataset(f"npz:{path}", task="regression")

    assert data.num_outputs == 3 and data.y_val.shape == (5, 3) and data.y_val.dtype == np.float32


@pytest.mark.parametrize("data, expected", [
    ("images:/nowhere", "task: regression, but images: sources hold classes; regression reads npz:PATH, csv:PATH"),
    ({"source": "npz:/nowhere.npz", "memory_map": True}, "data.memory_map: a memory-mapped npz holds classes"),
])
def test_sources_that_hold_classes_only_refuse_regression(tmp_path, data, expected):
    if isinstance(data, dict):
        np.savez(tmp_path / "d.npz", x=np.zeros((10, 2)), y=np.arange(10.0))
        data = {**data, "source": f"npz:{tmp_path / 'd.npz'}"}
    with pytest.raises(DataError, match=expected):
        load_dataset(data, task="regression")


class _Targets(StreamedData):
    """A streamed source of regression targets, as a worker would read one."""

    def read(self) -> tuple[Examples, Examples]:
        import tensorflow as tf

        x = np.arange(12, dtype=np.float32).reshape(6, 2)
        examples = Examples(tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1))), 6)
        return examples, examples


def test_streamed_regression_batches_carry_numbers_shaped_like_the_model_output():
    data = _Targets("targets", (2,), 0, task="regression")
    train, validation, steps = streamed_batches(data, 4, seed=None)
    x, y = next(iter(validation))
    assert steps == 2 and y.dtype.name == "float32" and y.shape == (4, 1)
    np.testing.assert_allclose(y.numpy()[:, 0], x.numpy().sum(axis=1))
