"""Model functions that trials name as `tests.experiments.helpers:NAME`."""
from __future__ import annotations


def broken_model(config, input_shape, num_classes):
    raise RuntimeError(f"broken model for units_1={config.get('units_1')}")
