"""The searchers tunelab hands Ray: the planned sequence, and why it is not Ray's BasicVariantGenerator."""
from __future__ import annotations

import copy
import pickle

import pytest
from ray.tune.experiment import Experiment
from ray.tune.search import Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator

from tunelab.experiments.searchers import ConfigSequenceSearcher

CONFIGS = [{"optimizer": "adam"}, {"optimizer": "sgd", "momentum": 0.0}, {"optimizer": "sgd", "momentum": 0.9}]


def _train(config: dict) -> None:
    """Never runs: the generator only builds trials."""


def test_rays_basic_variant_generator_cannot_leave_an_inactive_parameter_out(tmp_path) -> None:
    """Why grid and random use ConfigSequenceSearcher: the reason docs/strategies.md gives, kept true.

    If a Ray release lets points_to_evaluate name keys the param_space lacks, grid and random can
    move to Ray's generator."""
    points = [{"num_layers": 1}]  # units_2 inactive: a 1-layer network has no second layer
    empty = BasicVariantGenerator(points_to_evaluate=points)
    empty.add_configurations([Experiment("x", _train, config={}, storage_path=str(tmp_path))])
    with pytest.raises(KeyError, match="num_layers"):
        empty.next_trial()
    every_key = BasicVariantGenerator(points_to_evaluate=points)
    every_key.add_configurations([Experiment("x", _train, config={"num_layers": None, "units_2": None},
                                             storage_path=str(tmp_path))])
    assert every_key.next_trial().config == {"num_layers": 1, "units_2": None}  # present, as a placeholder


# --- ConfigSequenceSearcher -----------------------------------------------------------------


def test_searcher_suggests_configs_in_order_then_finishes() -> None:
    searcher = ConfigSequenceSearcher(CONFIGS, metric="val_accuracy", mode="max")
    assert searcher.total == 3
    assert [searcher.suggest(f"trial_{i}") for i in range(3)] == CONFIGS
    assert searcher.suggest("trial_3") == Searcher.FINISHED
    assert searcher.suggest("trial_4") == Searcher.FINISHED


def test_searcher_of_nothing_finishes_at_once() -> None:
    assert ConfigSequenceSearcher([]).suggest("trial_0") == Searcher.FINISHED


def test_searcher_hands_out_copies() -> None:
    configs = [dict(config) for config in CONFIGS]
    searcher = ConfigSequenceSearcher(iter(configs))
    configs[0]["optimizer"] = "changed after construction"
    first = searcher.suggest("trial_0")
    first["optimizer"] = "changed by a trial"
    assert searcher.get_state()["configs"][0] == {"optimizer": "adam"}


def test_searcher_learns_nothing_from_results() -> None:
    searcher = ConfigSequenceSearcher(CONFIGS)
    searcher.suggest("trial_0")
    searcher.on_trial_complete("trial_0", {"val_accuracy": 0.9})
    searcher.on_trial_complete("trial_1", None, error=True)
    assert searcher.suggest("trial_1") == CONFIGS[1]


def test_skipped_configs_are_never_suggested_and_the_rest_keep_their_order() -> None:
    """A resume that kept completed trials from tunelab's record skips their configurations, repeats counted."""
    configs = [*CONFIGS, dict(CONFIGS[1])]
    searcher = ConfigSequenceSearcher(configs)
    assert searcher.skip([CONFIGS[1], {"optimizer": "rmsprop"}]) == 1
    suggested = [searcher.suggest(f"t{i}") for i in range(4)]
    assert suggested == [CONFIGS[0], CONFIGS[2], CONFIGS[1], Searcher.FINISHED]


@pytest.mark.parametrize("roundtrip", [lambda state: state, copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))])
def test_searcher_resumes_at_the_cursor(roundtrip) -> None:
    searcher = ConfigSequenceSearcher(CONFIGS)
    searcher.suggest("trial_0")
    searcher.suggest("trial_1")
    state = roundtrip(searcher.get_state())
    resumed = ConfigSequenceSearcher([])
    resumed.set_state(state)
    assert resumed.total == 3
    assert resumed.suggest("trial_2") == CONFIGS[2]
    assert resumed.suggest("trial_3") == Searcher.FINISHED
