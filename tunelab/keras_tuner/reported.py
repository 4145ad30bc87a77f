"""The metrics a trial will report, found before Ray starts, so an objective no trial reports fails at once.

Keras knows a compiled metric's name only once the model has run on data (`AUC(name="auc")` is
`auc`, a second unnamed AUC `auc_1`, a metric of the user's own has the name it gives itself), so
the driver builds the model with the default hyperparameters and evaluates it on two examples of
the data given to search(): fit reports those names, and each again with `val_` when it
validates. KerasTuner finds a missing objective only after the first trial has trained
("Objective value missing in metrics reported to the Oracle").
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from tunelab.core.checks import did_you_mean
from tunelab.keras_tuner.data import FitData
from tunelab.keras_tuner.objective import DEFAULT_OBJECTIVE

logger = logging.getLogger(__name__)

# Keras' own callbacks that add an entry to the epoch's logs; a callback of the user's own may add any.
_LOGGED_BY_CALLBACKS = {"ReduceLROnPlateau": "learning_rate", "LearningRateScheduler": "learning_rate"}


def check_objective(objective: str, build: Callable[[], Any], data: FitData, callbacks: Sequence[Any]) -> None:
    """Raises ValueError (the names reported, and the closest) when fit will not report `objective`.

    Not checked, with a warning, when the model cannot be built and evaluated here; not checked at
    all when a callback of the user's own could add the objective to the logs. The trial still
    refuses an epoch without it.
    """
    if any(not type(callback).__module__.startswith("keras.") for callback in callbacks):
        return
    sample = data.sample()
    if sample is None:
        return
    try:
        names = reported_metrics(build(), sample, validation=data.has_validation)
    except Exception as error:  # the user's model or data: the trials will say what fails
        logger.warning("objective %r not checked before the search: the model with default hyperparameters "
                       "could not be evaluated on two examples (%s: %s)", objective, type(error).__name__, error)
        return
    names += sorted({_LOGGED_BY_CALLBACKS[type(c).__name__] for c in callbacks
                     if type(c).__name__ in _LOGGED_BY_CALLBACKS})
    if objective in names:
        return
    if objective == DEFAULT_OBJECTIVE:
        raise ValueError(f"objective: none given, so the search minimizes what HyperModel.fit returns, and "
                         f"model.fit returns a History; name one of the metrics the model reports: {', '.join(names)}")
    hint = ""
    if objective.startswith("val_") and objective.removeprefix("val_") in names:
        hint = "; val_ metrics need validation_data= or validation_split= given to search()"
    raise ValueError(f"objective {objective!r} is not a metric the model reports (it reports "
                     f"{', '.join(names)}){did_you_mean(objective, names)}{hint}")


def reported_metrics(model: Any, sample: tuple, *, validation: bool) -> list[str]:
    """The names in fit's epoch logs: what evaluate returns, and each with `val_` when fit validates."""
    x, y, *weights = sample
    scores = model.evaluate(x, y, sample_weight=weights[0] if weights else None, verbose=0, return_dict=True)
    return [*scores, *(f"val_{name}" for name in scores)] if validation else list(scores)
