"""Bayesian optimization over tunelab's unit cube, on top of Ray's BayesOptSearch.

Ray's BayesOptSearch searches log ranges linearly, accepts only float ranges, and with
`patience` ends the whole search when the Gaussian process re-suggests a configuration.
`UnitCubeBayesSearch` gives it one [0, 1] dimension per searchable parameter and decodes each
point with `Space.decode` (ints, choices, conditions, log scales), and it handles repeats itself:
a repeated configuration is never run twice and never ends the search early.
"""
from __future__ import annotations

import copy
import math
import random
import sys
from typing import Any, Mapping, Optional

from ray.tune.search import UNDEFINED_METRIC_MODE, Searcher
from ray.tune.search.bayesopt import BayesOptSearch
from sklearn.gaussian_process.kernels import Matern

from tunelab.experiments.run.ray_internals import bayesopt_awaiting_warm_up, bayesopt_take_point
from tunelab.experiments.searchers.sequence import StateSearcher
from tunelab.searchspaces.params import Fixed, SpaceError
from tunelab.searchspaces.space import Config, Space

ACQUISITIONS = ("ucb", "ei", "poi")  # the acquisition functions bayesian-optimization 1.4 implements

_ASKS = 5                   # GP suggestions per trial before falling back to a random untried config
_RANDOM_DRAWS = 1000        # random draws for an untried config of a space too large to enumerate
_ENUMERATE_LIMIT = 100_000  # larger finite spaces are treated as unbounded

Point = tuple[float, ...]
ConfigKey = tuple[tuple[str, Any], ...]


