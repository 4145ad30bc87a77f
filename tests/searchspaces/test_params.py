"""Hyperparameter types: validation on construction, inclusive sampling, grids, the unit interval."""
from __future__ import annotations

import dataclasses
import math
import random

import pytest

from tunelab.searchspaces.params import Above, Bool, Choice, Fixed, Float, Int, OneOf, SpaceError

# --- validation on construction ----------------------------------------------------------

INVALID = [
    # Int: bounds
    (lambda: Int(3, 1), ["Int(3, 1)", "low must be less than high"]),
    (lambda: Int(2, 2), ["Int(2, 2)", "low must be less than high"]),
    (lambda: Int(1.0, 3), ["Int(1.0, 3)", "low must be an integer", "1.0"]),
    (lambda: Int(1, 3.5), ["high must be an integer", "3.5"]),
    (lambda: Int("1", 3), ["low must be an integer"]),
    (lambda: Int(True, 3), ["low must be an integer", "True"]),
    (lambda: Int(0, True), ["high must be an integer"]),
    # Int: step
    (lambda: Int(0, 10, step=0), ["Int(0, 10)", "step must be >= 1", "0"]),
    (lambda: Int(0, 10, step=-2), ["step must be >= 1"]),
    (lambda: Int(0, 10, step=2.0), ["step must be an integer"]),
    (lambda: Int(0, 10, step=True), ["step must be an integer"]),
    (lambda: Int(0, 3, step=5), ["Int(0, 3)", "step 5 is larger than the range 3"]),
    (lambda: Int(0, 10, step=3), ["Int(0, 10)", "multiple of step 3"]),
    # Int: log
    (lambda: Int(0, 10, log=True), ["Int(0, 10)", "log=True needs low > 0"]),
    (lambda: Int(-5, 10, log=True), ["log=True needs low > 0"]),
    (lambda: Int(1, 10, step=3, log=True), ["log=True cannot be combined with step"]),
    # Int: grid
    (lambda: Int(1, 10, grid=[0, 5]), ["Int(1, 10)", "grid value 0", "outside [1, 10]"]),
    (lambda: Int(1, 10, grid=[5, 11]), ["grid value 11", "outside [1, 10]"]),
    (lambda: Int(1, 10, grid=[2, 2]), ["grid values must be unique", "[2, 2]"]),
    (lambda: Int(1, 10, grid=[]), ["grid must be a non-empty list"]),
    (lambda: Int(1, 10, grid="5"), ["grid must be a non-empty list"]),
    (lambda: Int(1, 10, grid=[2.5]), ["grid value 2.5", "not an integer"]),
    (lambda: Int(1, 10, grid=[True]), ["grid value True", "not an integer"]),
    (lambda: Int(0, 10, step=5, grid=[3]), ["grid value 3", "step 5"]),
    # Float: bounds
    (lambda: Float(1.0, 1.0), ["Float(1.0, 1.0)", "low must be less than high"]),
    (lambda: Float(2.0, 1.0), ["Float(2.0, 1.0)", "low must be less than high"]),
    (lambda: Float(0.0, math.inf), ["high must be a finite number", "inf"]),
    (lambda: Float(-math.inf, 0.0), ["low must be a finite number", "-inf"]),
    (lambda: Float(math.nan, 1.0), ["low must be a finite number", "nan"]),
    (lambda: Float("0", 1.0), ["low must be a finite number"]),
    (lambda: Float(False, 1.0), ["low must be a finite number"]),
    # Float: log and step
    (lambda: Float(0.0, 1.0, log=True), ["Float(0.0, 1.0)", "log=True needs low > 0"]),
    (lambda: Float(-1.0, 1.0, log=True), ["log=True needs low > 0"]),
    (lambda: Float(0.0, 1.0, step=0), ["step must be a positive number", "0"]),
    (lambda: Float(0.0, 1.0, step=-0.1), ["step must be a positive number"]),
    (lambda: Float(0.0, 1.0, step=True), ["step must be a positive number"]),
    (lambda: Float(0.0, 1.0, step=2.0), ["step 2.0 is larger than the range 1"]),
    (lambda: Float(0.0, 1.0, step=0.3), ["multiple of step 0.3"]),
    (lambda: Float(0.1, 1.1, step=0.1, log=True), ["log=True cannot be combined with step"]),
    # Float: grid
    (lambda: Float(0.0, 1.0, grid=[0.5, 1.5]), ["grid value 1.5", "outside [0.0, 1.0]"]),
    (lambda: Float(0.0, 1.0, grid=[0.5, 0.5]), ["grid values must be unique"]),
    (lambda: Float(0.0, 1.0, grid=[]), ["grid must be a non-empty list"]),
    (lambda: Float(0.0, 1.0, grid=["0.5"]), ["grid value '0.5'", "not a number"]),
    (lambda: Float(0.0, 1.0, grid=[math.nan]), ["grid value nan", "outside"]),
    (lambda: Float(0.0, 1.0, step=0.5, grid=[0.3]), ["grid value 0.3", "step 0.5"]),
    # Choice, Bool, Fixed
    (lambda: Choice([]), ["Choice", "at least one value"]),
    (lambda: Choice("abc"), ["Choice", "values must be a list", "'abc'"]),
    (lambda: Choice(None), ["Choice", "values must be a list"]),
    (lambda: Choice(["adam", "adam"]), ["Choice", "values must be unique", "'adam'"]),
    (lambda: Choice([1, [2, 3]]), ["Choice", "strings, numbers, booleans or null", "[2, 3]"]),
    (lambda: Choice([{"a": 1}]), ["Choice", "strings, numbers, booleans or null"]),
    (lambda: Bool(values=["yes", "no"]), ["Bool takes no values", "Choice"]),
    (lambda: Fixed([1, 2]), ["Fixed", "string, number, boolean or null", "[1, 2]"]),
    (lambda: Fixed({"a": 1}), ["Fixed", "string, number, boolean or null"]),
    # conditions
    (lambda: Int(1, 3, when="optimizer"), ["when must map a parent name", "'optimizer'"]),
    (lambda: Int(1, 3, when={"optimizer": []}), ["optimizer needs at least one value"]),
    (lambda: Int(1, 3, when={"": "sgd"}), ["parent names must be non-empty strings"]),
    (lambda: Int(1, 3, when={3: "sgd"}), ["parent names must be non-empty strings", "3"]),
]


