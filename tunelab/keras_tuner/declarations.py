"""One hp.Int / Float / Choice / Boolean / Fixed call, recorded: a class per hyperparameter type, as
KerasTuner has, each knowing its default, its values and the tunelab parameter it becomes."""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from tunelab.searchspaces.params import Bool, Choice, Fixed, Float, Int, Param, SpaceError

SAMPLINGS = ("linear", "log", "reverse_log")
_ALL_VALUES_LIMIT = 32  # an Int that changes what build_model declares is tried at this many of its values
_FINITE_LIMIT = 10_000  # larger integer ranges are treated as continuous

Scope = tuple[str, tuple]  # (parent name, values that activate the scope)


@dataclass(frozen=True)
class Declaration(abc.ABC):
    """A declaration with KerasTuner's arguments filled in; `kind` is KerasTuner's class name."""

    name: str
    args: tuple[tuple[str, Any], ...]    # min_value, max_value, step, sampling, default, values, ...
    scopes: tuple[Scope, ...] = ()       # enclosing conditional scopes, outermost first
    kind: ClassVar[str] = ""

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.args)

    @property
    @abc.abstractmethod
    def default(self) -> Any:
        """The value a build gets when the trial sets none, as KerasTuner fills it in."""

    def coerce(self, value: Any) -> Any:
        """A trial's value as build_model expects it (numpy scalars become Python ones)."""
        return value.item() if hasattr(value, "item") else value

    def finite_values(self) -> tuple | None:
        """Every value, in order, for types with few enough of them; None for a continuous range."""
        return None

    def sweep_values(self) -> tuple:
        """The values tried once this parameter changes what build_model declares: all, or 32 spread out."""
        values = self.finite_values() or ()
        if len(values) <= _ALL_VALUES_LIMIT:
            return values
        return tuple(values[round(k * (len(values) - 1) / (_ALL_VALUES_LIMIT - 1))] for k in range(_ALL_VALUES_LIMIT))

    def probe_values(self) -> tuple:
        """Values discovery builds with first (none: only choices and integer ranges can open branches)."""
        return ()

    @abc.abstractmethod
    def param(self, *, grid_points: bool = False) -> Param:
        """The tunelab parameter (without conditions) that samples what KerasTuner would."""

    def summary(self) -> dict[str, Any]:
        """KerasTuner's get_config() of this hyperparameter, as search_space_summary prints it."""
        config = {key: list(value) if isinstance(value, tuple) else value for key, value in self.args}
        if "default" in config:
            config["default"] = self.default  # KerasTuner fills in the default it will use
        config["conditions"] = [{"name": parent, "values": list(values)} for parent, values in self.scopes]
        return config


@dataclass(frozen=True)
class FixedDeclaration(Declaration):
    kind: ClassVar[str] = "Fixed"

    @property
    def default(self) -> Any:
        return self.config["value"]

    def finite_values(self) -> tuple:
        return (self.config["value"],)

    def param(self, *, grid_points: bool = False) -> Param:
        return Fixed(self.config["value"])


@dataclass(frozen=True)
class BooleanDeclaration(Declaration):
    kind: ClassVar[str] = "Boolean"

    @property
    def default(self) -> bool:
        return self.config["default"]

    def finite_values(self) -> tuple:
        return (False, True)

    def probe_values(self) -> tuple:
        return self.finite_values()

    def param(self, *, grid_points: bool = False) -> Param:
        return Bool()


@dataclass(frozen=True)
class ChoiceDeclaration(Declaration):
    kind: ClassVar[str] = "Choice"

    @property
    def default(self) -> Any:
        config = self.config
        return config["values"][0] if config["default"] is None else config["default"]

    def finite_values(self) -> tuple:
        return tuple(self.config["values"])

    def probe_values(self) -> tuple:
        return self.finite_values()

    def param(self, *, grid_points: bool = False) -> Param:
        return Choice(tuple(self.config["values"]))


