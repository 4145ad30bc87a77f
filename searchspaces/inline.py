"""A search space written in YAML: each entry is a scalar (fixed) or a mapping with a `type`.

    space:
      optimizer: {type: choice, values: [adam, sgd]}
      momentum: {type: float, low: 0.0, high: 0.95, when: {optimizer: sgd}}
      num_layers: {type: int, low: 1, high: 3}
      units: {type: int, low: 16, high: 256, log: true, per_layer: num_layers}
      learning_rate: {type: float, low: 1e-4, high: 0.1, log: true}

`per_layer: COUNT` expands to units_1 .. units_N (N = COUNT's high), layer k active while
COUNT > k - 1. Errors name the offending key path, e.g. `space.units.low`.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, Param, SpaceError
from tunelab.searchspaces.space import Space, per_layer

_FIELDS = {
    "int": ("low", "high", "step", "log", "grid"),
    "float": ("low", "high", "step", "log", "grid"),
    "choice": ("values",),
    "bool": (),
    "fixed": ("value",),
}
_REQUIRED = {"int": ("low", "high"), "float": ("low", "high"), "choice": ("values",), "fixed": ("value",)}
_COMMON = ("type", "when", "per_layer")
_TYPES = {"int": Int, "float": Float, "choice": Choice, "bool": Bool, "fixed": Fixed}


def space_from_dict(entries: Mapping[str, Any], where: str = "space") -> Space:
    """Builds a Space from the YAML form above; raises SpaceError naming `where.name.key`."""
    if not isinstance(entries, Mapping) or not entries:
        raise SpaceError(f"{where}: must be a mapping of parameter name to definition, got {shown(entries)}")
    params: dict[str, Param] = {}
    for name, entry in entries.items():
        path = f"{where}.{name}"
        param, count = _param_from_entry(entry, path)
        try:
            new = {name: param} if count is None else per_layer(param, count, _layers(params, count, name), name)
            taken = [n for n in new if n in params]
            if taken and count is None:
                raise SpaceError("already added by an earlier per_layer entry")
            if taken:
                raise SpaceError(f"per_layer would add {taken[0]}, which is already declared")
            params.update(new)
            Space(params)  # validates the new entries' conditions against earlier ones
        except SpaceError as error:
            raise SpaceError(f"{path}: {_strip_name(error, name)}") from None
    return Space(params)


def _layers(params: Mapping[str, Param], count: str, name: str) -> int:
    count_param = params.get(count)
    if not isinstance(count_param, Int):
        raise SpaceError(f"per_layer: {shown(count)} must be an int parameter declared before {name}")
    return count_param.high


def _strip_name(error: SpaceError, name: str) -> str:
    text = str(error)
    return text[len(name) + 2:] if text.startswith(f"{name}: ") else text


def _param_from_entry(entry: Any, path: str) -> tuple[Param, str | None]:
    if entry is None:  # `learning_rate:` with nothing after it is a mistake, not a fixed None
        raise SpaceError(f"{path}: empty; give a fixed value or a {{type: ...}} mapping")
    if not isinstance(entry, Mapping):
        try:
            return Fixed(entry), None
        except SpaceError as error:
            raise SpaceError(f"{path}: {error}") from None
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise SpaceError(
            f"{path}.type: {shown(kind)} is not a parameter type; allowed: {', '.join(_TYPES)}"
            + (did_you_mean(kind, _TYPES) if kind is not None else "")
        )
    allowed = _COMMON + _FIELDS[kind]
    for key in entry:
        if key not in allowed:
            raise SpaceError(
                f"{path}.{key}: unknown key for a {kind} parameter; allowed: {', '.join(allowed)}"
                + did_you_mean(key, allowed)
            )
    for key in _REQUIRED.get(kind, ()):
        if key not in entry:
            raise SpaceError(f"{path}: a {kind} parameter needs {shown(key)}")
    kwargs = {key: entry[key] for key in _FIELDS[kind] if key in entry}
    if "when" in entry:
        kwargs["when"] = _when_from_yaml(entry["when"], f"{path}.when")
    count = entry.get("per_layer")
    if count is not None and not isinstance(count, str):
        raise SpaceError(f"{path}.per_layer: must name an int parameter, got {shown(count)}")
    try:
        return _TYPES[kind](**kwargs), count
    except SpaceError as error:
        raise SpaceError(f"{path}{_field_of(error, kwargs)}: {error}") from None
    except TypeError as error:
        raise SpaceError(f"{path}: {error}") from None


def _field_of(error: SpaceError, fields: Mapping[str, Any]) -> str:
    """'.low' when the type's message is about its `low` field ("Int(5, 1): low must be ..."), else ''."""
    match = re.match(r"\w+(?:\([^)]*\))?: (\w+)", str(error))
    return f".{match.group(1)}" if match and match.group(1) in fields else ""


def _when_from_yaml(when: Any, path: str) -> dict[str, Any]:
    if not isinstance(when, Mapping) or not when:
        raise SpaceError(f"{path}: must map a parent name to a value, a list of values or {{above: k}}")
    rules: dict[str, Any] = {}
    for parent, rule in when.items():
        if isinstance(rule, Mapping):
            if set(rule) != {"above"}:
                raise SpaceError(f"{path}.{parent}: a mapping condition must be {{above: k}}, got {dict(rule)}")
            threshold = rule["above"]
            if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
                raise SpaceError(f"{path}.{parent}.above: must be a number, got {shown(threshold)}")
            rules[parent] = Above(threshold)
        else:
            rules[parent] = rule
    return rules
