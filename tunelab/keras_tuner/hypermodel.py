"""KerasTuner's HyperModel: `build(hp)` makes a model, `fit(hp, model, *args, **kwargs)` trains it."""
from __future__ import annotations

from typing import Any, Callable


class HyperModel:
    """Subclass it and override `build`, and `fit` to tune the training itself.

    `fit` receives whatever `search()` was given, with the tuner's callbacks appended to
    `callbacks`; return the History (or a dict of metrics, or the objective's value).
    """

    def __init__(self, name: str | None = None, tunable: bool = True) -> None:
        self.name = name
        self.tunable = tunable

    def build(self, hp: Any) -> Any:
        raise NotImplementedError

    def declare_hyperparameters(self, hp: Any) -> None:
        """Declares hyperparameters ahead of `build` (KerasTuner's hook); nothing by default."""

    def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        return model.fit(*args, **kwargs)


class FunctionHyperModel(HyperModel):
    """A plain build_model(hp) function as a HyperModel."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        super().__init__(name=getattr(build, "__name__", None))
        self._function = build

    def build(self, hp: Any) -> Any:
        return self._function(hp)


def get_hypermodel(hypermodel: Any) -> Any:
    """A HyperModel (ours, KerasTuner's, or anything with build) or a build_model function."""
    if hypermodel is None:
        raise ValueError("hypermodel: pass a build_model(hp) function or a HyperModel")
    if callable(getattr(hypermodel, "build", None)) and not isinstance(hypermodel, type):
        return hypermodel
    if callable(hypermodel):
        return FunctionHyperModel(hypermodel)
    raise ValueError("hypermodel: expected a build_model(hp) function or a HyperModel instance, "
                     f"got {type(hypermodel).__name__}")


def overrides_fit(hypermodel: Any) -> bool:
    """True when `fit` does more than model.fit(*args, **kwargs)."""
    fit = getattr(type(hypermodel), "fit", None)
    if fit is HyperModel.fit:
        return False
    try:  # KerasTuner's own base class, if that is what the user subclassed
        import keras_tuner

        return fit is not keras_tuner.HyperModel.fit
    except ImportError:
        return True
