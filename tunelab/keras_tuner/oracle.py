"""The read-only half of KerasTuner's oracle: the trials of a search, as scripts read them.

KerasTuner scripts reach into `tuner.oracle` for `get_best_trials(n)`, `get_trial(id)` and
`trials`. tunelab's oracle answers those from the results folder (the run's own record), so the
answers are the same during a search, after it, and in a later process. Choosing the next
trial is Ray's searchers' work, not the oracle's.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tunelab.analysis.load import load
from tunelab.analysis.results import Results, ResultsError
from tunelab.core.objective import Objective as CoreObjective
from tunelab.keras_tuner.discovery import Discovered
from tunelab.keras_tuner.hyperparameters import HyperParameters
from tunelab.keras_tuner.objective import Objective

COMPLETED, FAILED, RUNNING = "COMPLETED", "FAILED", "RUNNING"  # KerasTuner's TrialStatus values
# early stops (a scheduler's, a trial_timeout) finished their budget
_STATUS = {"completed": COMPLETED, "stopped": COMPLETED, "trial_timeout": COMPLETED, "errored": FAILED,
           "out_of_memory": FAILED}


@dataclass(frozen=True)
class TrialMetrics:
    """A trial's per-epoch metrics, with KerasTuner's MetricsTracker getters."""

    history: pd.DataFrame
    direction: dict[str, str]  # metric -> "min" or "max", for get_best_value

    def get_history(self, name: str) -> list[float]:
        """The metric's value at every epoch, in order."""
        return [float(value) for value in self.history.get(name, pd.Series(dtype=float)).dropna()]

    def get_last_value(self, name: str) -> float | None:
        values = self.get_history(name)
        return values[-1] if values else None

    def get_best_value(self, name: str) -> float | None:
        """The metric's best value at any epoch (by its direction; a metric without one is minimised)."""
        return CoreObjective(name, self.direction.get(name, "min")).best(self.get_history(name))


@dataclass(frozen=True)
class Trial:
    """One trial as KerasTuner's Trial shows it: id, hyperparameters, score, best step, status."""

    trial_id: str
    hyperparameters: HyperParameters
    score: float | None
    best_step: int  # the best epoch, counted from 0 as Keras counts epochs
    status: str  # COMPLETED, FAILED or RUNNING
    message: str | None
    metrics: TrialMetrics

    def summary(self) -> None:
        """Prints the trial as KerasTuner's Trial.summary() does."""
        print(f"Trial {self.trial_id} summary")
        print("Hyperparameters:")
        if self.hyperparameters.values:
            for name, value in self.hyperparameters.values.items():
                print(f"{name}:", value)
        else:
            print("default configuration")
        if self.score is not None:
            print(f"Score: {self.score}")
        if self.message is not None:
            print(self.message)


class Oracle:
    """`tuner.oracle`: the search's trials, read from its results folder."""

    def __init__(self, project_dir: str, discovered: Discovered, objective: Objective) -> None:
        self._project_dir = project_dir
        self._discovered = discovered
        self.objective = objective

    @property
    def trials(self) -> dict[str, Trial]:
        """Every trial so far by id, in the order they started."""
        return {trial.trial_id: trial for trial in self._read()}

    def get_trial(self, trial_id: str) -> Trial:
        trials = self.trials
        if trial_id not in trials:
            raise KeyError(f"no trial {trial_id!r} in {self._project_dir}")
        return trials[trial_id]

    def get_best_trials(self, num_trials: int = 1) -> list[Trial]:
        """Completed trials best first, then (as KerasTuner) the others when too few completed."""
        trials = self._read()
        completed = [trial for trial in trials if trial.status == COMPLETED and trial.score is not None]
        completed.sort(key=lambda trial: self.objective.core.sort_key(trial.score))
        if len(completed) < num_trials:
            completed += [trial for trial in trials if trial not in completed]
        return completed[:num_trials]

    def get_space(self) -> HyperParameters:
        """The search space as a HyperParameters object with every declaration."""
        hp = HyperParameters()
        hp.merge(self._discovered.declarations)
        return hp

    def _read(self) -> list[Trial]:
        try:
            results = load(self._project_dir)
        except ResultsError:
            return []
        return [self._trial(results, row) for _, row in results.trials.iterrows()]

    def _trial(self, results: Results, row: pd.Series) -> Trial:
        column = results.objective
        score = row.get(column) if column else None
        best_epoch = row.get("best_epoch")
        error = row.get("error")
        history = results.history[(results.history["trial_id"] == row["trial_id"])
                                  & (results.history["experiment"] == row["experiment"])]
        return Trial(
            trial_id=str(row["trial_id"]),
            hyperparameters=self._discovered.hyperparameters(results.config(row)),
            score=None if score is None or pd.isna(score) else float(score),
            best_step=int(best_epoch) - 1 if best_epoch is not None and not pd.isna(best_epoch) else 0,
            status=_STATUS.get(row["stop_reason"], RUNNING),
            message=None if error is None or pd.isna(error) else str(error),
            metrics=TrialMetrics(history.reset_index(drop=True), {self.objective.name: self.objective.direction}),
        )
