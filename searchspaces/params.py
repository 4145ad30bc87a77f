"""Hyperparameter types: immutable, validated on construction, inclusive bounds.

Each type knows three things every strategy needs: how to sample a value, which values a grid
visits, and how to map a value to the unit interval and back (KerasTuner's idea), so random
search, grid search and the Bayesian optimizer all search the same space.
"""
from __future__ import annotations

import abc
import math
import random
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

from tunelab.core.errors import InputError, shown

Scalar = Union[str, int, float, bool, None]


class SpaceError(InputError):
    """A search space is malformed; the message names the parameter and what is allowed."""


# --- conditions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Above:
    """Active while a count parent exceeds `threshold`: layer k+1 exists while num_layers > k."""

    threshold: float

    def holds(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > self.threshold

    def describe(self) -> str:
        return f"> {self.threshold:g}"


@dataclass(frozen=True)
class OneOf:
    """Active while the parent takes one of `values` (momentum only when optimizer is sgd)."""

    values: tuple

    def holds(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def describe(self) -> str:
        return "in " + ", ".join(repr(v) for v in self.values)


Condition = Union[Above, OneOf]


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps True apart from 1, so Bool parents and Int parents don't mix."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _normalize_when(when: Mapping[str, Any] | None) -> tuple[tuple[str, Condition], ...]:
    if when is None:
        return ()
    if isinstance(when, tuple) and all(
        isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (Above, OneOf)) for item in when
    ):
        when = dict(when)  # already normalized: dataclasses.replace hands the field back
    if not isinstance(when, Mapping):
        raise SpaceError(f"when must map a parent name to its values or Above(k), got {shown(when)}")
    conditions = []
    for parent, rule in when.items():
        if not isinstance(parent, str) or not parent:
            raise SpaceError(f"when: parent names must be non-empty strings, got {shown(parent)}")
        if isinstance(rule, (Above, OneOf)):
            conditions.append((parent, rule))
        elif isinstance(rule, (list, tuple, set, frozenset)):
            if not rule:
                raise SpaceError(f"when: {parent} needs at least one value")
            conditions.append((parent, OneOf(tuple(rule))))
        else:
            conditions.append((parent, OneOf((rule,))))
    return tuple(conditions)


# --- parameter types ---------------------------------------------------------------------


@dataclass(frozen=True)
class Param(abc.ABC):
    """Base of all hyperparameter types; `when` makes the parameter conditional."""

    when: Any = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _normalize_when(self.when))

    @property
    def conditions(self) -> tuple[tuple[str, Condition], ...]:
        return self.when

    @abc.abstractmethod
    def sample(self, rng: random.Random) -> Any:
        """A random value, drawn from `rng` alone so a seeded search repeats itself."""

    @abc.abstractmethod
    def grid_values(self) -> tuple:
        """The values a grid search enumerates."""

    @abc.abstractmethod
    def to_unit(self, value: Any) -> float:
        """Maps a value into [0, 1] so one continuous optimizer can search every type."""

    @abc.abstractmethod
    def from_unit(self, u: float) -> Any:
        """Inverse of `to_unit`: any u in [0, 1] decodes to a valid value."""

    @abc.abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether `value` is one this parameter can take."""

    @abc.abstractmethod
    def describe(self) -> str:
        """A short human-readable form, for errors and reports."""


def _check_flag(name: str, key: str, value: Any) -> None:
    """Booleans are booleans: the string 'false' is truthy, and would turn the flag on."""
    if not isinstance(value, bool):
        raise SpaceError(f"{name}: {key} must be true or false, got {shown(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _on_step(value: float, low: float, step: float | None) -> bool:
    if step is None:
        return True
    steps = (value - low) / step
    return abs(steps - round(steps)) <= 1e-9 * max(1.0, abs(steps))


def _check_grid(
    kind: str, grid: Sequence | None, low: float, high: float, cast: type, step: float | None = None
) -> tuple | None:
    if grid is None:
        return None
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid:
        raise SpaceError(f"{kind}: grid must be a non-empty list of values, got {shown(grid)}")
    for value in grid:
        if not _is_number(value) or (cast is int and not float(value).is_integer()):
            raise SpaceError(f"{kind}: grid value {shown(value)} is not {'an integer' if cast is int else 'a number'}")
        if not low <= value <= high:
            raise SpaceError(f"{kind}: grid value {shown(value)} is outside [{low}, {high}]")
        if not _on_step(value, low, step):
            raise SpaceError(f"{kind}: grid value {shown(value)} is not low + k * step (step {step})")
    if len(set(grid)) != len(grid):
        raise SpaceError(f"{kind}: grid values must be unique, got {list(grid)}")
    return tuple(sorted(cast(v) for v in grid))


def _clip01(u: float) -> float:
    return min(1.0, max(0.0, float(u)))


@dataclass(frozen=True)
class Int(Param):
    """An integer in [low, high], both included; `log` samples small values as often as large."""

    low: int
    high: int
    step: int = 1
    log: bool = False
    grid: Sequence[int] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = f"Int({shown(self.low)}, {shown(self.high)})"
        for key in ("low", "high", "step"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpaceError(f"{name}: {key} must be an integer, got {shown(value)}")
        _check_flag(name, "log", self.log)
        if self.low >= self.high:
            raise SpaceError(f"{name}: low must be less than high")
        if self.step < 1:
            raise SpaceError(f"{name}: step must be >= 1, got {self.step}")
        if self.step > self.high - self.low:
            raise SpaceError(f"{name}: step {self.step} is larger than the range {self.high - self.low}")
        if (self.high - self.low) % self.step:
            raise SpaceError(f"{name}: high - low must be a multiple of step {self.step} so high is reachable")
        if self.log and self.low <= 0:
            raise SpaceError(f"{name}: log=True needs low > 0")
        if self.log and self.step != 1:
            raise SpaceError(f"{name}: log=True cannot be combined with step")
        object.__setattr__(self, "grid", _check_grid(name, self.grid, self.low, self.high, int, self.step))

    @property
    def _count(self) -> int:
        return (self.high - self.low) // self.step + 1

    def sample(self, rng: random.Random) -> int:
        return self.from_unit(rng.random())

    def grid_values(self) -> tuple:
        return self.grid or tuple(range(self.low, self.high + 1, self.step))

    def to_unit(self, value: int) -> float:
        if self.log:
            span = math.log(self.high + 1) - math.log(self.low)
            return _clip01((math.log(value + 0.5) - math.log(self.low)) / span)
        return _clip01(((value - self.low) // self.step + 0.5) / self._count)

    def from_unit(self, u: float) -> int:
        # Each integer owns an equal slice of [0, 1] (a log-sized slice when log), so the
        # upper bound is as likely as any other value: bounds are inclusive.
        u = _clip01(u)
        if self.log:
            value = int(math.exp(math.log(self.low) + u * (math.log(self.high + 1) - math.log(self.low))))
            return min(self.high, max(self.low, value))
        index = min(self._count - 1, int(u * self._count))
        return self.low + index * self.step

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int) and not isinstance(value, bool)
            and self.low <= value <= self.high and (value - self.low) % self.step == 0
        )

    def describe(self) -> str:
        extra = ", log" if self.log else (f", step {self.step}" if self.step != 1 else "")
        return f"int [{self.low}, {self.high}]{extra}"


@dataclass(frozen=True)
class Float(Param):
    """A real number in [low, high]; `log` for scales such as the learning rate, `step` to quantize."""

    low: float
    high: float
    step: float | None = None
    log: bool = False
    grid: Sequence[float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = f"Float({shown(self.low)}, {shown(self.high)})"
        for key in ("low", "high"):
            value = getattr(self, key)
            if not _is_number(value) or not math.isfinite(value):
                raise SpaceError(f"{name}: {key} must be a finite number, got {shown(value)}")
            object.__setattr__(self, key, float(value))  # Float(0, 1) yields floats, never int 0
        _check_flag(name, "log", self.log)
        if self.low >= self.high:
            raise SpaceError(f"{name}: low must be less than high")
        if self.log and self.low <= 0:
            raise SpaceError(f"{name}: log=True needs low > 0")
        if self.step is not None:
            if not _is_number(self.step) or self.step <= 0:
                raise SpaceError(f"{name}: step must be a positive number, got {shown(self.step)}")
            if self.step > self.high - self.low:
                raise SpaceError(f"{name}: step {self.step} is larger than the range {self.high - self.low:g}")
            if self.log:
                raise SpaceError(f"{name}: log=True cannot be combined with step")
            steps = (self.high - self.low) / self.step
            if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
                raise SpaceError(f"{name}: high - low must be a multiple of step {self.step} so high is reachable")
        object.__setattr__(self, "grid", _check_grid(name, self.grid, self.low, self.high, float, self.step))

    def _step_points(self) -> tuple:
        count = round((self.high - self.low) / self.step) + 1
        inner = (round(self.low + i * self.step, 12) for i in range(1, count - 1))
        return (self.low, *(min(self.high, max(self.low, value)) for value in inner), self.high)

    def sample(self, rng: random.Random) -> float:
        return self.from_unit(rng.random())

    def grid_values(self) -> tuple:
        if self.grid:
            return self.grid
        if self.step is not None:
            return self._step_points()
        raise SpaceError(f"{self.describe()}: grid search needs grid points (grid=[...]) or a step")

    def to_unit(self, value: float) -> float:
        if self.log:
            return _clip01((math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low)))
        return _clip01((value - self.low) / (self.high - self.low))

    def from_unit(self, u: float) -> float:
        u = _clip01(u)
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.step is not None:
            points = self._step_points()
            return points[min(len(points) - 1, int(u * len(points)))]
        else:
            value = self.low + u * (self.high - self.low)
        return min(self.high, max(self.low, value))

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= value <= self.high and _on_step(value, self.low, self.step)

    def describe(self) -> str:
        extra = ", log" if self.log else (f", step {self.step:g}" if self.step is not None else "")
        return f"float [{self.low:g}, {self.high:g}]{extra}"


@dataclass(frozen=True)
class Choice(Param):
    """One of a list of distinct values (optimizer, activation, padding, ...)."""

    values: Sequence[Scalar]

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Sequence):
            raise SpaceError(f"Choice: values must be a list, got {shown(self.values)}")
        values = tuple(self.values)
        if not values:
            raise SpaceError("Choice: needs at least one value")
        for value in values:
            if not isinstance(value, (str, int, float, bool, type(None))):
                raise SpaceError(f"Choice: values must be strings, numbers, booleans or null, got {shown(value)}")
        keys = [(type(v), v) for v in values]
        if len(set(keys)) != len(keys):
            raise SpaceError(f"Choice: values must be unique, got {list(values)}")
        object.__setattr__(self, "values", values)

    def sample(self, rng: random.Random) -> Any:
        return self.values[rng.randrange(len(self.values))]

    def grid_values(self) -> tuple:
        return self.values

    def to_unit(self, value: Any) -> float:
        index = next(i for i, v in enumerate(self.values) if _same(v, value))
        return (index + 0.5) / len(self.values)

    def from_unit(self, u: float) -> Any:
        return self.values[min(len(self.values) - 1, int(_clip01(u) * len(self.values)))]

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def describe(self) -> str:
        return "choice " + ", ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Bool(Choice):
    """True or False (use batch norm, use bias, ...)."""

    values: Sequence[Scalar] = (False, True)

    def __post_init__(self) -> None:
        if tuple(self.values) != (False, True):
            raise SpaceError("Bool takes no values; use Choice for other sets")
        super().__post_init__()

    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True)
class Fixed(Param):
    """A constant: recorded with every trial but never searched."""

    value: Scalar

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.value, (str, int, float, bool, type(None))):
            raise SpaceError(f"Fixed: value must be a string, number, boolean or null, got {shown(self.value)}")

    def sample(self, rng: random.Random) -> Any:
        return self.value

    def grid_values(self) -> tuple:
        return (self.value,)

    def to_unit(self, value: Any) -> float:
        return 0.5

    def from_unit(self, u: float) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        return _same(value, self.value)

    def describe(self) -> str:
        return f"fixed {self.value!r}"
