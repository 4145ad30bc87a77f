"""RunSettings refuses bad values when built, in the driver, before any trial starts."""

from __future__ import annotations

import pytest

from tunelab.trainables import RunSettings


@pytest.mark.parametrize("model", ["mlp", "cnn", "my_package.models:build"])
def test_accepted_models(model):
    assert RunSettings(model=model, epochs=1).model == model


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"model": "transformer"}, "model must be one of mlp, cnn or 'package.module:function'"),
        ({"model": "my_package.models:"}, "model must be one of"),
        ({"epochs": 0}, "epochs must be an integer >= 1; got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1; got 2.5"),
        ({"checkpoint_every": 0}, "checkpoint_every must be an integer >= 1"),
        ({"cpus": 0}, "cpus must be > 0; got 0"),
        ({"gpus": -1}, "gpus must be >= 0; got -1"),
    ],
)
def test_bad_values_name_the_field(changes, expected):
    with pytest.raises(ValueError, match=expected):
        RunSettings(**{"model": "mlp", "epochs": 1, **changes})
