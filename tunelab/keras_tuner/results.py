"""The read side of a tuner: its results frames, best hyperparameters and models, and summaries,
all read from the results folder, so they answer the same during a search, after it, and later."""
from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from tunelab.analysis.checkpoints import BestCheckpoint
from tunelab.analysis.load import load
from tunelab.analysis.results import Results
from tunelab.core.objective import Objective
from tunelab.keras_tuner.hyperparameters import HyperParameters
from tunelab.keras_tuner.options import compile_overrides
from tunelab.keras_tuner.oracle import Oracle
from tunelab.trainables.checkpoints import load_model


def ranked(results: Results) -> pd.DataFrame:
    """Trials that reported the objective and did not error, best first (KerasTuner's completed trials)."""
    column = results.objective
    if column not in results.trials:
        return results.trials.iloc[0:0]
    trials = results.trials[results.trials[column].notna() & ~results.trials["stop_reason"].isin(("errored", "out_of_memory"))]
    return trials.sort_values(column, ascending=Objective(results.metric, results.mode).ascending, kind="stable")


class TunerResults:
    """What a tuner reports; the tuner supplies project_dir, hypermodel, objective, options and _discovered."""

    @property
    def results(self) -> Results:
        """Results frames: `.trials` (one row per trial) and `.history` (one row per trial and epoch).

        Hyperparameter columns carry build_model's names.
        """
        results = load(self.project_dir)
        names = self._discovered.names
        renamed = {key: name for key, name in names.items() if key != name}
        if not renamed:
            return results
        return dataclasses.replace(results, trials=results.trials.rename(columns=renamed),
                                   params=tuple(renamed.get(p, p) for p in results.params))

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The best trials' hyperparameters, best first: `.values`, `.get(name)`, `hp[name]`."""
        results = load(self.project_dir)
        best = ranked(results).head(num_trials)
        return [self._discovered.hyperparameters(results.config(row)) for _, row in best.iterrows()]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' models with the weights of their best epoch, best first."""
        import keras

        results = load(self.project_dir)
        models = []
        for _, row in ranked(results).head(num_models).iterrows():
            checkpoint = results.trial_checkpoint(row)
            if checkpoint is None:
                raise RuntimeError(f"trial {row['trial_id']}: no checkpoint of its best epoch is left")
            hp = self._discovered.hyperparameters(results.config(row))
            keras.backend.clear_session()
            models.append(load_model(checkpoint.model_file, lambda hp=hp: self._rebuild(hp)))
        return models

    def best_model(self) -> Any:
        """The best trial's model with the weights of its best epoch (`get_best_models(1)[0]`)."""
        return self.get_best_models(1)[0]

    def best_checkpoint(self) -> BestCheckpoint:
        """Where the best completed trial's best epoch is saved (the trial get_best_models(1) loads)."""
        results = load(self.project_dir)
        best = ranked(results)
        if best.empty:
            raise RuntimeError("no trial completed with the objective yet")
        return results.best_checkpoint(best.iloc[0]["trial_id"])

    def _rebuild(self, hp: HyperParameters) -> Any:
        """build_model(hp), recompiled with Tuner(optimizer=, loss=, metrics=) as the trials were."""
        model = self.hypermodel.build(hp)
        overrides = compile_overrides(self.options)
        if overrides:
            model.compile_from_config({**(model.get_compile_config() or {}), **overrides})
        return model

    @property
    def oracle(self) -> Oracle:
        """The read-only oracle scripts use: `get_best_trials(n)`, `get_trial(id)`, `trials`."""
        return Oracle(self.project_dir, self._discovered, self.objective)

    def results_summary(self, num_trials: int = 10) -> None:
        """Prints the best trials as KerasTuner does, failed ones (with their error) when too few completed."""
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(self.objective)
        for trial in self.oracle.get_best_trials(num_trials):
            print()
            trial.summary()

    def search_space_summary(self, extended: bool = False) -> None:
        """Prints the discovered space as KerasTuner does, with the conditions tunelab inferred."""
        print("Search space summary")
        print(f"Default search space size: {len(self._discovered.declarations)}")
        for declaration in self._discovered.declarations:
            config = declaration.summary()
            if declaration.name in self._discovered.inferred:
                config["when"] = self._discovered.inferred[declaration.name]
            print(f"{declaration.name} ({declaration.kind})")
            print(config)
