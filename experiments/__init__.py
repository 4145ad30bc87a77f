"""Experiment definitions (YAML -> ExperimentSpec), the strategy registry, and the runner."""
from __future__ import annotations

from tunelab.experiments.errors import SpecError
from tunelab.experiments.spec import ExperimentSpec, load_spec, spec_from_dict

__all__ = ["ExperimentSpec", "SpecError", "load_spec", "spec_from_dict"]
