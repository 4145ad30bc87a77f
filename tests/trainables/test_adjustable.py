"""What PBT changes on a restored model: set in place, weights and optimizer state untouched."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from tunelab.trainables import build_model, compile_model
from tunelab.trainables.adjustable import apply_adjustable

CONFIG = {"num_layers": 2, "units_1": 16, "units_2": 8, "optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.5,
          "dropout": 0.2, "regularization": "l1_l2", "regularization_strength": 1e-3}
CHANGED = {"learning_rate": 0.05, "momentum": 0.9, "dropout": 0.4, "regularization_strength": 2e-3}


def restored(tmp_path, config: dict, family: str = "mlp") -> keras.Model:
    """A model trained one step, saved and loaded back as a trial restores it."""
    model = build_model(config, (8, 8, 1), 10, family)
    compile_model(model, config, steps_per_epoch=1, epochs=2)
    rng = np.random.default_rng(0)
    model.fit(rng.random((16, 8, 8, 1), dtype="float32"), keras.utils.to_categorical(rng.integers(0, 10, 16), 10),
              epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    return keras.models.load_model(tmp_path / "model.keras", compile=True)


def dropout_rates(model: keras.Model) -> set[float]:
    return {layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)}


def test_a_restored_model_takes_on_the_new_values_and_keeps_its_weights_and_optimizer_state(tmp_path):
    model = restored(tmp_path, CONFIG)
    weights, steps = [w.numpy() for w in model.weights], int(model.optimizer.iterations)
    penalty = float(sum(model.losses))

    apply_adjustable(model, {**CONFIG, **CHANGED}, "mlp")

    assert float(model.optimizer.learning_rate) == pytest.approx(0.05) and model.optimizer.momentum == 0.9
    assert dropout_rates(model) == {0.4}
    assert float(sum(model.losses)) == pytest.approx(2 * penalty)  # l1 and l2 factors doubled
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(weights, model.weights))
    assert int(model.optimizer.iterations) == steps == 1


def test_dropout_set_to_zero_survives_a_save_and_a_reload(tmp_path):
    """The way down is open; the way up from 0 is not (explore keeps a donor's 0: KEPT_AT_ZERO)."""
    model = restored(tmp_path, CONFIG)
    apply_adjustable(model, {**CONFIG, "dropout": 0.0}, "mlp")
    assert dropout_rates(model) == {0.0}
    model.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras", compile=True)
    assert dropout_rates(again) == {0.0}
    again.fit(np.zeros((4, 8, 8, 1), "float32"), keras.utils.to_categorical([0, 1, 2, 3], 10), verbose=0)


def test_a_decaying_schedule_and_a_users_own_layers_are_left_alone(tmp_path):
    model = restored(tmp_path, {**CONFIG, "lr_schedule": "cosine"})
    apply_adjustable(model, {**CONFIG, **CHANGED, "lr_schedule": "cosine"}, "pkg.module:build")
    assert model.optimizer.momentum == 0.9  # the optimizer is tunelab's, whatever builds the model
    assert float(model.optimizer.learning_rate) < 0.01  # the schedule's own value after a step
    assert dropout_rates(model) == {0.2}


def test_a_users_compiled_model_takes_the_rate_its_function_gives_the_new_config(tmp_path):
    """The checkpoint's optimizer state holds the rate the donor trained with; the user's function chose
    another for the perturbed config, and that one must train on."""
    from tests.trainables.compiled_model import regressor
    from tunelab.trainables.adjustable import optimizer_values, set_optimizer_values

    donor = regressor({"learning_rate": 0.02}, (3,), 1)
    donor.fit(np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32"), verbose=0)
    donor.save(tmp_path / "model.keras")
    fresh = regressor({"learning_rate": 0.005}, (3,), 1)
    chosen = optimizer_values(fresh)
    fresh.optimizer.build(fresh.trainable_variables)
    fresh.load_weights(tmp_path / "model.keras")
    assert float(fresh.optimizer.learning_rate) == pytest.approx(0.02)  # the saved state won

    set_optimizer_values(fresh, chosen)

    assert chosen == {"learning_rate": pytest.approx(0.005)}
    assert float(fresh.optimizer.learning_rate) == pytest.approx(0.005)
    assert int(fresh.optimizer.iterations) == 1
