"""Resolves the `space:` of an experiment: a catalog name, a module exporting SPACE, or inline YAML."""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Mapping

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.core.user_code import import_file, import_module
from tunelab.searchspaces.catalog import CATALOG
from tunelab.searchspaces.inline import space_from_dict
from tunelab.searchspaces.params import Fixed, OneOf, SpaceError
from tunelab.searchspaces.space import Space


def load_space(ref: str | Mapping[str, Any], where: str = "space", task: str = "classification") -> Space:
    """`cnn`, `mypackage.spaces`, `path/to/spaces.py` or an inline mapping -> Space.

    A catalog space is the one built for `task` (its losses are the task's).
    """
    if isinstance(ref, Mapping):
        return space_from_dict(ref, where)
    if not isinstance(ref, str) or not ref:
        raise SpaceError(f"{where}: must be a catalog name ({', '.join(CATALOG)}), a module or an inline mapping")
    if ref in CATALOG:
        return importlib.import_module(f"tunelab.searchspaces.catalog.{ref}").SPACES[task]
    if ref.endswith(".py"):
        path = Path(ref)
        if not path.is_file():
            raise SpaceError(f"{where}: file {ref} does not exist")
        return _space_of(import_file(path, where, SpaceError), ref, where)
    if "." not in ref:
        raise SpaceError(
            f"{where}: {shown(ref)} is not a catalog space ({', '.join(CATALOG)}){did_you_mean(ref, CATALOG)}; "
            "a module path (pkg.module) or a .py file also works"
        )
    return _space_of(import_module(ref, where, SpaceError), ref, where)


def _space_of(module: Any, ref: str, where: str) -> Space:
    space = getattr(module, "SPACE", None)
    if not isinstance(space, Space):
        raise SpaceError(f"{where}: {ref} must export SPACE, a tunelab.searchspaces.Space")
    return space


def fix_params(space: Space, values: Mapping[str, Any], where: str = "fix") -> Space:
    """The same space with some parameters pinned: a smaller grid, or a baseline to tweak around.

    Parameters that can no longer become active (momentum once optimizer is pinned to adam)
    are dropped, so a grid does not carry them.
    """
    for name, value in values.items():
        if name not in space:
            raise SpaceError(f"{where}.{name}: not a parameter of the space{did_you_mean(name, space)}")
        if not space[name].contains(value):
            raise SpaceError(f"{where}.{name}: {shown(value)} is outside {space[name].describe()}")
    params: dict[str, Any] = {}
    for name, param in space.items():
        if not all(_can_hold(params.get(parent), rule) for parent, rule in param.conditions):
            if name in values:
                raise SpaceError(f"{where}.{name}: pinned, but its condition can never hold with the other pins")
            continue
        # A pinned parent narrows `optimizer in sgd, rmsprop` to `optimizer = sgd`.
        when = {
            parent: OneOf((params[parent].value,)) if isinstance(params[parent], Fixed) and isinstance(rule, OneOf)
            else rule
            for parent, rule in param.conditions
        }
        if name in values:
            params[name] = Fixed(values[name], when=when)
        else:
            params[name] = dataclasses.replace(param, when=when) if param.conditions else param
    return Space(params)


def _can_hold(parent: Any, rule: Any) -> bool:
    if parent is None:
        return False
    return not isinstance(parent, Fixed) or rule.holds(parent.value)
