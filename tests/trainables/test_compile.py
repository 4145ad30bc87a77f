"""Each optimizer, schedule and loss compiles and trains a step; schedules span the whole run."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tunelab.trainables import build_model, compile_model
from tunelab.trainables.compile import LOSSES, learning_params

LEARNING_DEFAULTS = {item.name: item.default for item in learning_params()}

schedules = keras.optimizers.schedules


def _compiled(config: dict, *, steps_per_epoch: int = 10, epochs: int = 4) -> keras.Model:
    model = build_model({"num_layers": 1, "units_1": 4}, (8, 8, 1), 10, "mlp")
    compile_model(model, config, steps_per_epoch=steps_per_epoch, epochs=epochs)
    return model


def _train_one_batch(model: keras.Model, digits) -> None:
    x, y = digits.x_train[:16], keras.utils.to_categorical(digits.y_train[:16], 10)
    assert np.isfinite(model.train_on_batch(x, y, return_dict=True)["loss"])


@pytest.mark.parametrize(
    "optimizer, expected",
    [
        ("adam", keras.optimizers.Adam),
        ("sgd", keras.optimizers.SGD),
        ("rmsprop", keras.optimizers.RMSprop),
    ],
)
def test_optimizers(digits, optimizer, expected):
    model = _compiled({"optimizer": optimizer, "learning_rate": 0.05, "momentum": 0.5})

    assert type(model.optimizer) is expected
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    if optimizer != "adam":
        assert model.optimizer.momentum == 0.5
    _train_one_batch(model, digits)
    assert int(model.optimizer.iterations) == 1


def test_defaults_are_adam_constant_rate_and_crossentropy(digits):
    model = _compiled({})

    assert type(model.optimizer) is keras.optimizers.Adam
    assert float(model.optimizer.learning_rate) == pytest.approx(LEARNING_DEFAULTS["learning_rate"])
    assert model.loss == "categorical_crossentropy"
    _train_one_batch(model, digits)


@pytest.mark.parametrize(
    "kind, expected, rate_at_end",
    [
        ("exponential", schedules.ExponentialDecay, 0.01),
        ("cosine", schedules.CosineDecay, 0.0),
        ("step", schedules.PiecewiseConstantDecay, 0.025),
    ],
)
def test_schedules_decay_over_the_whole_run(digits, kind, expected, rate_at_end):
    model = _compiled({"lr_schedule": kind, "learning_rate": 0.1}, steps_per_epoch=10, epochs=4)

    # Read back from the optimizer's config, as a reloaded checkpoint would.
    schedule = schedules.deserialize(model.optimizer.get_config()["learning_rate"])
    assert type(schedule) is expected
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(40)) == pytest.approx(rate_at_end, abs=1e-7)
    _train_one_batch(model, digits)


def test_step_schedule_halves_at_half_and_three_quarters_of_the_run():
    optimizer = _compiled({"lr_schedule": "step", "learning_rate": 0.1}).optimizer
    schedule = schedules.deserialize(optimizer.get_config()["learning_rate"])
    rates = [float(schedule(step)) for step in (20, 21, 30, 31)]
    assert rates == pytest.approx([0.1, 0.05, 0.05, 0.025])


@pytest.mark.parametrize("loss", LOSSES["classification"])
def test_losses(digits, loss):
    model = _compiled({"loss": loss})
    assert model.loss == loss
    _train_one_batch(model, digits)


@pytest.mark.parametrize("loss", LOSSES["regression"])
def test_regression_losses_train_a_linear_head_on_numbers(loss):
    model = build_model({"num_layers": 1, "units_1": 4}, (3,), 2, "mlp", task="regression")
    compile_model(model, {"loss": loss}, steps_per_epoch=1, epochs=1, task="regression", metrics=["rmse", "r2"])
    assert model.loss == loss and model.get_layer("output").get_config()["activation"] == "linear"
    x, y = np.random.default_rng(0).random((8, 3), dtype="float32"), np.full((8, 2), 100.0, "float32")
    scores = model.train_on_batch(x, y, return_dict=True)
    assert set(scores) == {"loss", "mae", "rmse", "r2"} and scores["mae"] > 90  # in the targets' units


def test_regression_defaults_to_mse_and_refuses_a_classification_loss():
    model = build_model({}, (3,), 1, "mlp", task="regression")
    compile_model(model, {}, steps_per_epoch=1, epochs=1, task="regression")
    assert model.loss == "mse"
    with pytest.raises(ValueError, match="loss must be one of mse, mae, huber under task: regression; got 'catego"):
        compile_model(model, {"loss": "categorical_crossentropy"}, steps_per_epoch=1, epochs=1, task="regression")


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"optimizer": "adagrad"}, "optimizer must be one of adam, sgd, rmsprop; got 'adagrad'"),
        ({"learning_rate": 0}, "learning_rate must be a number > 0; got 0"),
        ({"lr_schedule": "linear"}, "lr_schedule must be one of constant, exponential, cosine"),
        ({"loss": "mae"}, "loss must be one of categorical_crossentropy, "),
        ({"optimizer": "sgd", "momentum": 1.0}, "momentum must be a number >= 0 and < 1"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(config, expected):
    with pytest.raises(ValueError, match=expected):
        _compiled(config)


def test_the_run_length_must_be_positive():
    with pytest.raises(ValueError, match="steps_per_epoch and epochs must be >= 1; got 0 and 3"):
        _compiled({}, steps_per_epoch=0, epochs=3)