class UnitCubeBayesSearch(StateSearcher):
    """A Gaussian process over the unit cube of a Space; each config is tried at most once.

    Every point the inner BayesOptSearch suggests gets exactly one result back, so its warm-up
    barrier (wait until `random_steps` results are in, then fit the GP) always opens: a point
    that decodes to a finished config gets that config's result at once (the GP learns the
    region), one that decodes to a running config gets its result when it finishes, and a failed
    or metric-less trial reports NaN, which the inner searcher counts but does not fit.
    It asks again while each repeat teaches the GP something, at most `_ASKS` times; then the
    trial gets a seeded random config not yet tried, and once every config of a finite space
    has been tried the search is FINISHED.
    """

    def __init__(
        self,
        space: Space,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        *,
        seed: int = 0,
        random_steps: int = 5,
        acquisition: str = "ucb",
        kappa: float = 2.576,
        xi: float = 0.0,
    ) -> None:
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition: {acquisition!r} is not allowed; use one of {', '.join(ACQUISITIONS)}")
        if random_steps < 1:
            raise ValueError(f"random_steps: must be >= 1, got {random_steps}")
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._searched = [i for i, param in enumerate(space.values()) if not isinstance(param, Fixed)]
        if not self._searched:
            raise SpaceError("every parameter is fixed, so there is nothing to search")
        self._dims = [f"u{i}" for i in range(len(self._searched))]
        self._seed = seed
        self._random_steps = random_steps
        self._utility = {"kind": acquisition, "kappa": kappa, "xi": xi}
        self._rng = random.Random(seed)          # random fallback, independent of the GP's RNG
        self._inner: BayesOptSearch | None = None
        self._results: dict[ConfigKey, float] = {}  # finished configs -> final metric (NaN: none)
        self._pending: dict[ConfigKey, list[tuple[str, Point]]] = {}  # running config -> GP points awaiting it
        self._live: dict[str, ConfigKey] = {}    # Ray trial id -> its running config
        self._fitted: set[Point] = set()         # points given a finite value (bayes_opt refuses them twice)
        self._asks = 0
        self._finite: list[Config] | None = None  # every config of a finite space, built when needed
        if metric and mode:
            self._build_inner()

    def _build_inner(self) -> None:
        # skip_duplicate=False and an endless patience: repeats are ours to handle (see class doc).
        self._inner = BayesOptSearch(
            {dim: (0.0, 1.0) for dim in self._dims},
            metric=self._metric,
            mode=self._mode,
            utility_kwargs=dict(self._utility),
            random_state=self._seed,
            random_search_steps=self._random_steps,
            patience=sys.maxsize,
            skip_duplicate=False,
        )
        # One length scale per dimension (bayes_opt fits a single one): a mixed space has many
        # parameters that barely matter, and with one shared scale UCB keeps exploring the corners
        # they span instead of the one that matters.
        self._inner.optimizer.set_gp_params(kernel=Matern(length_scale=[1.0] * len(self._dims), nu=2.5))

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: dict, **spec: Any) -> bool:
        """Takes Tune's metric and mode; refuses a param_space, since the Space is the search space."""
        if config or self._inner is not None:
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        if not (self._metric and self._mode):
            return False
        self._build_inner()
        return True

    # --- suggest -----------------------------------------------------------------------------

    def suggest(self, trial_id: str) -> Config | str | None:
        if self._inner is None:
            raise RuntimeError(
                UNDEFINED_METRIC_MODE.format(cls=type(self).__name__, metric=self._metric, mode=self._mode)
            )
        if self._finite is None:
            self._finite = self._space.all_configs(limit=_ENUMERATE_LIMIT) or []
        if self._finite and len(self._results) + len(self._pending) >= len(self._finite):
            return Searcher.FINISHED  # every config is finished or running
        for _ in range(_ASKS):
            if self._awaiting_warm_up():
                return None
            asked = self._ask()
            if asked is None:
                return None
            inner_id, point = asked
            key = _key(self._decode(point))
            if key in self._pending:
                self._pending[key].append((inner_id, point))  # gets that trial's result when it ends
                break
            if key not in self._results:
                return self._start(trial_id, key, inner_id, point)
            if not self._tell(inner_id, point, self._results[key]):
                break
            # The GP now knows this point's result, so its next suggestion differs: ask again.
        # The GP learned nothing from the last repeat (it is running, or failed, or this exact
        # point is known), so it would only propose it again.
        if self._awaiting_warm_up():
            return None
        point = self._random_untried()
        if point is None:
            return Searcher.FINISHED
        asked = self._ask(point)
        if asked is None:
            return None
        return self._start(trial_id, _key(self._decode(point)), *asked)

    def _awaiting_warm_up(self) -> bool:
        """True while the inner searcher holds back the GP until every warm-up result is in.

        Asking it then would draw a random point, discard it and return None, which advances its
        RNG once per poll and makes the sequence depend on timing; so don't ask.
        """
        return bayesopt_awaiting_warm_up(self._inner)

    def _ask(self, point: Point | None = None) -> tuple[str, Point] | None:
        """One point from the inner searcher (the given one, if any), booked under a fresh id."""
        self._asks += 1
        inner_id = f"ask{self._asks}"
        if point is not None:
            # points_to_evaluate is how BayesOptSearch takes a point it did not choose, and books
            # it like its own (a warm-up step, a live trial), so its result reaches the GP.
            bayesopt_take_point(self._inner, dict(zip(self._dims, point)))
        suggestion = self._inner.suggest(inner_id)
        if suggestion is None:
            return None
        return inner_id, tuple(float(suggestion[dim]) for dim in self._dims)

    def _start(self, trial_id: str, key: ConfigKey, inner_id: str, point: Point) -> Config:
        self._live[trial_id] = key
        self._pending[key] = [(inner_id, point)]
        return dict(key)

    def _decode(self, point: Point) -> Config:
        full = [0.5] * len(self._space)  # fixed parameters decode to their value wherever they sit
        for index, u in zip(self._searched, point):
            full[index] = u
        return self._space.decode(full)

    def _encode(self, config: Config) -> Point:
        full = self._space.encode(config)
        return tuple(full[index] for index in self._searched)

    def _tried(self, key: ConfigKey) -> bool:
        return key in self._results or key in self._pending

    def _random_untried(self) -> Point | None:
        """A seeded random point whose config was never tried; None once the space is exhausted."""
        if not self._finite:
            for _ in range(_RANDOM_DRAWS):
                point = tuple(self._rng.random() for _ in self._dims)
                if not self._tried(_key(self._decode(point))):
                    return point
            return None
        untried = [config for config in self._finite if not self._tried(_key(config))]
        first = self._rng.randrange(len(untried)) if untried else 0
        for config in untried[first:] + untried[:first]:
            point = self._encode(config)  # the centre of the config's cell, which decodes back to it
            if not self._tried(_key(self._decode(point))):
                return point
        return None

    # --- results -----------------------------------------------------------------------------

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        """Records the final metric (NaN when missing, not finite or failed) for every point that waits on it."""
        key = self._live.pop(trial_id, None)
        if key is None:
            return
        value = math.nan if error else _final_value(result, self._metric)
        self._results[key] = value
        for inner_id, point in self._pending.pop(key, []):
            self._tell(inner_id, point, value)

    def _tell(self, inner_id: str, point: Point, value: float) -> bool:
        """Completes one inner point; True when the GP gets a new observation from it.

        bayes_opt raises NotUniqueError on registering the same point twice, and the GP does
        propose a point exactly again (a corner of the cube), so a second copy reports NaN:
        counted towards the warm-up, never fitted.
        """
        fitted = math.isfinite(value) and point not in self._fitted
        if fitted:
            self._fitted.add(point)
        self._inner.on_trial_complete(inner_id, result={self._inner.metric: value if fitted else math.nan})
        return fitted

    # --- state -------------------------------------------------------------------------------

    def get_state(self) -> dict:
        state = {key: value for key, value in self.__dict__.items() if key not in ("_inner", "_finite", "_rng")}
        state["_inner"] = None if self._inner is None else self._inner.get_state()
        state["_rng"] = self._rng.getstate()
        return copy.deepcopy(state)

    def set_state(self, state: dict) -> None:
        state = dict(state)
        inner, rng = state.pop("_inner"), state.pop("_rng")
        self.__dict__.update(state)
        self._rng = random.Random()
        self._rng.setstate(rng)
        self._inner = None
        if inner is not None:
            self._build_inner()
            self._inner.set_state(inner)


def _key(config: Config) -> ConfigKey:
    return tuple(config.items())


def _final_value(result: Optional[Mapping[str, Any]], metric: str) -> float:
    try:
        value = float(result[metric])
    except (KeyError, TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan
