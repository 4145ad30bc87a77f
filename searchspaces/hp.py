"""KerasTuner's `hp`, recording a tunelab Space, so a build_model(hp) runs here unchanged.

`HyperParameters` answers hp.Int / Float / Choice / Boolean / Fixed as KerasTuner does (defaults,
conditional scopes, `values`, `get`, `hp[name]`) and records every declaration. `discover` calls
build_model several times (defaults first, then with values that open each branch and every
loop count) and turns the declarations into a Space: conditional scopes become `when=`
conditions, and a parameter that only some builds declare (units_2 of a layer loop) gets the
condition that explains when it appears (num_layers > 2). A trial replays its config through
`Discovered.hyperparameters`.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, OneOf, Param, SpaceError
from tunelab.searchspaces.space import Space

KINDS = ("Int", "Float", "Choice", "Boolean", "Fixed")
SAMPLINGS = ("linear", "log", "reverse_log")
MAX_BUILDS = 100        # discovery gives up exploring (and says so) after this many builds
_ALL_VALUES_LIMIT = 32  # an Int that changes what build_model declares is tried at this many of its values
_FINITE_LIMIT = 10_000  # larger integer ranges are treated as continuous

Scope = tuple[str, tuple]  # (parent name, values that activate the scope)


# --- declarations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """One hp.Int / Float / Choice / Boolean / Fixed call, with KerasTuner's arguments filled in."""

    name: str
    kind: str
    args: tuple[tuple[str, Any], ...]    # min_value, max_value, step, sampling, default, values, ...
    scopes: tuple[Scope, ...] = ()       # enclosing conditional scopes, outermost first

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.args)

    @property
    def default(self) -> Any:
        config = self.config
        if self.kind == "Fixed":
            return config["value"]
        if self.kind == "Choice":
            return config["values"][0] if config["default"] is None else config["default"]
        if self.kind == "Boolean":
            return config["default"]
        return config["min_value"] if config["default"] is None else config["default"]

    def coerce(self, value: Any) -> Any:
        """A trial's value as build_model expects it: BayesOpt's 3.0 for an Int becomes 3."""
        if value is None:
            return None
        if self.kind == "Int" and isinstance(value, float) and value.is_integer():
            return int(value)
        if self.kind == "Float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if hasattr(value, "item"):  # numpy scalars
            return value.item()
        return value

    def finite_values(self) -> tuple | None:
        """Every value, in order, for types with few enough of them; None for a continuous range."""
        config = self.config
        if self.kind == "Choice":
            return tuple(config["values"])
        if self.kind == "Boolean":
            return (False, True)
        if self.kind == "Fixed":
            return (config["value"],)
        if self.kind == "Int" and config["sampling"] == "linear" and \
                (config["max_value"] - config["min_value"]) // config["step"] >= _FINITE_LIMIT:
            return None
        points = _stepped_points(self)
        if points is not None:
            return points
        if self.kind == "Int":
            low, high = config["min_value"], config["max_value"]
            return tuple(range(low, high + 1)) if high - low < _FINITE_LIMIT else None
        return None

    def sweep_values(self) -> tuple:
        """The values tried once this parameter changes what build_model declares: all, or 32 spread out."""
        values = self.finite_values() or ()
        if len(values) <= _ALL_VALUES_LIMIT:
            return values
        return tuple(values[round(k * (len(values) - 1) / (_ALL_VALUES_LIMIT - 1))] for k in range(_ALL_VALUES_LIMIT))

    def probe_values(self) -> tuple:
        """Values discovery builds with first: every choice; the ends of an integer range."""
        if self.kind in ("Choice", "Boolean"):
            return self.finite_values()
        if self.kind == "Int":
            values = self.finite_values()
            if values is not None:
                return (values[-1], values[0])
            return (self.config["max_value"], self.config["min_value"])
        return ()

    def param(self, *, grid_points: bool = False) -> Param:
        """The tunelab parameter (without conditions) that samples what KerasTuner would.

        `grid_points` gives continuous ranges the points KerasTuner's GridSearch visits: the
        default plus ten evenly spread samples.
        """
        config = self.config
        if self.kind == "Fixed":
            return Fixed(config["value"])
        if self.kind == "Boolean":
            return Bool()
        if self.kind == "Choice":
            return Choice(tuple(config["values"]))
        low, high, step, sampling = config["min_value"], config["max_value"], config["step"], config["sampling"]
        if sampling == "reverse_log":
            raise SpaceError(f"{self.name}: sampling='reverse_log' has no tunelab equivalent; use 'log' or 'linear'")
        if low == high:
            return Fixed(low)
        points = _stepped_points(self)
        if sampling == "log" and step is not None:  # KerasTuner multiplies by step: 2, 4, 8, 16
            return Choice(points) if len(points) > 1 else Fixed(points[0])
        if step is not None:
            if len(points) == 1:
                return Fixed(points[0])
            kind = Int if self.kind == "Int" else Float
            return kind(low, points[-1], step=step)
        grid = _kt_grid(self) if grid_points else None
        if self.kind == "Int":  # log sampling (linear Ints always have a step)
            return Int(low, high, log=True, grid=grid)
        return Float(low, high, log=sampling == "log", grid=grid)

    def summary(self) -> dict[str, Any]:
        """KerasTuner's get_config() of this hyperparameter, as search_space_summary prints it."""
        config = {key: list(value) if isinstance(value, tuple) else value for key, value in self.args}
        if "default" in config:
            config["default"] = self.default  # KerasTuner fills in the default it will use
        config["conditions"] = [{"name": parent, "values": list(values)} for parent, values in self.scopes]
        return config