@pytest.mark.parametrize("build, fragments", INVALID)
def test_invalid_params_raise_space_error_naming_what_is_allowed(build, fragments) -> None:
    with pytest.raises(SpaceError) as raised:
        build()
    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


VALID = [
    lambda: Int(1, 3),
    lambda: Int(-5, 5),
    lambda: Int(0, 10, step=5),
    lambda: Int(1, 10, step=3),
    lambda: Int(1, 1000, log=True),
    lambda: Int(1, 10, grid=[10, 1]),
    lambda: Int(0, 10, step=5, grid=[0, 10]),
    lambda: Float(0.0, 1.0),
    lambda: Float(0, 1),
    lambda: Float(0.0, 0.5, step=0.1),
    lambda: Float(0.0, 0.3, step=0.1),
    lambda: Float(1e-4, 1e-1, log=True, grid=[1e-3, 1e-2]),
    lambda: Choice([1, True]),
    lambda: Choice([0, False, None, "a", 2.5]),
    lambda: Bool(),
    lambda: Fixed(None),
    lambda: Fixed("adam"),
]


@pytest.mark.parametrize("build", VALID)
def test_valid_params_construct(build) -> None:
    build()


def test_one_and_true_are_distinct_choice_values() -> None:
    choice = Choice([1, True, 0, False])
    assert choice.values == (1, True, 0, False)
    assert choice.contains(True) and choice.contains(1)
    assert Choice([1]).contains(True) is False
    assert Choice([True]).contains(1) is False
    assert Choice([0]).contains(False) is False


