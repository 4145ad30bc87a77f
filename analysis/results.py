"""What analysis hands its user: `Results` (the trials and history frames, the best trial, its checkpoint
and model) and the experiments they came from; `analysis.load` builds it from run folders."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from tunelab.analysis.checkpoints import BestCheckpoint, best_kept_checkpoint, load_checkpoint_model
from tunelab.core.errors import InputError
from tunelab.analysis.pareto import describe_constraints, recorded_constraints, recorded_objectives, trial_points
from tunelab.core.objective import Objective
from tunelab.core.pareto import Constraint, best_index
from tunelab.core.run_folder import read_test_score

if TYPE_CHECKING:
    import keras

    from tunelab.trainables.data import Dataset, StreamedSplit


class DamagedResultsWarning(UserWarning):
    """A file of a trial is cut short or lost; the intact record was read instead (see `trials.damage`)."""


class ResultsError(InputError):
    """The path is not a results directory tunelab can read."""


@dataclass(frozen=True, eq=False)
class Experiment:
    """One results folder: its name in the frames, where it lies, and the spec it ran."""

    name: str                   # the `experiment` column
    path: Path
    spec: Mapping[str, Any]     # tunelab_experiment.yaml as run; {} when the folder has none
    space: Any = None           # tunelab.searchspaces.Space resolved from the spec; None when it cannot be here
    stopped: str | None = None  # why the whole experiment was stopped early (an experiment_stopped event)
    live: bool = False          # a live driver holds the folder's lock: trials still start and train

    @property
    def metric(self) -> str | None:
        """The objective; with several (`metric: [val_accuracy, params]`), the first."""
        return self.objectives[0].metric if self.objectives else None

    @property
    def mode(self) -> str | None:
        return self.objectives[0].mode if self.objectives else None

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """Every objective the run was tuned on, as its record keeps them: one, or each of a `metric:` list."""
        return recorded_objectives(self.spec) if self.spec else ()

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The run's `constraints:`, bounds a trial's metrics had to keep (core.pareto)."""
        return recorded_constraints(self.spec.get("constraints")) if self.spec else ()

    @property
    def epochs(self) -> int | None:
        """The epoch budget of one trial: a trial that trained this many completed."""
        value = self.spec.get("epochs", 10) if self.spec else None
        return value if isinstance(value, int) else None

    @property
    def strategy(self) -> str | None:
        strategy = self.spec.get("strategy", "random") if self.spec else None
        return strategy.get("name") if isinstance(strategy, Mapping) else strategy


