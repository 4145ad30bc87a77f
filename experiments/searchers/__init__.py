"""Every searcher tunelab hands Ray, in one place: the planned sequence (grid, random, the manual
methods), its labelled and chained forms, and Bayesian optimization over the unit cube."""
from tunelab.experiments.searchers.bayes import ACQUISITIONS, UnitCubeBayesSearch
from tunelab.experiments.searchers.labelled import ChainedSearcher, LabelledSequenceSearcher
from tunelab.experiments.searchers.sequence import ConfigSequenceSearcher, StateSearcher

__all__ = [
    "ACQUISITIONS",
    "ChainedSearcher",
    "ConfigSequenceSearcher",
    "LabelledSequenceSearcher",
    "StateSearcher",
    "UnitCubeBayesSearch",
]
