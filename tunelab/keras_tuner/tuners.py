"""KerasTuner's tuners on Ray: RandomSearch, GridSearch, BayesianOptimization, Hyperband.

    tuner = RandomSearch(build_model, objective="val_accuracy", max_trials=10, directory="out")
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=10, batch_size=32)
    tuner.get_best_hyperparameters(1)[0].values, tuner.get_best_models(1)[0], tuner.results.trials

Each tuner is a tunelab strategy (`_strategy`) over the space discovered from build_model; the
search itself is `tuner.Tuner`'s, the read side `results.TunerResults`'.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from tunelab.core.checks import check_int
from tunelab.experiments.schedulers import hyperband_brackets
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.strategies import MAX_GRID, Plan
from tunelab.keras_tuner.tuner import Tuner
from tunelab.searchspaces import Fixed, Space


class RandomSearch(Tuner):
    """Random configurations, seeded: KerasTuner's RandomSearch, `max_trials` of them."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10, seed: int | None = None,
                 **options: Any) -> None:
        self.max_trials = check_int("max_trials", max_trials, 1)
        super().__init__(hypermodel, objective, seed, options)

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        return "random", {"num_samples": self.max_trials, "seed": seed}

    def _total_trials(self) -> int:
        every = self.space.all_configs(limit=self.max_trials)  # a smaller space runs each configuration once
        return self.max_trials if every is None else len(every)


class GridSearch(Tuner):
    """Every combination in declaration order, the last parameter varying fastest; `max_trials` stops early.

    As in KerasTuner, a Float without a step (and a log-sampled Int) contributes its default and
    ten evenly spread values.
    """

    _grid_points = True

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int | None = None,
                 seed: int | None = None, **options: Any) -> None:
        self.max_trials = None if max_trials is None else check_int("max_trials", max_trials, 1)
        super().__init__(hypermodel, objective, seed, options)

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        return "grid", {"max_trials": MAX_GRID}  # KerasTuner's max_trials cuts the grid in _limit

    def _limit(self, plan: Plan) -> Plan:
        if self.max_trials is None or self.max_trials >= plan.num_samples:  # KerasTuner stops at max_trials
            return plan
        if self.options.scheduler is not None:
            raise ValueError("GridSearch: max_trials below the grid size cannot be combined with a scheduler; "
                             "pin parameters or leave max_trials out")
        configs = plan.searcher.get_state()["configs"][: self.max_trials]
        return dataclasses.replace(plan, searcher=ConfigSequenceSearcher(configs), num_samples=len(configs),
                                   max_epochs=plan.max_epochs * len(configs) // plan.num_samples)

    def _total_trials(self) -> int:
        return min(self.max_trials or len(self.space.grid()), len(self.space.grid()))


class BayesianOptimization(Tuner):
    """A Gaussian process with upper-confidence-bound acquisition (beta) after `num_initial_points` random ones."""

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10,
                 num_initial_points: int | None = None, alpha: float = 1e-4, beta: float = 2.6,
                 seed: int | None = None, **options: Any) -> None:
        if alpha != 1e-4:
            raise ValueError("alpha: tunelab's Gaussian process fits its own noise level; leave alpha out")
        self.max_trials = check_int("max_trials", max_trials, 1)
        self.num_initial_points = None if num_initial_points is None else check_int(
            "num_initial_points", num_initial_points, 1)
        self.beta = beta
        super().__init__(hypermodel, objective, seed, options)

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        dimensions = sum(not isinstance(param, Fixed) for param in space.values())
        return "bayes", {
            "num_samples": self.max_trials, "seed": seed, "acquisition": "ucb", "kappa": float(self.beta),
            "random_steps": self.num_initial_points or max(3 * dimensions, 3),
            "max_concurrent": self.options.max_concurrent_trials or 2,
        }

    def _total_trials(self) -> int:
        return self.max_trials


class Hyperband(Tuner):
    """Hyperband brackets up to `max_epochs`, keeping 1/`factor` per rung; paused trials resume from checkpoints.

    `search(epochs=...)` is ignored, as in KerasTuner: each trial's budget is max_epochs. One
    iteration runs the brackets' trials (3 + 2 for max_epochs=3, factor=3); a promoted trial
    continues its own training instead of starting a new trial from a saved model.
    """

    def __init__(self, hypermodel: Any = None, objective: Any = None, max_epochs: int = 100, factor: int = 3,
                 hyperband_iterations: int = 1, seed: int | None = None, **options: Any) -> None:
        self.max_epochs = check_int("max_epochs", max_epochs, 1)
        self.factor = check_int("factor", factor, 2)
        self.hyperband_iterations = check_int("hyperband_iterations", hyperband_iterations, 1)
        if options.get("scheduler") is not None:
            raise ValueError("scheduler: Hyperband is its own scheduler; use RandomSearch(scheduler=...) for others")
        super().__init__(hypermodel, objective, seed, options)

    def _epochs(self, epochs: Any) -> int:
        return self.max_epochs

    def _strategy(self, space: Space, seed: int) -> tuple[str, dict[str, Any]]:
        return "hyperband", {"num_samples": self._total_trials(), "seed": seed, "reduction_factor": self.factor}

    def _total_trials(self) -> int:
        per_iteration = sum(count for count, _ in hyperband_brackets(self.max_epochs, self.factor))
        return self.hyperband_iterations * per_iteration
