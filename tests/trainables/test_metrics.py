"""The `metrics:` names, what trials report with them, and the check of `metric:` and `mode` against that."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tunelab.trainables.metrics import (
    DEFAULT_METRICS, METRICS, TASKS, MetricError, check_metric_names, check_objective, compile_metrics,
    compiled_names, reported_names, task_metrics,
)


def test_each_task_takes_its_own_names_and_refuses_the_others_naming_the_key():
    assert check_metric_names(["auc", "precision", "auc"], "classification") == ("auc", "precision")
    assert check_metric_names([], "regression") == ()
    assert set(task_metrics("classification")) & set(task_metrics("regression")) == set()
    with pytest.raises(MetricError, match="metrics: auc measures classification, and this experiment's task is "
                                          "regression; allowed: mae, mse, rmse, mape, msle, r2"):
        check_metric_names(["auc"], "regression")
    with pytest.raises(MetricError, match=r"metrics: unknown metric 'rsme' for task regression; .* \(did you mean "
                                          r"'rmse'\?\)"):
        check_metric_names(["rsme"], "regression")
    with pytest.raises(MetricError, match="write mae: trials report it with and without val_"):
        check_metric_names(["val_mae"], "regression")
    with pytest.raises(MetricError, match="metrics: expected a list of metric names"):
        check_metric_names("auc", "classification")


def test_the_task_default_comes_first_and_trials_report_each_name_with_and_without_val():
    assert compiled_names(["auc", "accuracy"], "classification") == ("accuracy", "auc")
    assert compiled_names(["rmse"], "regression") == ("mae", "rmse")
    assert reported_names(("mae", "rmse")) == ("loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse")
    assert DEFAULT_METRICS.keys() == set(TASKS)


def test_the_objective_must_be_reported_and_have_a_direction():
    reported = reported_names(("accuracy",))
    assert check_objective("val_accuracy", None, reported, "classification") == "max"
    assert check_objective("val_loss", None, reported, "classification") == "min"
    assert check_objective("val_loss", "min", reported, "classification") == "min"
    with pytest.raises(MetricError, match=r"trials never report 'val_acc'; they report loss, accuracy, val_loss, "
                                          r"val_accuracy \(did you mean"):
        check_objective("val_acc", "max", reported, "classification")
    with pytest.raises(MetricError, match=r"never report 'val_auc'.*; add `metrics: \[auc\]` to report it"):
        check_objective("val_auc", None, reported, "classification")
    custom = reported_names(("my_mae",))
    assert check_objective("val_my_mae", "min", custom, "regression") == "min"
    with pytest.raises(MetricError, match="mode: required for metric val_my_mae"):
        check_objective("val_my_mae", None, custom, "regression")


@pytest.mark.parametrize("name", list(METRICS))
def test_every_name_builds_a_keras_metric_reporting_under_that_name(name):
    classes = METRICS[name].task == "classification"
    metric, = compile_metrics([name], METRICS[name].task, 3 if classes else 0)[-1:]
    y = (keras.utils.to_categorical([0, 1, 2, 1], 3) if classes else np.array([[1.0], [2.0], [3.0], [4.0]])
         ).astype("float32")
    predicted = np.full_like(y, 1 / 3) if classes else y + 0.5
    metric.update_state(y, predicted)
    assert metric.name == name and np.isfinite(float(metric.result()))


def test_precision_and_recall_of_two_classes_are_those_of_class_one():
    precision, recall = compile_metrics(["precision", "recall"], "classification", 2)[1:]
    y = keras.utils.to_categorical([1, 1, 0, 0], 2)
    predicted = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1]], "float32")  # class 1 twice, one right
    for metric in (precision, recall):
        metric.update_state(y, predicted)
    assert float(precision.result()) == pytest.approx(0.5) and float(recall.result()) == pytest.approx(0.5)


@pytest.mark.parametrize("spread", [0.5, 3.0, 8.0])  # from hesitant to confident (log-odds beyond ±16)
def test_auc_of_two_one_hot_classes_is_the_binary_auc_scikit_learn_computes(spread):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    log_odds = spread * (labels - 0.5 + rng.normal(0, 1, 300))
    positive = (1 / (1 + np.exp(-log_odds))).astype("float32")
    auc, = compile_metrics(["auc"], "classification", 2)[1:]
    auc.update_state(keras.utils.to_categorical(labels, 2), np.stack([1 - positive, positive], axis=1))
    assert float(auc.result()) == pytest.approx(roc_auc_score(labels, positive), abs=1e-3)
