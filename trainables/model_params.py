"""What each model family reads from a trial's config: every hyperparameter, its domain and default.

One declaration serves both sides. Before Ray starts, the driver holds a search space against it:
a name the model never reads, or a range that reaches outside a domain, is refused with the
space's key. Inside a trial, the worker parses the config through the same declaration and
builds from the parsed values, so nothing is read that was not checked.
"""
from __future__ import annotations

import abc
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import InputError, shown
from tunelab.searchspaces.params import Bool, Choice, Fixed, Float, Int, Param
from tunelab.searchspaces.space import Space


class TrainableError(InputError):
    """The trainable cannot use what the experiment gives it: a hyperparameter it never reads, a value
    outside what it accepts, data of the wrong shape, or a model function that builds no model."""


# --- domains -------------------------------------------------------------------------------------


class Domain(abc.ABC):
    """The values a model accepts for one hyperparameter."""

    @abc.abstractmethod
    def accepts(self, value: Any) -> bool:
        """Whether the model can use `value`."""

    @abc.abstractmethod
    def describe(self) -> str:
        """What is allowed, for messages: 'an integer >= 1'."""

    def parse(self, value: Any) -> Any:
        """The plain Python value the model builds from (3 for BayesOpt's 3.0)."""
        return value


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Integer(Domain):
    minimum: int = 1
    maximum: int | None = None

    def accepts(self, value: Any) -> bool:
        return (_real(value) and float(value).is_integer() and value >= self.minimum
                and (self.maximum is None or value <= self.maximum))

    def describe(self) -> str:
        return f"an integer >= {self.minimum}" + ("" if self.maximum is None else f" and <= {self.maximum:,}")

    def parse(self, value: Any) -> int:
        return int(value)


@dataclass(frozen=True)
class Number(Domain):
    low: float
    high: float | None = None   # excluded
    low_open: bool = False

    def accepts(self, value: Any) -> bool:
        return (_real(value) and (value > self.low if self.low_open else value >= self.low)
                and (self.high is None or value < self.high))

    def describe(self) -> str:
        return f"a number {'>' if self.low_open else '>='} {self.low:g}" + (
            "" if self.high is None else f" and < {self.high:g}")

    def parse(self, value: Any) -> float:
        return float(value)


@dataclass(frozen=True)
class Among(Domain):
    """A name among `values` (an activation, an optimizer); not searchspaces' OneOf, which is a condition."""

    values: tuple[str, ...]
    context: str = ""  # what the values depend on, for messages: "task: regression"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return f"one of {', '.join(self.values)}" + (f" under {self.context}" if self.context else "")


# --- declarations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """One hyperparameter a model reads; with `per_layer`, NAME_1 .. NAME_k while that count is >= k."""

    name: str
    domain: Domain
    default: Any
    per_layer: str | None = None


@dataclass(frozen=True)
class ModelParams:
    """Every hyperparameter one model family reads (`complete`: and nothing else; False for a user's
    model function, which reads names tunelab cannot know besides the learning ones)."""

    family: str
    declared: tuple[Declared, ...]
    complete: bool = True

    def lookup(self, name: str) -> tuple[Declared, int | None] | None:
        """The declaration behind `name`, and its layer number for a per-layer name."""
        for item in self.declared:
            if item.per_layer is None and item.name == name:
                return item, None
            match = re.fullmatch(rf"{re.escape(item.name)}_([1-9][0-9]*)", name)
            if item.per_layer is not None and match:
                return item, int(match.group(1))
        return None

    def parse(self, config: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every declared value, checked, defaults filled in; a per-layer one as a list, layer 1 first.

        `defaults` replaces declared defaults (the experiment's batch_size, say).
        """
        values: dict[str, Any] = {}
        for item in self.declared:
            if item.per_layer is None:
                values[item.name] = _value(config, item.name, item, (defaults or {}).get(item.name, item.default))
        for item in self.declared:
            if item.per_layer is not None:
                count = values[item.per_layer]
                values[item.name] = [_value(config, f"{item.name}_{k}", item, item.default)
                                     for k in range(1, count + 1)]
        return values

    def check_space(self, space: Space, where: str = "space") -> None:
        """Refuses a parameter the model never reads and a range reaching outside its domain."""
        for name in space:
            found = self.lookup(name)
            if found is None:
                if self.complete:
                    raise TrainableError(self._never_read(name, where))
                continue
            item, layer = found
            if layer is not None:
                self._check_layer(space, name, item, layer, where)
            _check_param(space[name], item, f"{where}.{name}", self.family)

    def _never_read(self, name: str, where: str) -> str:
        names = [item.name if item.per_layer is None else f"{item.name}_1" for item in self.declared]
        per_layer = next((i for i in self.declared if i.per_layer and i.name == name), None)
        hint = (f"; it reads {name}_1, {name}_2, ... (write `per_layer: {per_layer.per_layer}`)" if per_layer
                else f"; it reads {', '.join(names)}{did_you_mean(name, names)}")
        return f"{where}.{name}: model {self.family} never reads {name}{hint}"

    def _check_layer(self, space: Space, name: str, item: Declared, layer: int, where: str) -> None:
        count = item.per_layer
        most = _largest(space[count]) if count in space else self.lookup(count)[0].default
        if most is not None and layer > most:
            raise TrainableError(f"{where}.{name}: model {self.family} reads {item.name}_{layer} only with "
                                  f"{count} >= {layer}, and {count} is at most {most:g}")


def _value(config: Mapping[str, Any], key: str, item: Declared, default: Any) -> Any:
    value = config.get(key, default)
    if not item.domain.accepts(value):
        raise TrainableError(f"{key} must be {item.domain.describe()}; got {shown(value)}")
    return item.domain.parse(value)


def _largest(param: Param) -> float | None:
    values = _reachable(param)
    numbers_only = [v for v in values if _real(v)]
    return max(numbers_only) if numbers_only else None


def _reachable(param: Param) -> list[Any]:
    """The values that decide whether a parameter stays inside a domain: its ends and listed values."""
    if isinstance(param, (Int, Float)):
        return [param.low, param.high, *(param.grid or ())]
    if isinstance(param, Choice):
        return list(param.values)
    if isinstance(param, Bool):
        return [False, True]
    if isinstance(param, Fixed):
        return [param.value]
    return []


def _check_param(param: Param, item: Declared, where: str, family: str) -> None:
    if isinstance(item.domain, Integer) and isinstance(param, Float):
        raise TrainableError(f"{where}: {param.describe()} takes fractional values; model {family} reads "
                              f"{item.name} as {item.domain.describe()} (use type: int)")
    for value in _reachable(param):
        if not item.domain.accepts(value):
            found = shown(value) if isinstance(param, Fixed) else f"{param.describe()} reaches {shown(value)}"
            hint = did_you_mean(value, item.domain.values) if isinstance(item.domain, Among) else ""
            raise TrainableError(f"{where}: {found}; model {family} reads {item.name} as "
                                 f"{item.domain.describe()}{hint}")


def family_params(*groups: Iterable[Declared], family: str, complete: bool = True) -> ModelParams:
    """One family's declarations from groups (its own, the learning ones, the trainable's)."""
    return ModelParams(family, tuple(item for group in groups for item in group), complete)
