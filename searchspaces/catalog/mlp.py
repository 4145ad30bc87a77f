"""Multilayer perceptron: depth, width of each layer, activation, plus every learning hyperparameter."""
from __future__ import annotations

from tunelab.searchspaces.catalog.common import TASK_LOSSES, learning
from tunelab.searchspaces.params import Choice, Int
from tunelab.searchspaces.space import Space, per_layer

MAX_LAYERS = 3

SPACES = {  # one per task: the learning hyperparameters' losses are the task's
    task: Space(
        {
            "num_layers": Int(1, MAX_LAYERS),
            **per_layer(
                Int(16, 256, log=True, grid=[32, 128]), count="num_layers", max_count=MAX_LAYERS, prefix="units"
            ),
            "activation": Choice(["relu", "tanh", "elu", "gelu"]),
            **learning(task),
        }
    )
    for task in TASK_LOSSES
}
SPACE = SPACES["classification"]
