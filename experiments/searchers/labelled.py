"""Searchers for the manual methods: a sequence whose labels go to the events file, and a chain
that runs published configurations before a search (and lets a model-based search learn from them).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ray.tune.search import Searcher

from tunelab.experiments.searchers.sequence import ConfigSequenceSearcher, StateSearcher
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import Config


class LabelledSequenceSearcher(ConfigSequenceSearcher):
    """A ConfigSequenceSearcher that records each configuration's label against its trial."""

    def __init__(self, configs: Sequence[Config], labels: Sequence[Mapping[str, Any]], events: TrialEventLog) -> None:
        super().__init__(configs)
        self._labels = [dict(label) for label in labels]
        self._events = events

    def suggest(self, trial_id: str) -> Config | str:
        index = self._next
        config = super().suggest(trial_id)
        if config != Searcher.FINISHED:
            self._events.record(trial_id, "suggested", **self._labels[index])
        return config

    def _reorder(self, order: list[int]) -> None:
        super()._reorder(order)
        self._labels = [self._labels[index] for index in order]

    def get_state(self) -> dict:
        return {**super().get_state(), "labels": self._labels}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._labels = state["labels"]


class ChainedSearcher(StateSearcher):
    """Runs `first` to the end, then `then`; results of the first phase also inform the second.

    That is how published configurations run before a search and, for a model-based searcher,
    seed it (through `add_evaluated_point`, where the searcher supports it).
    """

    def __init__(self, first: Searcher, then: Searcher, metric: str, mode: str) -> None:
        super().__init__(metric=metric, mode=mode)
        self._first, self._then = first, then
        self._first_done = False
        self._first_trials: dict[str, Config] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self._first.set_search_properties(metric, mode, config, **spec)
        return self._then.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> Config | str | None:
        if not self._first_done:
            config = self._first.suggest(trial_id)
            if config != Searcher.FINISHED:
                self._first_trials[trial_id] = config
                return config
            self._first_done = True
        return self._then.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id not in self._first_trials:
            self._then.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        config = self._first_trials.pop(trial_id, None)
        if config is None:
            self._then.on_trial_complete(trial_id, result=result, error=error)
            return
        self._first.on_trial_complete(trial_id, result=result, error=error)
        value = (result or {}).get(self.metric)
        if not error and isinstance(value, (int, float)):
            try:
                self._then.add_evaluated_point(config, value)
            except NotImplementedError:
                pass  # a searcher that cannot learn from outside results simply starts fresh

    def get_state(self) -> dict:
        return {
            "first": self._first.get_state(), "then": self._then.get_state(),
            "first_done": self._first_done, "first_trials": self._first_trials,
        }

    def set_state(self, state: dict) -> None:
        self._first.set_state(state["first"])
        self._then.set_state(state["then"])
        self._first_done, self._first_trials = state["first_done"], state["first_trials"]
