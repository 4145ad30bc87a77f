"""Published configurations and one-factor-at-a-time: exact, validated, labelled lists."""
from __future__ import annotations

import json

import pytest
from ray.tune.search import Searcher

from tunelab.core.run_folder import EVENTS_FILE
from tunelab.experiments.manual import one_factor_at_a_time, published_configs
from tunelab.experiments.searchers import ChainedSearcher, ConfigSequenceSearcher, LabelledSequenceSearcher
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import Above, Choice, Fixed, Float, Int, Space, SpaceError

SPACE = Space({
    "optimizer": Choice(["adam", "sgd"]),
    "momentum": Float(0.0, 0.9, grid=[0.0, 0.5, 0.9], when={"optimizer": "sgd"}),
    "num_layers": Int(1, 3),
    "units_1": Int(16, 64, grid=[16, 64], when={"num_layers": Above(0)}),
    "units_2": Int(16, 64, grid=[16, 64], when={"num_layers": Above(1)}),
    "units_3": Int(16, 64, grid=[16, 64], when={"num_layers": Above(2)}),
    "activation": Fixed("relu"),
})
BASELINE = {"optimizer": "adam", "momentum": 0.9, "num_layers": 1, "units_1": 16, "units_2": 32, "units_3": 32}


def test_published_configs_keep_order_and_sources():
    configs, labels = published_configs(SPACE, [
        {"source": "Keras MNIST example", "params": {"optimizer": "adam", "num_layers": 2}},
        {"source": "LeCun 1998", "params": {"optimizer": "sgd", "momentum": 0.9}},
    ])
    # Fixed values (and `fix:` pins) hold for published configurations too: the trainable gets them.
    assert configs == [{"optimizer": "adam", "num_layers": 2, "activation": "relu"},
                       {"optimizer": "sgd", "momentum": 0.9, "activation": "relu"}]
    assert labels == [{"source": "Keras MNIST example"}, {"source": "LeCun 1998"}]


def test_a_published_configuration_that_contradicts_a_pin_is_refused():
    with pytest.raises(SpaceError, match=r"^strategy.configs\[0\].params.activation: 'tanh' contradicts the pinned"):
        published_configs(SPACE, [{"source": "LeCun 1998", "params": {"activation": "tanh"}}])


@pytest.mark.parametrize(
    "entries, message",
    [
        ([], "needs a list"),
        ([{"params": {"optimizer": "adam"}}], "strategy.configs[0].source: say where"),
        ([{"source": "x", "params": {"optimiser": "adam"}}], "did you mean 'optimizer'?"),
        ([{"source": "x", "params": {"num_layers": 9}}], "strategy.configs[0].params.num_layers: 9 is outside"),
        ([{"source": "x", "params": {"optimizer": "adam", "momentum": 0.5}}], "momentum: set, but its condition"),
        ([{"source": "x", "parms": {}}], "expected {source:"),
    ],
)
def test_published_config_errors(entries, message):
    with pytest.raises(SpaceError) as caught:
        published_configs(SPACE, entries)
    assert message in str(caught.value)


def test_ofat_varies_one_factor_per_run():
    configs, labels = one_factor_at_a_time(SPACE, BASELINE, ["optimizer", "num_layers", "units_1"])
    base = configs[0]
    assert base == {"optimizer": "adam", "num_layers": 1, "units_1": 16, "activation": "relu"}
    assert labels[0] == {"factor": "baseline"}
    assert len(configs) == len({json.dumps(c, sort_keys=True) for c in configs})  # no duplicate runs
    for config, label in zip(configs[1:], labels[1:]):
        factor = label["factor"]
        assert config[factor] == label["value"] != base[factor]
        # every other decision is the baseline's (dependants switched on take baseline values)
        for name, value in config.items():
            if name != factor:
                assert value == BASELINE.get(name, "relu")
    assert {"optimizer": "sgd", "momentum": 0.9, "num_layers": 1, "units_1": 16, "activation": "relu"} in configs
    assert {"optimizer": "adam", "num_layers": 3, "units_1": 16, "units_2": 32, "units_3": 32,
            "activation": "relu"} in configs
    assert len(configs) == 1 + 1 + 2 + 1  # baseline, sgd, 2 and 3 layers, 64 units


def test_ofat_default_factors_are_the_searchable_params_the_baseline_uses():
    configs, labels = one_factor_at_a_time(SPACE, {**BASELINE, "optimizer": "sgd"}, None)
    assert {label["factor"] for label in labels} == {"baseline", "optimizer", "momentum", "num_layers", "units_1"}


