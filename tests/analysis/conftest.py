"""One real tiny experiment for every analysis test: a Ray run on digits, made once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.helpers import FAILING_UNITS, SEED, TRIALS, tiny_spec
from tunelab.analysis import load


@pytest.fixture(scope="session")
def tiny_experiment(tmp_path_factory, ray_session) -> Path:
    """The results folder of the tiny experiment (read-only by convention: copy it to change it)."""
    from tunelab.experiments.run.prepare import prepare
    from tunelab.experiments.run.runner import run
    from tunelab.experiments.spec import spec_from_dict

    storage = tmp_path_factory.mktemp("analysis")
    spec = spec_from_dict(tiny_spec(storage))
    configs = spec.space.sample_many(TRIALS, seed=SEED)
    assert sum(c["units_1"] == FAILING_UNITS for c in configs) == 1, "the seed must give exactly one failing trial"
    outcome = run(prepare(spec, name="tiny"))
    assert outcome.trials == TRIALS and outcome.errored == 1
    return Path(outcome.path)


@pytest.fixture(scope="session")
def tiny_results(tiny_experiment):
    return load(tiny_experiment)
