"""Strict YAML reading: what YAML allows still reads the same; what would silently change the experiment is refused."""
from __future__ import annotations

import pytest

from tunelab.experiments.errors import SpecError
from tunelab.experiments.yaml_input import parse_yaml


def test_merge_keys_read_as_in_yaml_a_key_written_after_them_wins():
    text = "defaults: &d {epochs: 2, batch_size: 64}\nfast:\n  <<: *d\n  epochs: 1\n"
    assert parse_yaml(text, "x.yaml") == {"defaults": {"epochs": 2, "batch_size": 64},
                                          "fast": {"epochs": 1, "batch_size": 64}}


def test_a_key_written_twice_is_refused_with_both_lines():
    with pytest.raises(SpecError, match=r"^x.yaml: epochs: given twice \(lines 1 and 3\); keep one$"):
        parse_yaml("epochs: 2\nname: a\nepochs: 3\n", "x.yaml")