@pytest.mark.parametrize(
    "baseline, factors, message",
    [
        ({**BASELINE, "num_layers": 7}, None, "strategy.baseline.num_layers: 7 is outside"),
        ({k: v for k, v in BASELINE.items() if k != "units_3"}, ["num_layers"],
         "strategy.baseline.units_3: missing (needed when num_layers = 3)"),
        (BASELINE, ["activation"], "'activation' is not a searchable parameter"),
        (BASELINE, ["momentum"], "momentum is inactive in the baseline"),
        (BASELINE, ["unit_1"], "did you mean 'units_1'?"),
    ],
)
def test_ofat_errors(baseline, factors, message):
    with pytest.raises(SpaceError) as caught:
        one_factor_at_a_time(SPACE, baseline, factors)
    assert message in str(caught.value)


def test_ofat_float_factor_needs_grid_points():
    space = Space({"lr": Float(0.001, 0.1, log=True)})
    with pytest.raises(SpaceError, match="lr: .*grid points"):
        one_factor_at_a_time(space, {"lr": 0.01}, None)


def test_labelled_searcher_records_labels_per_trial(tmp_path):
    events = TrialEventLog()
    events.attach(str(tmp_path))
    searcher = LabelledSequenceSearcher([{"a": 1}, {"a": 2}], [{"source": "x"}, {"source": "y"}], events)
    assert searcher.suggest("t1") == {"a": 1} and searcher.suggest("t2") == {"a": 2}
    assert searcher.suggest("t3") == Searcher.FINISHED
    lines = [json.loads(line) for line in (tmp_path / EVENTS_FILE).read_text().splitlines()]
    assert [(e["trial_id"], e["event"], e["source"]) for e in lines] == [("t1", "suggested", "x"),
                                                                        ("t2", "suggested", "y")]


def test_a_labelled_searcher_skipping_a_config_keeps_each_label_with_its_config(tmp_path):
    events = TrialEventLog()
    events.attach(str(tmp_path))
    searcher = LabelledSequenceSearcher([{"a": 1}, {"a": 2}, {"a": 3}], [{"source": s} for s in "xyz"], events)
    searcher.skip([{"a": 2}])
    assert [searcher.suggest(t) for t in ("t1", "t2", "t3")] == [{"a": 1}, {"a": 3}, Searcher.FINISHED]
    lines = [json.loads(line) for line in (tmp_path / EVENTS_FILE).read_text().splitlines()]
    assert [(e["trial_id"], e["source"]) for e in lines] == [("t1", "x"), ("t2", "z")]


class RecordingSearcher(ConfigSequenceSearcher):
    def __init__(self, configs):
        super().__init__(configs)
        self.evaluated = []

    def add_evaluated_point(self, parameters, value, error=False, pruned=False, intermediate_values=None):
        self.evaluated.append((parameters, value))


def test_chained_searcher_runs_first_then_second_and_forwards_results():
    second = RecordingSearcher([{"a": 3}])
    chained = ChainedSearcher(ConfigSequenceSearcher([{"a": 1}, {"a": 2}]), second, "acc", "max")
    assert [chained.suggest(t) for t in ("t1", "t2", "t3")] == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert chained.suggest("t4") == Searcher.FINISHED
    chained.on_trial_complete("t1", {"acc": 0.5})
    chained.on_trial_complete("t2", None, error=True)
    chained.on_trial_complete("t3", {"acc": 0.7})
    assert second.evaluated == [({"a": 1}, 0.5)]


def test_chained_searcher_state_round_trip():
    chained = ChainedSearcher(ConfigSequenceSearcher([{"a": 1}]), ConfigSequenceSearcher([{"a": 2}]), "acc", "max")
    chained.suggest("t1")
    state = chained.get_state()
    fresh = ChainedSearcher(ConfigSequenceSearcher([{"a": 1}]), ConfigSequenceSearcher([{"a": 2}]), "acc", "max")
    fresh.set_state(state)
    assert fresh.suggest("t2") == {"a": 2}


def test_manual_hands_fix_pins_to_the_trainable(tmp_path, ray_session):
    """The issue's case: `fix: {optimizer: sgd, loss: categorical_hinge}` used to reach the trials as nothing."""
    from pathlib import Path

    from tunelab.experiments.run.prepare import prepare
    from tunelab.experiments.run.runner import run
    from tunelab.experiments.spec import spec_from_dict

    spec = spec_from_dict({
        "name": "pins", "trainable": "cnn", "data": "digits", "space": "cnn", "epochs": 1, "batch_size": 128,
        "storage": str(tmp_path), "fix": {"optimizer": "sgd", "loss": "categorical_hinge"},
        "strategy": {"name": "manual", "configs": [
            {"source": "a tutorial", "params": {"num_conv_layers": 1, "learning_rate": 0.01}}]},
    })
    outcome = run(prepare(spec, name="run"))
    params = [json.loads(p.read_text()) for p in Path(outcome.path).glob("trial_*/params.json")]
    assert params == [{"num_conv_layers": 1, "learning_rate": 0.01, "optimizer": "sgd",
                       "loss": "categorical_hinge"}]
