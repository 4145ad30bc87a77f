"""The one Objective every comparison of scores goes through: direction, NaN and None, ties.

Each case holds for both modes, so a comparison written the wrong way round in one of them fails
here rather than in a ranking that is quietly upside down.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from tunelab.core.objective import Objective, default_mode

NAN = float("nan")
MAX, MIN = Objective("val_accuracy", "max"), Objective("val_loss", "min")


@pytest.mark.parametrize("mode", ["maximize", "MAX", "", None, "asc"])
def test_only_max_and_min_are_modes(mode):
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        Objective("val_accuracy", mode)


def test_is_frozen_and_compares_by_value():
    assert Objective("loss", "min") == Objective("loss", "min") != Objective("loss", "max")
    with pytest.raises(AttributeError):
        MAX.mode = "min"


def test_better_goes_the_mode_s_way():
    assert MAX.better(0.9, 0.8) and not MAX.better(0.8, 0.9)
    assert MIN.better(0.8, 0.9) and not MIN.better(0.9, 0.8)
    assert MAX.better(-1, -2) and MIN.better(-2, -1)
    assert MAX.better(math.inf, 1e308) and MIN.better(-math.inf, -1e308)


@pytest.mark.parametrize("objective", [MAX, MIN])
def test_better_is_strict_a_tie_is_not_better(objective):
    assert not objective.better(0.5, 0.5)
    assert not objective.better(0.0, -0.0) and not objective.better(-0.0, 0.0)
    assert not objective.better(1, 1.0)


@pytest.mark.parametrize("objective", [MAX, MIN])
def test_a_missing_score_is_never_better_and_anything_beats_it(objective):
    for missing in (None, NAN, np.float64("nan"), np.float32("nan")):
        assert not objective.better(missing, 0.5)
        assert not objective.better(missing, None) and not objective.better(missing, NAN)
        assert objective.better(0.5, missing)
        assert objective.better(-1e9, missing) and objective.better(1e9, missing)


def test_best_picks_by_mode_leaving_out_missing_values():
    values = [0.3, NAN, 0.9, None, 0.1, np.float64(0.5)]
    assert MAX.best(values) == 0.9
    assert MIN.best(values) == 0.1
    assert MAX.best([NAN, -5.0, None]) == -5.0 == MIN.best([None, -5.0, NAN])


@pytest.mark.parametrize("objective", [MAX, MIN])
def test_best_of_nothing_is_none(objective):
    assert objective.best([]) is None
    assert objective.best([None, NAN]) is None
    assert objective.best(iter(())) is None


@pytest.mark.parametrize("objective", [MAX, MIN])
def test_best_takes_the_first_of_equals(objective):
    first, second = {"final": 0.7}, {"final": 0.7}
    picked = objective.best([{"final": NAN}, first, second], key=lambda item: item["final"])
    assert picked is first


def test_best_with_a_key_goes_the_mode_s_way():
    items = [("a", 0.2), ("b", NAN), ("c", 0.8), ("d", None)]
    assert MAX.best(items, key=lambda item: item[1]) == ("c", 0.8)
    assert MIN.best(items, key=lambda item: item[1]) == ("a", 0.2)
    assert MAX.best(items[1::2], key=lambda item: item[1]) is None


def test_best_reads_a_pandas_column_as_its_max_or_min():
    pd = pytest.importorskip("pandas")
    column = pd.Series([0.4, np.nan, 0.2, 0.6])
    assert MAX.best(column) == column.max() and MIN.best(column) == column.min()


@pytest.mark.parametrize("objective, best_first", [
    (MAX, [0.9, 0.5, 0.5, -1.0, None, NAN]),
    (MIN, [-1.0, 0.5, 0.5, 0.9, None, NAN]),
])
def test_sort_key_puts_the_best_first_and_missing_last_keeping_ties_in_order(objective, best_first):
    values = [0.5, None, 0.9, NAN, -1.0, 0.5]
    ranked = sorted(values, key=objective.sort_key)
    assert ranked[:4] == best_first[:4] and ranked[4] is None and math.isnan(ranked[5])
    tied = sorted(range(len(values)), key=lambda i: objective.sort_key(values[i]))
    assert tied.index(0) < tied.index(5)  # the two 0.5s keep their order


def test_ascending_is_the_order_that_puts_the_best_first():
    assert MIN.ascending and not MAX.ascending
    for objective in (MAX, MIN):
        values = [0.5, 0.9, 0.1]
        assert sorted(values, reverse=not objective.ascending)[0] == objective.best(values)


def test_keras_tuner_objective_compares_through_the_core_one():
    from tunelab.keras_tuner.objective import Objective as KerasTunerObjective

    accuracy, loss = KerasTunerObjective("val_accuracy", "max"), KerasTunerObjective("val_loss", "min")
    assert accuracy.core == Objective("val_accuracy", "max") and loss.core == Objective("val_loss", "min")
    assert accuracy.better_than(0.9, 0.8) and not accuracy.better_than(0.8, 0.9)
    assert loss.better_than(0.8, 0.9) and not loss.better_than(0.9, 0.8)
    assert not accuracy.better_than(0.5, 0.5) and not loss.better_than(NAN, 0.5)


def test_imports_neither_ray_tensorflow_nor_pandas():
    """The trainable inside a worker and every layer import it: it must stay pure Python."""
    code = ("import sys, tunelab.core.objective; "
            "print(sorted(m for m in ('ray', 'tensorflow', 'keras', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("metric, mode", [
    ("loss", "min"), ("val_loss", "min"), ("val_mae", "min"), ("rmse", "min"), ("val_mean_absolute_error", "min"),
    ("val_categorical_crossentropy", "min"), ("val_kl_divergence", "min"), ("val_my_loss", "min"),
    ("accuracy", "max"), ("val_accuracy", "max"), ("val_auc", "max"), ("val_pr_auc", "max"),
    ("val_precision", "max"), ("recall", "max"), ("val_r2", "max"), ("val_top_k_categorical_accuracy", "max"),
    ("val_my_mae", None), ("val_score", None), ("val_", None), ("losses_seen", None),
])
def test_default_mode_knows_losses_and_scores_and_nothing_else(metric, mode):
    assert default_mode(metric) == mode


def test_every_metric_tunelab_compiles_has_a_known_direction_with_and_without_val():
    from tunelab.trainables.metrics import METRICS

    for name in ("loss", *METRICS):
        assert default_mode(name) is not None and default_mode(f"val_{name}") == default_mode(name), name