@dataclass(frozen=True, eq=False)
class Results:
    """`trials`: one row per trial; `history`: one row per trial and reported epoch.

    Hyperparameters are columns of `trials`, empty where a conditional one was inactive; each
    metric `m` the trainable reported has `m_best` and `m_last` columns. `history.time` is the
    wall-clock second each epoch ended (Ray stamps whole seconds; time_since_restore sharpens it).
    """

    trials: pd.DataFrame
    history: pd.DataFrame
    params: tuple[str, ...]    # hyperparameter column names, in the order the space declares them
    metrics: tuple[str, ...]   # metric names reported by the trainable
    metric: str | None         # the objective, from the (first) experiment's spec
    mode: str | None           # max or min
    experiments: tuple[Experiment, ...] = field(default=())

    @property
    def objective(self) -> str | None:
        """The trials column holding each trial's best value of the objective."""
        return f"{self.metric}_best" if self.metric else None

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """Every objective of the (first) experiment: several for a Pareto run, else the one metric."""
        return next((e.objectives for e in self.experiments if e.spec), ()) or (
            (Objective(self.metric, self.mode or "max"),) if self.metric else ())

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The (first) experiment's constraints: a trial breaking one is never best nor on the Pareto front."""
        return next((e.constraints for e in self.experiments if e.spec), ())

    @property
    def multi_objective(self) -> bool:
        """Several objectives or a constraint: the best trial follows core.pareto's rule."""
        return len(self.objectives) > 1 or bool(self.constraints)

    def points(self) -> pd.DataFrame:
        """One row per scored trial: its best epoch on the first objective, every objective's and constrained
        metric's value at that epoch, and whether it is `feasible` and on the `pareto` front."""
        return trial_points(self.trials, self.history, self.objectives, self.constraints)

    def pareto(self) -> pd.DataFrame:
        """The trials no other feasible trial beats on every objective, best on the first objective first: each
        objective's value at the trial's best epoch, then its hyperparameters. One row per trial with one metric."""
        points = self.points()
        front = points[points["pareto"]].drop(columns=["feasible", "pareto"])
        configs = self.trials.set_index(["experiment", "trial_id"])[list(self.params)]
        front = front.join(configs, on=["experiment", "trial_id"])
        return front.sort_values([o.metric for o in self.objectives], ascending=[o.ascending for o in self.objectives],
                                 na_position="last", kind="stable").reset_index(drop=True)

    @property
    def log_params(self) -> frozenset[str]:
        """Hyperparameters some experiment's space searches on a log scale."""
        names = set()
        for experiment in self.experiments:
            if experiment.space is not None:
                names.update(name for name, param in experiment.space.items() if getattr(param, "log", False))
        return frozenset(names)

    @property
    def test_metrics(self) -> dict[str, float] | None:
        """The best model's one score on the test part, by metric (`loss`, `accuracy`, ...), as its run kept it when
        it ended; None without a test part, or before the run ended. With several experiments, the first's."""
        score = read_test_score(Path(self.experiments[0].path)) if self.experiments else None
        return dict(score["metrics"]) if score else None

    def data(self) -> Dataset | StreamedSplit:
        """The exact split the trials used, loaded again from the experiment's record (its data, seed and fractions).

        A Dataset holds the train, validation and test arrays (`x_test` None without a test part); a
        streamed source or a data function gives its parts as a worker reads them, tf.data pipelines of
        unbatched (x, label) examples (a StreamedSplit). The data is read again here: a file must still
        be where the run read it, a data function is called, and a package.module one must import.
        """
        from tunelab.core.tf_logs import quiet_tensorflow_logs
        from tunelab.trainables.data import trial_data

        if len(self.experiments) != 1:
            raise ResultsError(f"data(): these results hold {len(self.experiments)} experiments; load the one "
                               "whose data you want")
        experiment = self.experiments[0]
        spec = experiment.spec
        if "data" not in spec:
            raise ResultsError(f"{experiment.path}: its record names no data (a KerasTuner-style script passes its "
                               "data itself)")
        with quiet_tensorflow_logs():  # a data function or a streamed source loads TensorFlow
            return trial_data(spec["data"], validation_fraction=spec.get("validation_fraction", 0.2),
                              seed=spec.get("seed", 0), test_fraction=spec.get("test_fraction", 0.0),
                              task=spec.get("task", "classification"))

    def best_trial(self) -> pd.Series | None:
        """The row of the best trial by the objective, or None when no trial reported it. With several objectives
        or constraints: the feasible trial best on the first objective (of equals, the one on the Pareto front), or
        None when no trial is feasible; any other trial of `pareto()` is `best_model(trial_id)` away."""
        if self.multi_objective:
            points = self.points()
            chosen = best_index(points.to_dict("records"), self.objectives, self.constraints)
            return None if chosen is None else self.trial_row(points.iloc[chosen])
        column = self.objective
        if column not in self.trials or self.trials[column].dropna().empty:
            return None
        values = self.trials[column]
        return self.trials.loc[values.idxmin() if Objective(self.metric, self.mode).ascending else values.idxmax()]

    def trial_row(self, point: pd.Series) -> pd.Series:
        """The trials row of a `points()` or `pareto()` row."""
        rows = self.trials[(self.trials["trial_id"] == point["trial_id"])
                           & (self.trials["experiment"] == point["experiment"])]
        return rows.iloc[0]

    def config(self, row: pd.Series) -> dict[str, Any]:
        """A trial's active hyperparameters (the inactive ones, empty in the frame, left out)."""
        return {name: python_value(row[name]) for name in self.params if not is_missing(row[name])}

    def trial(self, trial_id: str) -> pd.Series:
        """The row of `trial_id`; ResultsError when no trial, or several experiments' trials, have that id."""
        rows = self.trials[self.trials["trial_id"] == trial_id]
        if rows.empty:
            raise ResultsError(f"no trial {trial_id!r} in these results")
        if len(rows) > 1:
            raise ResultsError(f"trial {trial_id!r} is in several of these results ({', '.join(rows['experiment'])}); "
                               "load the one you mean")
        return rows.iloc[0]

    def trial_checkpoint(self, trial: pd.Series) -> BestCheckpoint | None:
        """Among a trial's kept checkpoints (the copy of its best and Ray's latest ones), the best scoring.

        A checkpoint's score is the objective it saved in its state.json; the history's value of its
        epoch where an older trainable saved none.
        """
        path = trial.get("path")
        if not isinstance(path, str) or not self.metric:
            return None
        history = self.history
        history = history[(history["trial_id"] == trial["trial_id"]) & (history["experiment"] == trial["experiment"])]
        scores = dict(zip(history["epoch"], history[self.metric])) if self.metric in history else {}
        return best_kept_checkpoint(str(trial["trial_id"]), Path(path), scores, self.metric, self.mode or "max")

    def best_checkpoint(self, trial_id: str | None = None) -> BestCheckpoint:
        """Where the best trial's (or `trial_id`'s) best epoch is saved: folder, epoch, score, model file."""
        if trial_id is None:
            trial = self.best_trial()
            if trial is None and self.multi_objective and self.trials[self.objective].notna().any():
                raise ResultsError(f"no trial kept the constraints ({describe_constraints(self.constraints)}): there "
                                   "is no best model; pick a trial by its id")
            if trial is None:
                raise ResultsError(f"no trial reported {self.metric}: there is no best model")
        else:
            trial = self.trial(trial_id)
        checkpoint = self.trial_checkpoint(trial)
        if checkpoint is None:
            raise ResultsError(f"trial {trial['trial_id']}: no checkpoint of a scored epoch is left in {trial['path']}")
        return checkpoint

    def best_model(self, trial_id: str | None = None) -> keras.Model:
        """The best trial's (or `trial_id`'s) Keras model with the weights of its best epoch (imports Keras)."""
        checkpoint = self.best_checkpoint(trial_id)
        folder = checkpoint.folder.resolve()
        experiment = next((e for e in self.experiments if folder.is_relative_to(Path(e.path).resolve())), None)
        return load_checkpoint_model(checkpoint, experiment.spec.get("trainable") if experiment else None, ResultsError)


def is_missing(value: Any) -> bool:
    """None, NaN, NA or NaT: an inactive hyperparameter or a metric never reported."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def python_value(value: Any) -> Any:
    """numpy and pandas scalars -> Python scalars (for JSON, YAML and TensorBoard)."""
    return value.item() if isinstance(value, np.generic) else value
