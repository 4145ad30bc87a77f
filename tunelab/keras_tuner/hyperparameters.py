"""KerasTuner's `hp`, recording every declaration, so a build_model(hp) runs here unchanged.

`HyperParameters` answers hp.Int / Float / Choice / Boolean / Fixed as KerasTuner does (defaults,
conditional scopes, `values`, `get`, `hp[name]`). Its small recording API, read by discovery:
`space` (every declaration so far), `declared_in_order()` (names one build declared, and those it
declared while active) and `redefined` (names declared again with other arguments).
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator, Sequence

from tunelab.keras_tuner.declarations import SAMPLINGS, Declaration, Scope, make_declaration


class HyperParameters:
    """KerasTuner's HyperParameters: the space declared so far and the current (active) values.

    `values` holds the active values only. A declaration returns the value already in `values`
    (a trial's), else its default; inside an inactive conditional scope it returns None.
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._declarations: dict[str, list[Declaration]] = {}
        self._scopes: list[Scope] = []
        self._name_scopes: list[str] = []
        self._active: list[str] = []       # names declared while active, in order (one build)
        self._seen: list[str] = []         # every name declared, in order (one build)
        self.redefined: list[str] = []     # names declared again with other arguments (the first wins)

    # --- scopes ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[None]:
        self._name_scopes.append(name)
        try:
            yield
        finally:
            self._name_scopes.pop()

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Declarations inside are active only while `parent_name` takes one of `parent_values`."""
        parent_name = self._full_name(parent_name)
        if parent_name not in self._declarations:
            raise ValueError(f"`HyperParameter` named: {parent_name} not defined.")
        self._scopes.append((parent_name, _as_list(parent_values)))
        try:
            yield
        finally:
            self._scopes.pop()

    @contextlib.contextmanager
    def _maybe_scope(self, parent_name: str | None, parent_values: Any) -> Iterator[None]:
        if parent_name:
            with self.conditional_scope(parent_name, parent_values):
                yield
        else:
            yield

    # --- declarations ---------------------------------------------------------------------

    def Int(self, name: str, min_value: int, max_value: int, step: int | None = None, sampling: str = "linear",
            default: int | None = None, parent_name: str | None = None, parent_values: Any = None) -> int | None:
        """An integer in [min_value, max_value], both included."""
        low, high = _integral(min_value, "min_value"), _integral(max_value, "max_value")
        step = None if step is None else _integral(step, "step")
        sampling = _check_range(name, "Int", low, high, step, sampling)
        if step is None and sampling == "linear":
            step = 1
        default = None if default is None else _integral(default, "default")
        args = (("min_value", low), ("max_value", high), ("step", step), ("sampling", sampling), ("default", default))
        return self._declare(name, "Int", args, parent_name, parent_values)

    def Float(self, name: str, min_value: float, max_value: float, step: float | None = None,
              sampling: str = "linear", default: float | None = None, parent_name: str | None = None,
              parent_values: Any = None) -> float | None:
        """A real number in [min_value, max_value]."""
        low, high = float(min_value), float(max_value)
        step = None if step is None else float(step)
        sampling = _check_range(name, "Float", low, high, step, sampling)
        default = None if default is None else float(default)
        args = (("min_value", low), ("max_value", high), ("step", step), ("sampling", sampling), ("default", default))
        return self._declare(name, "Float", args, parent_name, parent_values)

    def Choice(self, name: str, values: Sequence[Any], ordered: bool | None = None, default: Any = None,
               parent_name: str | None = None, parent_values: Any = None) -> Any:
        """One of `values` (`ordered` is accepted for KerasTuner's sake; order is kept anyway)."""
        values, default = _choice_values(name, values, default)
        if ordered is None:
            ordered = isinstance(values[0], (int, float)) and not isinstance(values[0], bool)
        args = (("values", values), ("ordered", bool(ordered)), ("default", default))
        return self._declare(name, "Choice", args, parent_name, parent_values)

    def Boolean(self, name: str, default: bool = False, parent_name: str | None = None,
                parent_values: Any = None) -> bool | None:
        if default not in (True, False):
            raise ValueError(f"`default` must be a Python boolean. You passed: default={default}")
        return self._declare(name, "Boolean", (("default", bool(default)),), parent_name, parent_values)

    def Fixed(self, name: str, value: Any, parent_name: str | None = None, parent_values: Any = None) -> Any:
        if not isinstance(value, (int, float, str, bool)):
            raise ValueError(f"`Fixed` value must be an `int`, `float`, `str`, or `bool`, found {value!r}")
        return self._declare(name, "Fixed", (("value", value),), parent_name, parent_values)

    def _declare(self, name: str, kind: str, args: tuple, parent_name: str | None, parent_values: Any) -> Any:
        with self._maybe_scope(parent_name, parent_values):
            full = self._full_name(name)
            if any(parent == full for parent, _ in self._scopes):
                raise ValueError(f"A conditional `HyperParameter` cannot have the same name as its parent: {full}")
            return self._retrieve(make_declaration(kind, full, args, tuple(self._scopes)))

    def _retrieve(self, declaration: Declaration) -> Any:
        name = declaration.name
        if name not in self._seen:
            self._seen.append(name)
        known = self._declarations.setdefault(name, [])
        match = next((d for d in known if d.scopes == declaration.scopes), None)
        if match is None:
            known.append(declaration)
            match = declaration
        elif (match.kind, match.args) != (declaration.kind, declaration.args) and name not in self.redefined:
            self.redefined.append(name)
        if not self._scopes_hold(match.scopes):
            return None
        value = match.coerce(self.values.get(name, match.default))
        self.values[name] = value
        if name not in self._active:
            self._active.append(name)
        return value

    def register(self, declaration: Declaration) -> None:
        """Adds a declaration without setting a value (a trial's `hp` knows the whole space)."""
        known = self._declarations.setdefault(declaration.name, [])
        if all(d.scopes != declaration.scopes for d in known):
            known.append(declaration)

    def _scopes_hold(self, scopes: Sequence[Scope]) -> bool:
        return all(parent in self.values and self.values[parent] in values for parent, values in scopes)

    def _full_name(self, name: str) -> str:
        return "/".join([*self._name_scopes, str(name)])

    # --- reading --------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The current value; ValueError while the parameter is inactive, KeyError if never declared."""
        name = self._full_name(name)
        if name in self.values:
            return self.values[name]
        if name in self._declarations:
            raise ValueError(f"{name} is currently inactive.")
        raise KeyError(f"{name} does not exist.")

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except (KeyError, ValueError):
            return False
        return True

    def is_active(self, hyperparameter: str | Declaration) -> bool:
        if isinstance(hyperparameter, Declaration):
            return self._scopes_hold(hyperparameter.scopes)
        return any(self._scopes_hold(d.scopes) for d in self._declarations.get(str(hyperparameter), ()))

    @property
    def space(self) -> list[Declaration]:
        """Every declaration so far (KerasTuner's `hp.space`)."""
        return [d for known in self._declarations.values() for d in known]

    def copy(self) -> HyperParameters:
        return copy.deepcopy(self)

    def merge(self, hps: HyperParameters | Sequence[Declaration], overwrite: bool = True) -> None:
        """Adds another object's declarations (and their defaults as values, as KerasTuner does)."""
        for declaration in hps.space if isinstance(hps, HyperParameters) else hps:
            self.register(declaration)
            if overwrite or declaration.name not in self.values:
                if self._scopes_hold(declaration.scopes):
                    self.values[declaration.name] = declaration.default

    # --- recording, read by discovery ------------------------------------------------------

    def start_build(self) -> None:
        """Forgets which names the last build declared, so the next build records its own."""
        self._active, self._seen = [], []

    @property
    def declared(self) -> tuple[str, ...]:
        """Every name declared since `start_build`, in order, active or not."""
        return tuple(self._seen)

    @property
    def declared_active(self) -> tuple[str, ...]:
        """The names declared since `start_build` while active, in order."""
        return tuple(self._active)

    @property
    def declarations(self) -> dict[str, tuple[Declaration, ...]]:
        """name -> its declarations (one per enclosing scope), in the order first declared."""
        return {name: tuple(known) for name, known in self._declarations.items()}

    def __repr__(self) -> str:
        return f"HyperParameters(values={self.values!r})"


def _as_list(values: Any) -> tuple:
    return tuple(values) if isinstance(values, (list, tuple)) else (values,)


def _integral(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError(f"{what} must be an int, received: {value!r}")
    return int(value)


def _check_range(name: str, kind: str, low: float, high: float, step: Any, sampling: Any) -> str:
    sampling = (sampling or "linear").lower()
    if low > high:
        raise ValueError(f"For HyperParameters.{kind}(name='{name}'), min_value {low} is greater than max_value {high}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"For HyperParameters.{kind}(name='{name}'), sampling must be one of {', '.join(SAMPLINGS)}")
    if sampling != "linear" and low <= 0:
        raise ValueError(f"For HyperParameters.{kind}(name='{name}'), sampling='{sampling}' needs min_value > 0")
    if sampling != "linear" and step is not None and step <= 1:
        raise ValueError(f"For HyperParameters.{kind}(name='{name}'), sampling='{sampling}' needs step > 1")
    if step is not None and sampling == "linear" and step <= 0:
        raise ValueError(f"For HyperParameters.{kind}(name='{name}'), step must be positive, got {step}")
    return sampling


def _choice_values(name: str, values: Sequence[Any], default: Any) -> tuple[tuple, Any]:
    if isinstance(values, (str, bytes)) or not values:
        raise ValueError(f"Choice '{name}': values must be a non-empty list")
    values = tuple(values)
    types = {type(v) for v in values}
    if len(types) > 1:
        raise TypeError(f"A Choice can contain only one type of value, found values: {list(values)}")
    if not isinstance(values[0], (str, int, float, bool)):
        raise TypeError(f"A Choice can contain only int, float, str or bool, found values: {list(values)}")
    if default is not None and default not in values:
        raise ValueError(f"Choice '{name}': default {default!r} is not one of {list(values)}")
    return values, default
