"""Space -> Ray Tune: a searcher that hands out tunelab's configs, and native Ray domains.

Ray's BasicVariantGenerator needs every key of a config to exist in the param_space, so it
cannot express "absent when inactive". tunelab therefore computes configs from its own Space
(grid, seeded samples, published configs) and feeds them to Ray through `ConfigSequenceSearcher`.
`to_param_space` compiles a Space to Ray's own sampling domains for code that drives Ray
directly (raw Ray Tune baselines, Ray's other searchers).
"""
from __future__ import annotations

import pickle
from typing import Any, Iterable

from ray import tune
from ray.tune.search import Searcher

from tunelab.searchspaces.params import Bool, Choice, Fixed, Float, Int, Param
from tunelab.searchspaces.space import Config, Space


class StateSearcher(Searcher):
    """A Searcher whose whole state is `get_state()`: Ray saves and restores it with the experiment."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.get_state(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.set_state(pickle.load(file))


class ConfigSequenceSearcher(StateSearcher):
    """Suggests the given configurations in order, then reports FINISHED.

    Its whole state is the list and a cursor, so a resumed experiment continues with the
    next unstarted configuration.
    """

    def __init__(self, configs: Iterable[Config], metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self._configs = [dict(config) for config in configs]
        self._next = 0

    @property
    def total(self) -> int:
        return len(self._configs)

    def suggest(self, trial_id: str) -> Config | str:
        if self._next >= len(self._configs):
            return Searcher.FINISHED
        config = self._configs[self._next]
        self._next += 1
        return dict(config)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Nothing to learn: the sequence is fixed in advance."""

    def get_state(self) -> dict:
        return {"configs": self._configs, "next": self._next}

    def set_state(self, state: dict) -> None:
        self._configs = state["configs"]
        self._next = state["next"]


def to_param_space(space: Space) -> dict[str, Any]:
    """Ray domains with tunelab's semantics (inclusive bounds, log scales).

    A conditional parameter becomes a `tune.sample_from` that yields None while inactive:
    Ray has no notion of an absent key.
    """
    param_space: dict[str, Any] = {}
    for name, param in space.items():
        domain = _domain(param)
        if param.conditions:
            param_space[name] = tune.sample_from(_conditional(space, name, domain))
        else:
            param_space[name] = domain
    return param_space


def _domain(param: Param) -> Any:
    if isinstance(param, Fixed):
        return param.value
    if isinstance(param, (Choice, Bool)):
        return tune.choice(list(param.values))
    # Ray's randint and lograndint exclude the upper bound (qrandint too when q == 1), and its
    # quantized domains snap to multiples of q counted from 0, not from low: a stepped
    # parameter is therefore the finite list of its points.
    if isinstance(param, Int):
        if param.log:
            return tune.lograndint(param.low, param.high + 1)
        if param.step == 1:
            return tune.randint(param.low, param.high + 1)
        return tune.choice(list(range(param.low, param.high + 1, param.step)))
    if isinstance(param, Float):
        if param.log:
            return tune.loguniform(param.low, param.high)
        if param.step is not None:
            return tune.choice(list(param._step_points()))
        return tune.uniform(param.low, param.high)
    raise TypeError(f"no Ray domain for {type(param).__name__}")


def _conditional(space: Space, name: str, domain: Any):
    ancestors = _ancestors(space, name)

    def sample(spec: Any) -> Any:
        # Index each ancestor so Ray resolves it first (its guard retries unresolved reads).
        parents = {key: spec.config[key] for key in ancestors}
        if not space.is_active(name, {key: value for key, value in parents.items() if value is not None}):
            return None
        return domain.sample() if hasattr(domain, "sample") else domain

    return sample


def _ancestors(space: Space, name: str) -> list[str]:
    found: list[str] = []
    for parent, _ in space[name].conditions:
        found.extend(a for a in _ancestors(space, parent) + [parent] if a not in found)
    return found
