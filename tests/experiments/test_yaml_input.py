"""Strict YAML reading: what YAML allows still reads the same; what would silently change the experiment is refused."""
from __future__ import annotations

import pytest

from tunelab.experiments.errors import SpecError
from tunelab.experiments.yaml_input import parse_yaml


@pytest.mark.parametrize("written, number", [
    ("1e-4", 1e-4), ("5e3", 5000.0), ("-2E-3", -0.002), ("+1e2", 100.0), ("1.0e-4", 1e-4), (".5", 0.5),
    ("3.", 3.0), (".inf", float("inf")), ("-.inf", float("-inf")),
])
def test_numbers_read_as_yaml_1_2_reads_them(written, number):
    value = parse_yaml(f"low: {written}\n", "x.yaml")["low"]
    assert isinstance(value, float) and value == number


@pytest.mark.parametrize("written, value", [("3", 3), ("1_000", 1000), ("'1e-4'", "1e-4"), ("1e", "1e"),
                                            ("e5", "e5"), ("1e-4abc", "1e-4abc")])
def test_integers_quoted_numbers_and_words_stay_what_they_are(written, value):
    assert parse_yaml(f"x: {written}\n", "x.yaml")["x"] == value


def test_an_experiment_file_and_a_set_override_read_exponents_as_numbers(tmp_path):
    from tunelab.experiments.spec import load_spec

    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntrainable: mlp\ndata: digits\nmetric: val_accuracy\n"
                    "space:\n  learning_rate: {type: float, low: 1e-4, high: 1e-1, log: true}\n")
    assert load_spec(path).space["learning_rate"].low == 1e-4
    assert load_spec(path, ["space.learning_rate.low=5e-5"]).space["learning_rate"].low == 5e-5


def test_merge_keys_read_as_in_yaml_a_key_written_after_them_wins():
    text = "defaults: &d {epochs: 2, batch_size: 64}\nfast:\n  <<: *d\n  epochs: 1\n"
    assert parse_yaml(text, "x.yaml") == {"defaults": {"epochs": 2, "batch_size": 64},
                                          "fast": {"epochs": 1, "batch_size": 64}}


def test_a_key_written_twice_is_refused_with_both_lines():
    with pytest.raises(SpecError, match=r"^x.yaml: epochs: given twice \(lines 1 and 3\); keep one$"):
        parse_yaml("epochs: 2\nname: a\nepochs: 3\n", "x.yaml")
