"""Discovery: build_model run several times to find its search space.

`discover` calls build_model with defaults first, then with values that open each branch and
every loop count, and turns the declarations into a Space: conditional scopes become `when=`
conditions, and a parameter that only some builds declare (units_2 of a layer loop) gets the
condition that explains when it appears (num_layers > 2). A trial replays its config through
`Discovered.hyperparameters`.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from tunelab.keras_tuner.declarations import BooleanDeclaration, ChoiceDeclaration, Declaration, IntDeclaration
from tunelab.keras_tuner.hyperparameters import HyperParameters
from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, OneOf, Param, SpaceError
from tunelab.searchspaces.space import Space

MAX_BUILDS = 100        # discovery gives up exploring (and says so) after this many builds


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
            hp.register(declaration)
        names = self.names
        by_name = {d.name: d for d in self.declarations}
        hp.values = {names[key]: by_name[names[key]].coerce(value) for key, value in config.items() if key in names}
        return hp

    def unknown(self, hp: HyperParameters) -> list[str]:
        """Names a build declared that discovery never saw (they ran at their default)."""
        return [name for name in hp.declared if name not in self.keys]


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
    ahead = [tuple(declared.declarations)] if declared is not None else []
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
    predeclared = set(declared.declarations) if declared is not None else set()
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
        hp.start_build()
        try:
            self._build(hp)
            error = None
        except Exception as exc:  # the user's build_model: report it, whatever it raised
            error = f"{type(exc).__name__}: {exc}"
            if self.builds:
                self.notes.append(f"build_model raised {error} with {_describe(probe)}")
        for name, known in hp.declarations.items():
            mine = self.all_declarations.setdefault(name, [])
            for declaration in known:
                first = next((d for d in mine if d.scopes == declaration.scopes), None)
                if first is None:
                    mine.append(declaration)
                elif (first.kind, first.args) != (declaration.kind, declaration.args):
                    self.redefined.add(name)
        self.redefined.update(hp.redefined)
        done = _Build({n: hp.values[n] for n in hp.declared_active}, frozenset(hp.declared_active), hp.declared,
                      error)
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
            if isinstance(declaration, IntDeclaration) and structural:
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
        if parent in explicit or not isinstance(declaration, (IntDeclaration, ChoiceDeclaration, BooleanDeclaration)):
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
