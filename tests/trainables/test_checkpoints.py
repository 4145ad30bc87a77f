"""The one load policy of a checkpoint: rebuilt by the trial's builder with the saved weights and optimizer
state, or, where the rebuilt model cannot take them, the saved model itself (never a blank optimizer)."""
from __future__ import annotations

import numpy as np

from tunelab.trainables.checkpoints import load_model


def trained(tmp_path, optimizer: str):
    import keras

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    x, y = np.random.default_rng(0).random((16, 4)), keras.utils.to_categorical(np.arange(16) % 3, 3)
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    return model, path


def build(optimizer: str):
    import keras

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    return model


def test_a_rebuilt_model_gets_the_saved_weights_and_optimizer_state(tmp_path):
    saved, path = trained(tmp_path, "adam")
    loaded = load_model(path, lambda: build("adam"))
    assert int(loaded.optimizer.iterations) == int(saved.optimizer.iterations) > 0
    np.testing.assert_allclose(loaded.get_weights()[0], saved.get_weights()[0])


def test_a_builder_whose_optimizer_differs_falls_back_to_the_saved_model_not_a_blank_optimizer(tmp_path):
    """Keras only warns when it skips the optimizer's variables: the restore must not go on without them."""
    saved, path = trained(tmp_path, "adam")
    loaded = load_model(path, lambda: build("sgd"))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert int(loaded.optimizer.iterations) == int(saved.optimizer.iterations) > 0