@dataclass(frozen=True)
class _RangeDeclaration(Declaration):
    """Int and Float: a range with an optional step and a linear or log scale."""

    @property
    def default(self) -> Any:
        config = self.config
        return config["min_value"] if config["default"] is None else config["default"]

    def stepped_points(self) -> tuple | None:
        """KerasTuner's values of a stepped range: min + k * step, or min * step**k for log."""
        config = self.config
        step = config["step"]
        if step is None:
            return None
        low, high = config["min_value"], config["max_value"]
        if config["sampling"] == "linear":
            points = [low + k * step for k in range(int((high - low) // step + 1))]
        else:
            points = [low * step**k for k in range(int(math.log(high / low, step) + 1e-8) + 1)]
        return self._typed(points)

    def grid_points(self) -> tuple:
        """The values KerasTuner's GridSearch tries for a range without a step: ten spread out, and the default."""
        config = self.config
        low, high = config["min_value"], config["max_value"]
        top = self._top(high)
        points = set()
        for k in range(10):
            prob = k * 0.1 + 0.05
            value = low * (top / low) ** prob if config["sampling"] == "log" else low + prob * (top - low)
            points.add(self._clamped(value, high))
        points.add(self.default)
        return tuple(sorted(points))

    def param(self, *, grid_points: bool = False) -> Param:
        """`grid_points` gives continuous ranges the points KerasTuner's GridSearch visits."""
        config = self.config
        low, high, step, sampling = config["min_value"], config["max_value"], config["step"], config["sampling"]
        if sampling == "reverse_log":
            raise SpaceError(f"{self.name}: sampling='reverse_log' has no tunelab equivalent; use 'log' or 'linear'")
        if low == high:
            return Fixed(low)
        points = self.stepped_points()
        if sampling == "log" and step is not None:  # KerasTuner multiplies by step: 2, 4, 8, 16
            return Choice(points) if len(points) > 1 else Fixed(points[0])
        if step is not None:
            return Fixed(points[0]) if len(points) == 1 else self._stepped_param(low, points[-1], step)
        return self._continuous_param(low, high, sampling, self.grid_points() if grid_points else None)

    @abc.abstractmethod
    def _typed(self, points: Sequence[float]) -> tuple:
        """The points as this type's values (ints rounded, floats as floats)."""

    def _top(self, high: float) -> float:
        return high

    def _clamped(self, value: float, high: float) -> Any:
        return value

    @abc.abstractmethod
    def _stepped_param(self, low: Any, high: Any, step: Any) -> Param:
        """The parameter of a stepped range from low to high."""

    @abc.abstractmethod
    def _continuous_param(self, low: Any, high: Any, sampling: str, grid: tuple | None) -> Param:
        """The parameter of a range without a step."""


@dataclass(frozen=True)
class IntDeclaration(_RangeDeclaration):
    kind: ClassVar[str] = "Int"

    def coerce(self, value: Any) -> Any:
        """BayesOpt's 3.0 for an Int becomes 3."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return super().coerce(value)

    def finite_values(self) -> tuple | None:
        config = self.config
        low, high = config["min_value"], config["max_value"]
        if config["sampling"] == "linear" and (high - low) // config["step"] >= _FINITE_LIMIT:
            return None
        points = self.stepped_points()
        if points is not None:
            return points
        return tuple(range(low, high + 1)) if high - low < _FINITE_LIMIT else None

    def probe_values(self) -> tuple:
        """The ends of the range: the largest first, which opens the most loop layers."""
        values = self.finite_values()
        if values is not None:
            return (values[-1], values[0])
        return (self.config["max_value"], self.config["min_value"])

    def _typed(self, points: Sequence[float]) -> tuple:
        return tuple(int(round(point)) for point in points)

    def _top(self, high: float) -> float:
        return high + 1  # KerasTuner samples ints from [min, max + 1)

    def _clamped(self, value: float, high: float) -> Any:
        return min(high, int(value))

    def _stepped_param(self, low: Any, high: Any, step: Any) -> Param:
        return Int(low, high, step=step)

    def _continuous_param(self, low: Any, high: Any, sampling: str, grid: tuple | None) -> Param:
        return Int(low, high, log=True, grid=grid)  # log sampling: linear Ints always have a step


@dataclass(frozen=True)
class FloatDeclaration(_RangeDeclaration):
    kind: ClassVar[str] = "Float"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return super().coerce(value)

    def finite_values(self) -> tuple | None:
        return self.stepped_points()

    def _typed(self, points: Sequence[float]) -> tuple:
        return tuple(float(point) for point in points)

    def _stepped_param(self, low: Any, high: Any, step: Any) -> Param:
        return Float(low, high, step=step)

    def _continuous_param(self, low: Any, high: Any, sampling: str, grid: tuple | None) -> Param:
        return Float(low, high, log=sampling == "log", grid=grid)


DECLARATIONS: dict[str, type[Declaration]] = {
    cls.kind: cls for cls in (IntDeclaration, FloatDeclaration, ChoiceDeclaration, BooleanDeclaration, FixedDeclaration)
}
KINDS = tuple(DECLARATIONS)


def make_declaration(kind: str, name: str, args: tuple, scopes: tuple[Scope, ...] = ()) -> Declaration:
    """The declaration of KerasTuner type `kind` ("Int", "Float", "Choice", "Boolean" or "Fixed")."""
    return DECLARATIONS[kind](name, args, scopes)
