"""tunelab's search-space language: typed, validated hyperparameters with conditions."""
from __future__ import annotations

from tunelab.searchspaces.load import fix_params, load_space
from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, OneOf, Param, SpaceError
from tunelab.searchspaces.space import Config, Space, per_layer

__all__ = [
    "Above", "Bool", "Choice", "Config", "Fixed", "Float", "Int", "OneOf", "Param", "Space",
    "SpaceError", "fix_params", "load_space", "per_layer",
]
