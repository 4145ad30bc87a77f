"""Results -> pandas, summaries and (later) TensorBoard, plots and reports; never needs Ray running."""
from __future__ import annotations

from analysis.load import Results, ResultsError, load

__all__ = ["Results", "ResultsError", "load"]
