"""Which hyperparameters mattered: a random forest fit to (configuration -> objective) across trials.

The method is the mean decrease in impurity (MDI) of scikit-learn's RandomForestRegressor, as
Optuna's MeanDecreaseImpurityImportanceEvaluator: each hyperparameter's share of the variance
reduction over all splits of all trees, normalised to sum to 1. fANOVA would need another
dependency; MDI comes with scikit-learn, which tunelab already needs.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from tunelab.analysis.results import Results

METHOD = "random-forest mean decrease in impurity (scikit-learn RandomForestRegressor, MDI)"
TREES = 256


class Importance(NamedTuple):
    """Hyperparameters most important first; empty when fewer than 3 trials or nothing varied."""

    method: str
    metric: str
    names: list[str]
    values: list[float]      # shares of the forest's impurity decrease, summing to 1
    trials: int              # trials that reported the objective and were used


def hyperparameter_importance(results: Results, metric: str | None = None, seed: int = 0) -> Importance:
    """Importance of every hyperparameter that varied, for the objective's best value per trial.

    Numbers enter as they are (log-scaled ones as log10: trees don't care, readers of the
    encoding do); categories as ordinal codes; an inactive conditional parameter as a value
    below every active one, so "inactive" is a split a tree can make.
    """
    metric = metric or results.metric
    column = f"{metric}_best"
    if column not in results.trials:
        return Importance(METHOD, metric, [], [], 0)
    trials = results.trials[results.trials[column].notna()]
    features = encode_params(trials, results.params, results.log_params)
    if len(trials) < 3 or features.shape[1] == 0:
        return Importance(METHOD, metric, [], [], len(trials))
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=TREES, random_state=seed, n_jobs=1)
    forest.fit(features.to_numpy(), trials[column].to_numpy(dtype="float64"))
    shares = forest.feature_importances_
    if not np.isfinite(shares).all() or shares.sum() == 0:  # the objective did not vary at all
        shares = np.zeros(len(shares))
    order = np.argsort(-shares, kind="stable")
    return Importance(METHOD, metric, [features.columns[i] for i in order], [float(shares[i]) for i in order],
                      len(trials))


def encode_params(trials: pd.DataFrame, params: tuple[str, ...], log_params: frozenset[str]) -> pd.DataFrame:
    """One numeric column per hyperparameter that takes more than one value (inactive counts as one)."""
    columns = {}
    for name in params:
        values = trials[name]
        if values.astype(object).where(values.notna(), None).nunique(dropna=False) < 2:
            continue
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.astype("float64")
            if name in log_params and (numbers.dropna() > 0).all():
                numbers = np.log10(numbers)
            low, high = numbers.min(), numbers.max()
            floor = (low - (high - low) - 1.0) if math.isfinite(low) else -1.0
            columns[name] = numbers.fillna(floor)
        else:
            categories = sorted({str(v) for v in values.dropna()})
            codes = {category: index for index, category in enumerate(categories)}
            columns[name] = values.map(lambda v: codes.get(str(v), -1) if pd.notna(v) else -1).astype("float64")
    return pd.DataFrame(columns, index=trials.index)
