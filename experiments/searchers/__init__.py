"""Every searcher tunelab hands Ray, in one place: the planned sequence (grid, random, the manual
methods), its labelled and chained forms, Bayesian optimization over the unit cube, and TPE."""
from tunelab.experiments.searchers.bayes import ACQUISITIONS, UnitCubeBayesSearch
from tunelab.experiments.searchers.labelled import ChainedSearcher, LabelledSequenceSearcher
from tunelab.experiments.searchers.sequence import ConfigSequenceSearcher, StateSearcher
from tunelab.experiments.searchers.tpe import TPESearch

__all__ = [
    "ACQUISITIONS",
    "ChainedSearcher",
    "ConfigSequenceSearcher",
    "LabelledSequenceSearcher",
    "StateSearcher",
    "TPESearch",
    "UnitCubeBayesSearch",
]
