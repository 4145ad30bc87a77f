"""The objective: its direction inferred from the name as KerasTuner infers it, and a name the model
does not report refused before Ray starts, with the names it does report."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tunelab.keras_tuner as kt
from tests.keras_tuner.kt_scripts import breast_cancer, build_binary
from tunelab.keras_tuner.data import prepare_fit_data
from tunelab.keras_tuner.objective import infer_direction
from tunelab.keras_tuner.reported import check_objective

keras_tuner = pytest.importorskip("keras_tuner")

# The names Keras gives its metrics and losses (and the aliases users type), each tried with val_.
COMMON = [
    "loss", "acc", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
    "true_positives", "true_negatives", "false_positives", "false_negatives", "mae", "mse", "mape", "msle",
    "mean_absolute_error", "mean_squared_error", "root_mean_squared_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "binary_focal_crossentropy", "crossentropy", "ce", "hinge",
    "squared_hinge", "categorical_hinge", "kl_divergence", "poisson", "log_cosh_error", "weighted_accuracy",
]
# Where tunelab answers otherwise, and why: KerasTuner minimizes every Keras metric outside its short
# list of scores (R², F1, correlations, cosine similarity, binary IoU are scores), cannot tell others.
DIFFERENT = {
    "r2_score": ("min", "max"), "f1_score": ("min", "max"), "cosine_similarity": ("min", "max"),
    "pearson_correlation": ("min", "max"), "concordance_correlation": ("min", "max"), "binary_io_u": ("min", "max"),
    "fbeta_score": (None, "max"), "prc": (None, "max"), "auc_1": (None, "max"), "rmse": (None, "min"),
    "kld": (None, "min"), "logcosh": (None, "min"), "mean": ("min", None), "sum": ("min", None),
}


def keras_tuners_direction(name: str) -> str | None:
    from keras_tuner.src.engine.metrics_tracking import infer_metric_direction

    return infer_metric_direction(name)


@pytest.mark.parametrize("name", [*COMMON, *(f"val_{name}" for name in COMMON)])
def test_the_direction_of_a_common_metric_is_keras_tuners(name):
    assert infer_direction(name) == keras_tuners_direction(name) is not None


@pytest.mark.parametrize("name", sorted(DIFFERENT))
def test_where_the_direction_differs_from_keras_tuners_it_is_on_purpose(name):
    theirs, ours = DIFFERENT[name]
    assert (keras_tuners_direction(name), infer_direction(name)) == (theirs, ours)
    assert infer_direction(f"val_{name}") == ours


def test_a_string_objective_gets_the_inferred_direction_and_an_unknown_one_needs_it():
    assert kt.Objective("val_auc", "max") == kt.tuners.RandomSearch(
        build_binary, objective="val_auc", directory="unused").objective
    with pytest.raises(ValueError, match=r'unknown metric "val_gini".* Objective\("val_gini", direction="min"\)'):
        kt.RandomSearch(build_binary, objective="val_gini", directory="unused")


# --- checked against what the model reports, before Ray ------------------------------------------


@pytest.fixture(scope="module")
def data():
    return breast_cancer()


@pytest.mark.parametrize("objective, form, message", [
    ("val_acu", "validation_split", r"objective 'val_acu' is not a metric the model reports \(it reports auc, loss, "
                                    r"val_auc, val_loss\) \(did you mean 'val_auc'\?\)$"),
    ("val_auc", "no validation", r"objective 'val_auc' is not a metric the model reports \(it reports auc, loss\).*"
                                 r"; val_ metrics need validation_data= or validation_split= given to search\(\)$"),
    ("val_accuracy", "datasets", r"objective 'val_accuracy' is not a metric the model reports \(it reports auc, "
                                 r"loss, val_auc, val_loss\)"),
])
def test_an_objective_the_model_does_not_report_is_refused_before_ray(tmp_path, data, objective, form, message):
    x, y, x_val, y_val = data
    tuner = kt.RandomSearch(build_binary, objective=kt.Objective(objective, "max"), directory=tmp_path / "out")
    args, kwargs = {
        "validation_split": ((x, y), {"validation_split": 0.2}),
        "no validation": ((x, y), {}),
        "datasets": ((tf.data.Dataset.from_tensor_slices((x, y)).batch(32),),
                     {"validation_data": tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(64)}),
    }[form]
    with pytest.raises(ValueError, match=message):
        tuner.search(*args, epochs=1, **kwargs)
    assert not (tmp_path / "out").exists()  # nothing written


def test_no_objective_with_keras_fit_is_refused_before_ray(tmp_path, data):
    x, y, x_val, y_val = data
    tuner = kt.RandomSearch(build_binary, directory=tmp_path / "out")  # KerasTuner fails after the first trial
    with pytest.raises(ValueError, match=r"objective: none given, .* name one of the metrics the model reports: "
                                         r"auc, loss, val_auc, val_loss$"):
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=1)


class Gini(keras.metrics.AUC):
    """A metric of the user's own, with its own name: 2 AUC - 1."""

    def __init__(self, **kwargs):
        super().__init__(name="gini", **kwargs)

    def result(self):
        return 2 * super().result() - 1


def build_with_gini(hp):
    model = build_binary(hp)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[Gini(), "accuracy"])
    return model


def test_a_custom_metric_name_is_found_and_a_callback_of_the_users_own_skips_the_check(data):
    x, y, x_val, y_val = data
    fit = prepare_fit_data((x, y), {"validation_data": (x_val, y_val)}, max_bytes=1)
    hp = kt.HyperParameters()
    check_objective("val_gini", lambda: build_with_gini(hp), fit, callbacks=[])
    with pytest.raises(ValueError, match=r"it reports accuracy, gini, loss, val_accuracy, val_gini, val_loss\)"
                                         r" \(did you mean 'val_gini'\?\)"):
        check_objective("val_gin", lambda: build_with_gini(hp), fit, callbacks=[])
    check_objective("learning_rate", lambda: build_with_gini(hp), fit,
                    callbacks=[keras.callbacks.ReduceLROnPlateau()])  # Keras' callback adds it to the logs

    class AddsItsOwn(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_custom"] = 1.0

    check_objective("val_custom", lambda: build_with_gini(hp), fit, callbacks=[AddsItsOwn()])


def test_a_model_that_cannot_be_evaluated_here_is_left_to_the_trials(data, caplog):
    x, y, _, _ = data
    fit = prepare_fit_data((x, np.zeros((len(y), 5))), {}, max_bytes=1)  # labels of the wrong shape
    check_objective("val_auc", lambda: build_binary(kt.HyperParameters()), fit, callbacks=[])
    assert "objective 'val_auc' not checked before the search" in caplog.text
