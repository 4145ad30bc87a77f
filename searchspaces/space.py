"""Space: named hyperparameters with conditions; the single source of every trial's config.

Parameters are ordered, and a condition may only look at a parameter declared before it, so
sampling and grid enumeration resolve parents first and cycles cannot be written.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Any, Iterator, Mapping, Sequence

from tunelab.core.errors import shown
from tunelab.searchspaces.params import Above, Fixed, Float, Int, OneOf, Param, SpaceError, _is_number

Config = dict[str, Any]


def _value_count(param: Param) -> int | None:
    """How many values sampling can give `param`, counted without listing them; None for a continuous range."""
    if isinstance(param, Int):
        return (param.high - param.low) // param.step + 1
    if isinstance(param, Float):
        return None if param.step is None else round((param.high - param.low) / param.step) + 1
    return len(param.grid_values())  # a choice, a bool, a fixed value: a few values, listed


def config_key(config: Config) -> tuple:
    """A hashable form of a configuration, the same whatever the order of its keys."""
    return tuple(sorted(config.items()))


class Space(Mapping[str, Param]):
    """An ordered, immutable mapping from hyperparameter name to Param."""

    def __init__(self, params: Mapping[str, Param | Any]) -> None:
        if not isinstance(params, Mapping) or not params:
            raise SpaceError("a search space needs at least one parameter")
        resolved: dict[str, Param] = {}
        for name, param in params.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise SpaceError(f"{shown(name)}: parameter names must be identifiers (letters, digits, _)")
            if not isinstance(param, Param):
                try:
                    param = Fixed(param)
                except SpaceError as error:
                    raise SpaceError(f"{name}: {error}") from None
            for parent, condition in param.conditions:
                _check_condition(name, parent, condition, resolved)
            resolved[name] = param
        self._params = resolved

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return "Space(" + ", ".join(f"{n}: {p.describe()}" for n, p in self._params.items()) + ")"

    def is_active(self, name: str, partial: Mapping[str, Any]) -> bool:
        """True when every parent is active (present in `partial`) and its condition holds."""
        return all(
            parent in partial and condition.holds(partial[parent])
            for parent, condition in self._params[name].conditions
        )

    def sample(self, rng: random.Random) -> Config:
        """One random configuration; inactive parameters are absent, not None."""
        config: Config = {}
        for name, param in self._params.items():
            if self.is_active(name, config):
                config[name] = param.sample(rng)
        return config

    def sample_many(self, count: int, seed: int) -> list[Config]:
        """Up to `count` distinct configurations from a private RNG: the same seed always gives the same list.

        A configuration drawn before is drawn again, so none is run twice (as in KerasTuner's random
        search); a finite space of at most `count` configurations gives each once, in a seeded order.
        """
        rng = random.Random(seed)
        every = self.all_configs(limit=count)
        if every is not None:  # the space is used up by `count` draws
            rng.shuffle(every)
            return every
        seen: set[tuple] = set()
        configs = []
        draws = max(10_000, 100 * count)  # a bound only a space with unsatisfiable conditions could reach
        while len(configs) < count and draws:
            draws -= 1
            config = self.sample(rng)
            key = config_key(config)
            if key not in seen:
                seen.add(key)
                configs.append(config)
        return configs

    def all_configs(self, limit: int) -> list[Config] | None:
        """Every configuration sampling can produce, or None when there are more than `limit` (or
        infinitely many: a float without a step). A parameter's `grid` restricts only grid search;
        sampling reaches every value, so it is dropped here."""
        counts = [_value_count(param) for param in self.values()]
        if any(count is None or count > limit for count in counts):
            return None  # decided without listing a large range's values
        params = {name: dataclasses.replace(param, grid=None) if isinstance(param, (Int, Float)) else param
                  for name, param in self.items()}
        try:
            return Space(params).grid(limit=limit)
        except SpaceError:
            return None

    def grid(self, limit: int | None = None) -> list[Config]:
        """Every combination of grid values; a conditional parameter multiplies only where active.

        `limit` refuses grids beyond that many configurations before building them all.
        """
        configs: list[Config] = [{}]
        for name, param in self._params.items():
            values = None
            expanded: list[Config] = []
            for config in configs:
                if not self.is_active(name, config):
                    expanded.append(config)
                    continue
                if values is None:
                    try:
                        values = param.grid_values()
                    except SpaceError as error:
                        raise SpaceError(f"{name}: {error}") from None
                expanded.extend({**config, name: value} for value in values)
                if limit is not None and len(expanded) > limit:
                    raise SpaceError(
                        f"the grid has more than {limit} configurations; pin parameters (fix:), "
                        "give fewer grid points, or raise strategy.max_trials"
                    )
            configs = expanded
        return configs

    def check_config(self, config: Mapping[str, Any]) -> None:
        """Raises SpaceError unless `config` is one this space could produce (for given configs)."""
        unknown = [key for key in config if key not in self._params]
        if unknown:
            raise SpaceError(f"{unknown[0]}: not a parameter of this space (has {', '.join(self)})")
        for name, param in self._params.items():
            active = self.is_active(name, config)
            if active and name not in config:
                raise SpaceError(f"{name}: missing, and it is active in this configuration")
            if not active and name in config:
                raise SpaceError(f"{name}: set, but its condition does not hold in this configuration")
            if active and not param.contains(config[name]):
                raise SpaceError(f"{name}: {shown(config[name])} is outside {param.describe()}")

    def encode(self, config: Mapping[str, Any]) -> list[float]:
        """Config -> point of the unit cube (inactive parameters sit at the centre)."""
        return [param.to_unit(config[name]) if name in config else 0.5 for name, param in self._params.items()]

    def decode(self, point: Sequence[float]) -> Config:
        """Point of the unit cube -> valid config, conditions applied in declaration order."""
        config: Config = {}
        for (name, param), u in zip(self._params.items(), point, strict=True):
            if self.is_active(name, config):
                config[name] = param.from_unit(u)
        return config


def _check_condition(name: str, parent: str, condition: Above | OneOf, earlier: Mapping[str, Param]) -> None:
    if parent not in earlier:
        if parent == name:
            raise SpaceError(f"{name}: a parameter cannot be conditional on itself")
        raise SpaceError(
            f"{name}: condition on {shown(parent)}, which is not declared before it "
            f"(declared so far: {', '.join(earlier) or 'none'})"
        )
    parent_param = earlier[parent]
    if isinstance(condition, Above):
        if isinstance(parent_param, (Int, Float)):
            highest = parent_param.high
        elif isinstance(parent_param, Fixed) and _is_number(parent_param.value):
            highest = parent_param.value
        else:
            raise SpaceError(f"{name}: 'above' needs a numeric parent, but {parent} is {parent_param.describe()}")
        if not highest > condition.threshold:
            raise SpaceError(
                f"{name}: condition {parent} {condition.describe()} can never hold "
                f"({parent} is {parent_param.describe()})"
            )
        return
    for value in condition.values:
        if not parent_param.contains(value):
            raise SpaceError(
                f"{name}: condition {parent} = {shown(value)} can never hold ({parent} is {parent_param.describe()})"
            )


def per_layer(param: Param, count: str, max_count: int, prefix: str) -> dict[str, Param]:
    """`prefix_1 .. prefix_N` where layer k is active while the count parent exceeds k - 1.

    Use it inside a Space after the count parameter, e.g. units of each hidden layer.
    """
    if not isinstance(max_count, int) or max_count < 1:
        raise SpaceError(f"{prefix}: max_count must be a positive integer, got {shown(max_count)}")
    return {
        f"{prefix}_{k}": dataclasses.replace(param, when={**dict(param.conditions), count: Above(k - 1)})
        for k in range(1, max_count + 1)
    }
