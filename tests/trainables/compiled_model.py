"""User model functions that compile their own models, referenced by import path as an experiment would."""
from __future__ import annotations

from typing import Any, Mapping


def regressor(config: Mapping[str, Any], input_shape: tuple[int, ...], num_outputs: int):
    """A regression model compiled with the user's own loss, optimizer and custom-named metric `my_mae`.

    The learning rate and the loss come from the config, as the user's own reading of tunelab's names.
    """
    import keras

    model = keras.Sequential([
        keras.Input(shape=input_shape),
        keras.layers.Dense(config.get("units", 32), activation="relu"),
        keras.layers.Dense(num_outputs),
    ])
    model.compile(optimizer=keras.optimizers.Adam(config.get("learning_rate", 0.01)), loss=config.get("loss", "mse"),
                  metrics=[keras.metrics.MeanAbsoluteError(name="my_mae")])
    return model


def fixed_optimizer(config: Mapping[str, Any], input_shape: tuple[int, ...], num_outputs: int):
    """A compiled model whose optimizer is always Adam at 0.01, whatever the config says."""
    import keras

    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(), keras.layers.Dense(num_outputs)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def chosen_optimizer(config: Mapping[str, Any], input_shape: tuple[int, ...], num_outputs: int):
    """A compiled model whose optimizer the config chooses; momentum is read for sgd only, as Adam has none."""
    import keras

    rate = config.get("learning_rate", 0.01)
    optimizer = (keras.optimizers.SGD(rate, momentum=config.get("momentum", 0.0)) if config.get("optimizer") == "sgd"
                 else keras.optimizers.Adam(rate))
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(), keras.layers.Dense(num_outputs)])
    model.compile(optimizer=optimizer, loss="mse")
    return model
