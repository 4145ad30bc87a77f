"""ExperimentSpec validation: every mistake is one line naming the key and what is allowed."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tunelab.core.errors import InputError
from tunelab.experiments.errors import SpecError
from tunelab.experiments.spec import apply_override, load_spec, spec_from_dict
from tunelab.searchspaces.catalog import cnn

VALID = {
    "name": "t",
    "trainable": "mlp",
    "data": "digits",
    "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
    "strategy": {"name": "random", "num_samples": 3, "seed": 1},
    "epochs": 2,
}


def with_change(path: str, value):
    raw = copy.deepcopy(VALID)
    node = raw
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


DELETE = object()


def test_valid_spec_has_defaults_and_resolved_space():
    spec = spec_from_dict(VALID)
    assert spec.metric == "val_accuracy" and spec.mode == "max"
    assert spec.strategy.name == "random"
    assert spec.strategy.options == {"num_samples": 3, "seed": 1, "scheduler": None}
    assert list(spec.space) == ["learning_rate"]
    assert spec.resources.cpu == 1.0 and spec.resources.gpu == 0.0


def test_catalog_space_and_fix():
    spec = spec_from_dict(with_change("space", "cnn") | {"trainable": "cnn", "fix": {"optimizer": "adam"}})
    assert "momentum" not in spec.space  # only active for sgd / rmsprop
    assert spec.space["optimizer"].value == "adam"
    assert len(spec.space) == len(cnn.SPACE) - 1


def test_regression_defaults_to_val_loss_minimised_and_the_catalog_space_takes_its_losses():
    spec = spec_from_dict(VALID | {"task": "regression", "data": "diabetes", "space": "mlp", "metrics": ["rmse"]})
    assert spec.task == "regression" and spec.metrics == ("rmse",)
    assert spec.metric == "val_loss" and spec.mode == "min"
    assert spec.space["loss"].values == ("mse", "mae", "huber")
    assert spec_from_dict(VALID | {"space": "mlp"}).space["loss"].values[0] == "categorical_crossentropy"


@pytest.mark.parametrize("metric, mode, expected", [
    ("val_auc", None, "max"), ("val_mae", None, "min"), ("val_auc", "max", "max"),
    ("val_my_score", None, None),  # unknown: prepare asks for a mode once the name is known to be reported
    ("val_my_score", "min", "min"),
])
def test_mode_defaults_to_the_metrics_known_direction(metric, mode, expected):
    raw = VALID | {"metric": metric} | ({"mode": mode} if mode else {})
    assert spec_from_dict(raw).mode == expected


def test_strategy_shorthand_and_defaults():
    spec = spec_from_dict(with_change("strategy", "grid"))
    assert spec.strategy.options == {"max_trials": 10_000, "scheduler": None}


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("nmae", "x", "nmae: unknown key; allowed: name, description"),
        ("nmae", "x", "(did you mean 'name'?)"),
        ("name", DELETE, "name: missing; an experiment needs name, trainable, data, space"),
        ("name", "a/b", "name: 'a/b' must be one folder name"),
        ("epochs", 0, "epochs: must be >= 1, got 0"),
        ("epochs", "5", "epochs: expected an integer, got '5'"),
        ("epochs", True, "epochs: expected an integer, got True"),
        ("trainable", "cnm", "trainable: 'cnm' is not a model family (mlp, cnn) (did you mean 'cnn'?)"),
        ("trainable", "nowhere.models:build", "trainable: cannot import module 'nowhere.models'"),
        ("trainable", "json:nothing_here", "has no callable 'nothing_here'"),
        ("mode", "maximum", "mode: 'maximum' is not allowed; use max or min"),
        ("strategy.name", "randm", "strategy.name: 'randm' is not a strategy; allowed: manual, ofat, grid, random, bayes, tpe, asha, hyperband, sha"),
        ("strategy.name", "randm", "did you mean 'random'?"),
        ("strategy.num_sample", 3, "strategy.num_sample: not an option of strategy random"),
        ("strategy.num_samples", 0, "strategy.num_samples: must be >= 1, got 0"),
        ("strategy.seed", 1.5, "strategy.seed: expected int, got 1.5"),
        ("resources.cpu", 0, "resources.cpu: must be > 0, got 0"),
        ("resources.gpu", -1, "resources.gpu: must be >= 0"),
        ("resources.gpu", 1.5, "resources.gpu: above 1 it must be a whole number"),
        ("resources.gpus", 1, "resources.gpus: unknown key; allowed: cpu, gpu (did you mean 'gpu'?)"),
        ("validation_fraction", 1.0, "validation_fraction: must be between 0 and 1"),
        ("trial_timeout", 0, "trial_timeout: expected a positive number of seconds or a duration like 90s, 10m"),
        ("trial_timeout", "10 minutes", "trial_timeout: expected a positive number of seconds or a duration"),
        ("trial_timeout", None, "trial_timeout: empty; give it a value, or leave the key out"),
        ("space", "cnnn", "space: 'cnnn' is not a catalog space (mlp, cnn) (did you mean 'cnn'?)"),
        ("space.learning_rate.low", 0.0, "Float(0.0, 0.1): log=True needs low > 0"),
        ("space.learning_rate.type", "flaot", "space.learning_rate.type: 'flaot' is not a parameter type"),
        ("fix", {"learning_rat": 0.1}, "fix.learning_rat: not a parameter of the space (did you mean 'learning_rate'?)"),
        ("fix", {"learning_rate": 2.0}, "fix.learning_rate: 2.0 is outside float [0.0001, 0.1], log"),
    ],
)
def test_bad_specs_name_the_key(path, value, message):
    with pytest.raises(InputError) as caught:  # SpecError, or the space's, the trainable's own subclass
        spec_from_dict(with_change(path, value))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\nspace: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad.yaml: invalid YAML at line \d+"):
        load_spec(path)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="experiment file does not exist"):
        load_spec(tmp_path / "nope.yaml")


def test_overrides_parse_yaml_values():
    raw = copy.deepcopy(VALID)
    apply_override(raw, "strategy.num_samples=7")
    apply_override(raw, "resources.gpu=0.5")
    apply_override(raw, "epochs=4")
    spec = spec_from_dict(raw)
    assert spec.strategy.options["num_samples"] == 7
    assert spec.resources.gpu == 0.5 and spec.epochs == 4


def test_override_expands_strategy_shorthand():
    raw = copy.deepcopy(VALID) | {"strategy": "random"}
    apply_override(raw, "strategy.seed=3")
    assert raw["strategy"] == {"name": "random", "seed": 3}


@pytest.mark.parametrize("override", ["epochs", "=3", "name.x=1"])
def test_bad_overrides(override):
    with pytest.raises(SpecError, match="--set"):
        apply_override(copy.deepcopy(VALID), override)


def test_shipped_quickstart_is_valid():
    spec = load_spec(Path(__file__).parents[2] / "experiments" / "quickstart.yaml")
    assert spec.strategy.name == "random" and spec.trainable == "cnn" and spec.data == "digits"


@pytest.mark.parametrize("value, seconds", [(90, 90.0), (2.5, 2.5), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0)])
def test_trial_timeout_takes_seconds_or_a_duration(value, seconds):
    assert spec_from_dict(with_change("trial_timeout", value)).trial_timeout == seconds
    assert spec_from_dict(VALID).trial_timeout is None  # left out: no limit
