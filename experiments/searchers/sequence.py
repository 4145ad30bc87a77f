"""The planned sequence of configurations, handed to Ray one trial at a time.

Grid and random search (and the manual strategies) compute their configurations up front from
tunelab's Space: a grid, seeded distinct samples, published configurations. Ray's own
BasicVariantGenerator cannot run them as they are: fed through `points_to_evaluate` with an
empty param_space it fails (`KeyError: 'units_2'` in `_get_preset_variants`: every key of a point
must be in the param_space), and with every key in the param_space each trial's config carries
every parameter, an inactive one as the placeholder (`{'num_layers': 1, 'units_2': None}`).
A configuration must leave an inactive parameter out, so this small Searcher hands them out.
"""
from __future__ import annotations

import pickle
from typing import Iterable

from ray.tune.search import Searcher

from tunelab.searchspaces import Config


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

    def take_back(self, configs: list[Config]) -> int:
        """Steps the cursor back over the last configurations handed out, where they are among `configs`
        (trials a resume set aside: they never ran, so they are suggested again). Returns how many."""
        remaining = [dict(config) for config in configs]
        taken = 0
        while self._next > 0 and self._configs[self._next - 1] in remaining:
            remaining.remove(self._configs[self._next - 1])
            self._next -= 1
            taken += 1
        return taken

    def skip(self, configs: list[Config]) -> int:
        """Moves the not yet suggested configurations that are among `configs` (trials a resume kept as
        completed from tunelab's record) before the cursor, so they are not suggested. Returns how many."""
        remaining = [dict(config) for config in configs]
        done = []
        for index in range(self._next, len(self._configs)):
            if self._configs[index] in remaining:
                remaining.remove(self._configs[index])
                done.append(index)
        rest = [index for index in range(self._next, len(self._configs)) if index not in done]
        self._reorder([*range(self._next), *done, *rest])
        self._next += len(done)
        return len(done)

    def _reorder(self, order: list[int]) -> None:
        """Puts the configurations in `order` (indices); a subclass keeping per-configuration data follows."""
        self._configs = [self._configs[index] for index in order]

    def get_state(self) -> dict:
        return {"configs": self._configs, "next": self._next}

    def set_state(self, state: dict) -> None:
        self._configs = state["configs"]
        self._next = state["next"]