def test_params_are_immutable_and_normalized() -> None:
    param = Int(1, 10, grid=[9, 2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        param.low = 0  # type: ignore[misc]
    assert param.grid == (2, 9)
    assert Choice(["a", "b"]).values == ("a", "b")
    assert Float(0, 1).low == 0.0 and isinstance(Float(0, 1).low, float)
    assert Int(1, 3, when={"optimizer": ["sgd", "rmsprop"]}).conditions == (
        ("optimizer", OneOf(("sgd", "rmsprop"))),
    )
    assert Int(1, 3, when={"optimizer": "sgd"}).conditions == (("optimizer", OneOf(("sgd",))),)
    assert Int(1, 3, when={"n": Above(1)}).conditions == (("n", Above(1)),)


def test_dataclasses_replace_keeps_conditions() -> None:
    param = Int(1, 3, when={"optimizer": "sgd"})
    wider = dataclasses.replace(param, high=5)
    assert wider.high == 5
    assert wider.conditions == param.conditions


# --- sampling: bounds are inclusive --------------------------------------------------------


def _samples(param, count: int = 2000, seed: int = 0) -> list:
    rng = random.Random(seed)
    return [param.sample(rng) for _ in range(count)]


@pytest.mark.parametrize(
    "param, expected",
    [
        (Int(1, 3), {1, 2, 3}),
        (Int(-2, 2), {-2, -1, 0, 1, 2}),
        (Int(0, 10, step=5), {0, 5, 10}),
        (Int(1, 10, step=3), {1, 4, 7, 10}),
        (Int(1, 4, log=True), {1, 2, 3, 4}),
        (Float(0.0, 0.5, step=0.1), {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}),
        (Choice(["adam", "sgd", None]), {"adam", "sgd", None}),
        (Bool(), {False, True}),
        (Fixed("adam"), {"adam"}),
    ],
)
def test_sampling_hits_every_value_including_both_bounds(param, expected) -> None:
    samples = _samples(param, count=1000)
    assert set(samples) == expected
    assert all(param.contains(value) for value in samples)


def test_int_samples_are_ints_not_bools() -> None:
    assert all(type(value) is int for value in _samples(Int(0, 1), count=100))
    assert all(type(value) is bool for value in _samples(Bool(), count=100))


def test_int_log_sampling_reaches_both_ends_and_is_log_shaped() -> None:
    param = Int(1, 1000, log=True)
    samples = _samples(param, count=4000)
    assert min(samples) == 1
    assert max(samples) >= 900
    assert all(param.contains(value) for value in samples)
    # Log-uniform: P(value < 32) = log(32) / log(1001), about one half (uniform would give 3%).
    below = sum(value < 32 for value in samples) / len(samples)
    assert 0.45 < below < 0.56


def test_float_log_sampling_spreads_over_every_decade() -> None:
    param = Float(1e-5, 1e-1, log=True)
    samples = _samples(param, count=4000)
    assert all(param.contains(value) for value in samples)
    decades = [sum(10.0**k <= value < 10.0 ** (k + 1) for value in samples) / len(samples) for k in range(-5, -1)]
    assert all(0.2 < share < 0.3 for share in decades), decades


def test_float_sampling_stays_in_bounds() -> None:
    param = Float(-1.0, 1.0)
    samples = _samples(param, count=1000)
    assert all(-1.0 <= value <= 1.0 for value in samples)
    assert min(samples) < -0.9 and max(samples) > 0.9


def test_sampling_is_reproducible_with_a_seed() -> None:
    param = Float(1e-4, 1e-1, log=True)
    assert _samples(param, 50, seed=7) == _samples(param, 50, seed=7)
    assert _samples(param, 50, seed=7) != _samples(param, 50, seed=8)


# --- grid values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, expected",
    [
        (Int(1, 3), [1, 2, 3]),
        (Int(0, 10, step=5), [0, 5, 10]),
        (Int(1, 1000, log=True, grid=[100, 10]), [10, 100]),
        (Float(0.0, 0.5, step=0.1), [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]),
        (Float(0.0, 1.0, grid=[0.5, 0.25]), [0.25, 0.5]),
        (Float(0.0, 1.0, step=0.5, grid=[1.0]), [1.0]),
        (Choice(["b", "a"]), ["b", "a"]),
        (Bool(), [False, True]),
        (Fixed(3), [3]),
    ],
)
def test_grid_values(param, expected) -> None:
    assert list(param.grid_values()) == expected


def test_float_step_points_are_exact() -> None:
    points = Float(0, 0.5, step=0.1).grid_values()
    assert list(points) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert all(type(point) is float for point in points)


def test_float_step_points_stay_inside_bounds() -> None:
    param = Float(1 / 3, 1.0, step=1 / 3)
    points = param.grid_values()
    assert points[0] == 1 / 3 and points[-1] == 1.0
    assert all(param.contains(point) for point in points)


def test_float_without_grid_or_step_cannot_be_grid_searched() -> None:
    with pytest.raises(SpaceError, match="grid points") as raised:
        Float(0.0, 1.0).grid_values()
    assert "step" in str(raised.value)
    assert "float [0, 1]" in str(raised.value)


# --- contains ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, inside, outside",
    [
        (Int(1, 3), [1, 2, 3], [0, 4, 2.0, True, "2", None]),
        (Int(0, 10, step=5), [0, 5, 10], [3, 11]),
        (Float(0.0, 1.0), [0.0, 0.5, 1.0, 1], [-0.1, 1.1, True, "0.5", None]),
        (Float(0.0, 0.5, step=0.1), [0.0, 0.3, 0.1 + 0.2, 0.5], [0.25, 0.6]),
        (Choice(["a", 1]), ["a", 1], ["b", True, 2]),
        (Bool(), [False, True], [0, 1, None]),
        (Fixed(None), [None], [0, "None"]),
    ],
)
def test_contains(param, inside, outside) -> None:
    assert all(param.contains(value) for value in inside)
    assert not any(param.contains(value) for value in outside)


