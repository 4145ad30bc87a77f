"""Convolutional network: conv depth, filters per layer, kernel size, stride, padding, dense head.

Ranges keep every combination valid on 8x8 digits: two 3x3 'valid' convolutions of stride 2
still leave a 1x1 map.
"""
from __future__ import annotations

from tunelab.searchspaces.catalog.common import TASK_LOSSES, learning
from tunelab.searchspaces.params import Choice, Int
from tunelab.searchspaces.space import Space, per_layer

MAX_CONV_LAYERS = 2

SPACES = {  # one per task: the learning hyperparameters' losses are the task's
    task: Space(
        {
            "num_conv_layers": Int(1, MAX_CONV_LAYERS),
            **per_layer(
                Int(8, 64, log=True, grid=[16, 32]), count="num_conv_layers", max_count=MAX_CONV_LAYERS,
                prefix="filters",
            ),
            "kernel_size": Choice([2, 3]),
            "stride": Choice([1, 2]),
            "padding": Choice(["same", "valid"]),
            "activation": Choice(["relu", "tanh", "elu", "gelu"]),
            "dense_units": Int(16, 128, log=True, grid=[32, 64]),
            **learning(task),
        }
    )
    for task in TASK_LOSSES
}
SPACE = SPACES["classification"]