def _stepped_points(declaration: Declaration) -> tuple | None:
    """KerasTuner's values of a stepped Int or Float: min + k * step, or min * step**k for log."""
    config = declaration.config
    step = config["step"]
    if step is None:
        return None
    low, high = config["min_value"], config["max_value"]
    if config["sampling"] == "linear":
        count = int((high - low) // step + 1)
        points = [low + k * step for k in range(count)]
    else:
        count = int(math.log(high / low, step) + 1e-8) + 1
        points = [low * step**k for k in range(count)]
    if declaration.kind == "Int":
        return tuple(int(round(p)) for p in points)
    return tuple(float(p) for p in points)


def _kt_grid(declaration: Declaration) -> tuple:
    """The values KerasTuner's GridSearch tries for a range without a step."""
    config = declaration.config
    low, high = config["min_value"], config["max_value"]
    is_int = declaration.kind == "Int"
    top = high + 1 if is_int else high  # KerasTuner samples ints from [min, max + 1)
    points = set()
    for k in range(10):
        prob = k * 0.1 + 0.05
        value = low * (top / low) ** prob if config["sampling"] == "log" else low + prob * (top - low)
        points.add(min(high, int(value)) if is_int else value)
    points.add(declaration.default)
    return tuple(sorted(points))


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


# --- the hp object ----------------------------------------------------------------------------


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
            return self._retrieve(Declaration(full, kind, args, tuple(self._scopes)))

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

    def _register(self, declaration: Declaration) -> None:
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
            self._register(declaration)
            if overwrite or declaration.name not in self.values:
                if self._scopes_hold(declaration.scopes):
                    self.values[declaration.name] = declaration.default

    def __repr__(self) -> str:
        return f"HyperParameters(values={self.values!r})"


# --- discovery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Build:
    values: dict[str, Any]     # active values used by this build
    active: frozenset[str]
    order: tuple[str, ...]     # every name declared, in order
    error: str | None


@dataclass(frozen=True)
class Discovered:
    """What build_model declares: the declarations, their conditions, and the Space they make."""

    declarations: tuple[Declaration, ...]          # one per name, parents before children
    when: Mapping[str, Mapping[str, Any]]          # name -> {parent name: OneOf or Above}
    keys: Mapping[str, str]                        # KerasTuner name -> Space key (an identifier)
    inferred: Mapping[str, str]                    # name -> conditions found from the builds, as text
    pinned: frozenset[str] = frozenset()           # new entries kept at their default (tune_new_entries=False)
    notes: tuple[str, ...] = ()                    # what discovery could not settle
    builds: int = 0

    @property
    def names(self) -> dict[str, str]:
        """Space key -> KerasTuner name."""
        return {key: name for name, key in self.keys.items()}

    @property
    def space(self) -> Space:
        return self.to_space()

    def to_space(self, *, grid_points: bool = False) -> Space:
        params: dict[str, Param] = {}
        for declaration in self.declarations:
            if declaration.name in self.pinned:
                param: Param = Fixed(declaration.default)
            else:
                try:
                    param = declaration.param(grid_points=grid_points)
                except SpaceError as error:
                    raise SpaceError(f"build_model: {error}") from None
            when = {self.keys[parent]: rule for parent, rule in self.when.get(declaration.name, {}).items()}
            params[self.keys[declaration.name]] = dataclasses.replace(param, when=when) if when else param
        try:
            return Space(params)
        except SpaceError as error:
            raise SpaceError(f"build_model declares a space tunelab cannot search: {error}") from None

    def hyperparameters(self, config: Mapping[str, Any]) -> HyperParameters:
        """The `hp` of one trial: every declaration known, `values` from the trial's config."""
        hp = HyperParameters()
        for declaration in self.declarations:
            hp._register(declaration)
        names = self.names
        by_name = {d.name: d for d in self.declarations}
        hp.values = {names[key]: by_name[names[key]].coerce(value) for key, value in config.items() if key in names}
        return hp

    def unknown(self, hp: HyperParameters) -> list[str]:
        """Names a build declared that discovery never saw (they ran at their default)."""
        return [name for name in hp._seen if name not in self.keys]


def discover(
    build: Callable[[HyperParameters], Any],
    *,
    declared: HyperParameters | None = None,
    tune_new_entries: bool = True,
    allow_new_entries: bool = True,
    max_builds: int = MAX_BUILDS,
) -> Discovered:
    """Runs build(hp) with defaults, then with values that open each branch and loop count.

    `declared` is KerasTuner's `hyperparameters=` argument: declarations made ahead of
    build_model, which win over build_model's own. Raises SpaceError if build_model fails with
    the default values or declares something tunelab cannot search.
    """
    explorer = _Explorer(build, declared, max_builds)
    base = explorer.run({})
    if base.error is not None:
        raise SpaceError(f"build_model failed with the default hyperparameter values: {base.error}")
    explorer.explore()
    declarations = explorer.declarations()
    ahead = [tuple(declared._declarations)] if declared is not None else []
    order = _parents_first(_merge_orders([*ahead, *(b.order for b in explorer.builds)]), declarations)
    when: dict[str, dict[str, Any]] = {}
    inferred: dict[str, str] = {}
    notes = list(explorer.notes)
    builds = [b for b in explorer.builds if b.error is None]
    for name in order:
        explicit = _explicit_conditions(explorer.all_declarations[name])
        extra, note = _infer_conditions(name, explicit, order, declarations, builds)
        when[name] = {parent: OneOf(values) for parent, values in explicit.items()} | extra
        if extra:
            inferred[name] = " and ".join(f"{parent} {rule.describe()}" for parent, rule in extra.items())
        if note:
            notes.append(note)
    predeclared = set(declared._declarations) if declared is not None else set()
    new = [name for name in order if name not in predeclared]
    if predeclared and not allow_new_entries and new:
        raise SpaceError(f"build_model declares {', '.join(new)}, not in `hyperparameters`, "
                         "and allow_new_entries=False")
    pinned = frozenset(new) if predeclared and not tune_new_entries else frozenset()
    for name in order:
        if name in explorer.redefined:
            notes.append(f"{name}: declared again with other arguments; the first declaration is used")
    discovered = Discovered(
        tuple(declarations[name] for name in order), when, _identifier_keys(order), inferred, pinned,
        tuple(notes), len(explorer.builds),
    )
    discovered.to_space()  # fails now, with the parameter's name, if tunelab cannot search it
    return discovered


class _Explorer:
    """Runs build_model with probe values, one parameter varied at a time, until nothing new opens."""

    def __init__(self, build: Callable[[HyperParameters], Any], declared: HyperParameters | None,
                 max_builds: int) -> None:
        self._build, self._declared, self._max_builds = build, declared, max_builds
        self.builds: list[_Build] = []
        self.all_declarations: dict[str, list[Declaration]] = {}
        self.redefined: set[str] = set()
        self.notes: list[str] = []
        self._probes: set = set()

    def run(self, probe: Mapping[str, Any]) -> _Build:
        hp = self._declared.copy() if self._declared is not None else HyperParameters()
        hp.values.update(probe)
        hp._active, hp._seen = [], []
        try:
            self._build(hp)
            error = None
        except Exception as exc:  # the user's build_model: report it, whatever it raised
            error = f"{type(exc).__name__}: {exc}"
            if self.builds:
                self.notes.append(f"build_model raised {error} with {_describe(probe)}")
        for name, known in hp._declarations.items():
            mine = self.all_declarations.setdefault(name, [])
            for declaration in known:
                first = next((d for d in mine if d.scopes == declaration.scopes), None)
                if first is None:
                    mine.append(declaration)
                elif (first.kind, first.args) != (declaration.kind, declaration.args):
                    self.redefined.add(name)
        self.redefined.update(hp.redefined)
        done = _Build({n: hp.values[n] for n in hp._active}, frozenset(hp._active), tuple(hp._seen), error)
        self.builds.append(done)
        return done

    def explore(self) -> None:
        explored: set[str] = set()
        while True:
            target = next((name for name in _merge_orders([b.order for b in self.builds])
                           if name not in explored and self.declarations()[name].probe_values()), None)
            if target is None:
                return
            explored.add(target)
            context = next((b for b in self.builds if b.error is None and target in b.active), None)
            if context is None:
                continue  # never active: its scope's parents were probed without opening it
            declaration = self.declarations()[target]
            probes = [self._probe(context, target, value) for value in declaration.probe_values()]
            structural = any(b is not None and b.active != context.active for b in probes)
            if declaration.kind == "Int" and structural:
                for value in declaration.sweep_values():
                    self._probe(context, target, value)
            if len(self.builds) >= self._max_builds:
                self.notes.append(
                    f"discovery stopped after {len(self.builds)} builds; parameters declared only in branches "
                    "it did not open are missing from the space"
                )
                return

    def _probe(self, context: _Build, name: str, value: Any) -> _Build | None:
        probe = {**context.values, name: value}
        key = tuple(sorted((k, repr(v)) for k, v in probe.items()))
        if key in self._probes or value == context.values.get(name) or len(self.builds) >= self._max_builds:
            return None
        self._probes.add(key)
        return self.run(probe)

    def declarations(self) -> dict[str, Declaration]:
        """One declaration per name: the first one seen (under its first scopes)."""
        return {name: known[0] for name, known in self.all_declarations.items()}


def _describe(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "the default values"


def _explicit_conditions(declarations: Sequence[Declaration]) -> dict[str, tuple]:
    """The conditional scopes of a name; one declared under several scopes keeps the parents all share."""
    merged: dict[str, tuple] = dict(declarations[0].scopes)
    for declaration in declarations[1:]:
        scopes = dict(declaration.scopes)
        merged = {parent: tuple(dict.fromkeys(values + scopes[parent])) for parent, values in merged.items()
                  if parent in scopes}
    return merged


def _infer_conditions(
    name: str, explicit: Mapping[str, tuple], order: Sequence[str], declarations: Mapping[str, Declaration],
    builds: Sequence[_Build],
) -> tuple[dict[str, Any], str | None]:
    """Conditions on earlier parameters that explain which builds declared `name` (beyond its scopes).

    Each candidate parent contributes the tightest condition all declaring builds satisfy
    (num_layers > 1, or model in cnn); the set must exclude every build that did not declare
    `name`, and is then pruned to the fewest parents that still do.
    """
    relevant = [b for b in builds if all(p in b.values and b.values[p] in v for p, v in explicit.items())]
    present = [b for b in relevant if name in b.active]
    absent = [b for b in relevant if name not in b.active]
    if not present:
        return {}, f"{name}: never active in {len(builds)} builds of build_model; kept with its declared conditions"
    if not absent:
        return {}, None
    candidates: dict[str, list[Any]] = {}
    for parent in order[:order.index(name)]:
        declaration = declarations[parent]
        if parent in explicit or declaration.kind not in ("Int", "Choice", "Boolean"):
            continue
        if any(parent not in b.values for b in present):
            continue
        seen = {b.values[parent] for b in present}
        values = declaration.finite_values()
        forms = []
        if _is_count(declaration):  # layer k exists while num_layers > k
            lowest = min(seen)
            if lowest > declaration.config["min_value"]:
                forms.append(Above(lowest - 1))
        if values is not None and set(values) != seen:
            forms.append(OneOf(tuple(v for v in values if v in seen)))
        if forms:
            candidates[parent] = forms

    def admits(build: _Build, rules: Mapping[str, Any]) -> bool:
        return all(parent in build.values and rule.holds(build.values[parent]) for parent, rule in rules.items())

    rules = {parent: forms[0] for parent, forms in candidates.items()}
    if any(admits(b, rules) for b in absent):
        rules = {parent: forms[-1] for parent, forms in candidates.items()}
    if not rules or any(admits(b, rules) for b in absent):
        return {}, (f"{name}: declared by some builds but no condition on earlier parameters explains which; "
                    "it is searched in every trial")
    excluded = {parent: sum(not admits(b, {parent: rule}) for b in absent) for parent, rule in rules.items()}
    for parent in sorted(rules, key=lambda p: excluded[p]):
        fewer = {p: r for p, r in rules.items() if p != parent}
        if fewer and not any(admits(b, fewer) for b in absent):
            rules = fewer
    rough = [parent for parent, rule in rules.items()
             if isinstance(rule, Above) and declarations[parent].sweep_values() != declarations[parent].finite_values()]
    note = (f"{name}: {rough[0]} {rules[rough[0]].describe()} comes from the few values of {rough[0]} tried; "
            "the true threshold may be lower") if rough else None
    return rules, note


def _is_count(declaration: Declaration) -> bool:
    try:
        return isinstance(declaration.param(), Int)
    except SpaceError:
        return False


def _merge_orders(sequences: Sequence[Sequence[str]]) -> list[str]:
    """One order consistent with each build's: a new name goes right after its predecessor there."""
    order: list[str] = []
    for sequence in sequences:
        previous = None
        for name in sequence:
            if name not in order:
                order.insert(order.index(previous) + 1 if previous is not None else 0, name)
            previous = name
    return order


def _parents_first(order: Sequence[str], declarations: Mapping[str, Declaration]) -> list[str]:
    placed: list[str] = []

    def place(name: str, path: tuple[str, ...] = ()) -> None:
        if name in placed or name in path:
            return
        for parent, _ in declarations[name].scopes:
            if parent in declarations:
                place(parent, (*path, name))
        placed.append(name)

    for name in order:
        place(name)
    return placed


def _identifier_keys(names: Sequence[str]) -> dict[str, str]:
    """Space keys must be identifiers: `dense/units` becomes `dense_units`, kept unique."""
    keys: dict[str, str] = {}
    for name in names:
        key = re.sub(r"\W", "_", name)
        if not key or key[0].isdigit():
            key = f"_{key}"
        candidate, suffix = key, 2
        while candidate in keys.values():
            candidate, suffix = f"{key}_{suffix}", suffix + 1
        keys[name] = candidate
    return keys


def space_as_dict(space: Space) -> dict[str, Any]:
    """The inline YAML form of a Space (searchspaces.inline reads it back), for the experiment record."""
    entries: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, Fixed):
            entry: dict[str, Any] = {"type": "fixed", "value": param.value}
        elif isinstance(param, Bool):
            entry = {"type": "bool"}
        elif isinstance(param, Choice):
            entry = {"type": "choice", "values": list(param.values)}
        else:
            entry = {"type": "int" if isinstance(param, Int) else "float", "low": param.low, "high": param.high}
            if isinstance(param, Int) and param.step != 1 or isinstance(param, Float) and param.step is not None:
                entry["step"] = param.step
            if param.log:
                entry["log"] = True
            if param.grid:
                entry["grid"] = list(param.grid)
        if param.conditions:
            entry["when"] = {
                parent: {"above": rule.threshold} if isinstance(rule, Above) else list(rule.values)
                for parent, rule in param.conditions
            }
        entries[name] = entry
    return entries