# --- the unit interval --------------------------------------------------------------------

ROUND_TRIP = [
    Int(1, 3),
    Int(-5, 5),
    Int(0, 100, step=10),
    Int(1, 1000, log=True),
    Int(16, 256, log=True, grid=[32, 128]),
    Int(1, 1000, log=True, grid=[1, 2, 999, 1000]),
    Float(0.0, 0.5, step=0.1),
    Float(-1.0, 1.0, step=0.25),
    Float(0.0, 0.95, grid=[0.0, 0.5, 0.9, 0.95]),
    Float(1e-4, 1e-1, log=True, grid=[1e-4, 1e-3, 1e-2, 1e-1]),
    Choice(["adam", "sgd", "rmsprop"]),
    Choice([1, True, 0, False, None, "x", 2.5]),
    Bool(),
    Fixed("adam"),
    Fixed(None),
]


@pytest.mark.parametrize("param", ROUND_TRIP, ids=lambda p: p.describe())
def test_unit_round_trip_for_every_grid_value(param) -> None:
    values = list(range(param.low, param.high + 1)) if isinstance(param, Int) and param.log else param.grid_values()
    for value in values:
        u = param.to_unit(value)
        assert 0.0 <= u <= 1.0
        back = param.from_unit(u)
        if isinstance(param, Float) and param.step is None:
            assert back == pytest.approx(value, rel=1e-12, abs=1e-15)
        else:
            assert back == value and type(back) is type(value), (value, u, back)


@pytest.mark.parametrize(
    "param", ROUND_TRIP + [Float(0.0, 1.0), Float(1e-6, 1e-2, log=True)], ids=lambda p: p.describe()
)
def test_every_unit_point_decodes_to_a_valid_value(param) -> None:
    rng = random.Random(0)
    points = [0.0, 1.0, 0.5, 1e-12, 1 - 1e-12, -0.5, 1.5] + [rng.random() for _ in range(500)]
    for u in points:
        assert param.contains(param.from_unit(u)), (u, param.from_unit(u))


@pytest.mark.parametrize("param", [Int(1, 3), Int(0, 10, step=5), Choice(["a", "b", "c"]), Float(0.0, 0.5, step=0.1)])
def test_unit_interval_is_split_evenly(param) -> None:
    values = param.grid_values()
    decoded = [param.from_unit((i + 0.5) / 600) for i in range(600)]
    counts = [sum(value == target for value in decoded) for target in values]
    assert counts == [600 // len(values)] * len(values)


def test_unit_is_monotone_for_ordered_types() -> None:
    for param in [Int(1, 100), Int(1, 1000, log=True), Float(0.0, 1.0), Float(1e-5, 1.0, log=True)]:
        decoded = [param.from_unit(i / 100) for i in range(101)]
        assert decoded == sorted(decoded)
        assert decoded[0] == param.low and decoded[-1] == param.high


def test_describe() -> None:
    assert Int(1, 3).describe() == "int [1, 3]"
    assert Int(0, 10, step=5).describe() == "int [0, 10], step 5"
    assert Int(1, 100, log=True).describe() == "int [1, 100], log"
    assert Float(1e-4, 0.1, log=True).describe() == "float [0.0001, 0.1], log"
    assert Float(0, 0.5, step=0.1).describe() == "float [0, 0.5], step 0.1"
    assert Choice(["a", "b"]).describe() == "choice a, b"
    assert Bool().describe() == "bool"
    assert Fixed("x").describe() == "fixed 'x'"


@pytest.mark.parametrize(
    "condition, holds, fails",
    [
        (Above(1), [2, 1.5], [1, 0, None, "3", True]),
        (OneOf(("sgd", "rmsprop")), ["sgd", "rmsprop"], ["adam", None]),
        (OneOf((True,)), [True], [1, False]),
        (OneOf((1,)), [1, 1.0], [True]),
    ],
)
def test_conditions_hold(condition, holds, fails) -> None:
    assert all(condition.holds(value) for value in holds)
    assert not any(condition.holds(value) for value in fails)
