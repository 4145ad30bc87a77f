"""PBT's explore step on a tunelab Space: values near the donor's, never outside the space.

Ray's own explore multiplies every continuous value by 0.8 or 1.2 and knows no bounds; a trial
could then train with a learning rate the space never allows, or a dropout of 1. Here each value
moves within its parameter: a log-scaled one by x0.8 or x1.2 (PBT's factors), a linear one by 20%
of its range either way (a factor cannot move a value off zero), or it is resampled from the
space; then it is clipped to the bounds and put on the step, if the parameter has one.
"""
from __future__ import annotations

import random
from typing import Any, Iterable, Mapping

from tunelab.searchspaces import Float, Space

FACTORS = (0.8, 1.2)
LINEAR_SHIFT = 0.2  # of the parameter's range


def explore(
    config: Mapping[str, Any],
    space: Space,
    names: Iterable[str],
    rng: random.Random,
    resample_probability: float,
    kept_at_zero: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """The donor's `config` with each of `names` it holds explored, and how each moved ("*1.2", "+0.1",
    "resample", "kept at 0"); names inactive in the donor's config are left out.

    A name of `kept_at_zero` at 0 stays 0: the donor's model has nothing that could take another
    value (a model built without dropout has no Dropout layer).
    """
    new = dict(config)
    moves: dict[str, str] = {}
    for name in names:
        if name not in config:
            continue
        param, old = space[name], config[name]
        if not isinstance(param, Float):
            raise TypeError(f"{name}: PBT explores float parameters only, not {param.describe()}")
        if name in kept_at_zero and old == 0:
            moves[name] = "kept at 0"
            continue
        if rng.random() < resample_probability:
            value, moves[name] = param.sample(rng), "resample"
        elif param.log:
            factor = rng.choice(FACTORS)
            value, moves[name] = old * factor, f"*{factor:g}"
        else:
            shift = rng.choice((-1, 1)) * LINEAR_SHIFT * (param.high - param.low)
            value, moves[name] = old + shift, f"{shift:+.4g}"
        new[name] = within(param, value)
    return new, moves


def within(param: Float, value: float) -> float:
    """`value` clipped to the parameter's bounds and, with a step, moved to the nearest step point."""
    value = min(param.high, max(param.low, float(value)))
    if param.step is None:
        return value
    steps = round((value - param.low) / param.step)
    return min(param.high, max(param.low, round(param.low + steps * param.step, 12)))
