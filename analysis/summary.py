"""A ranked text table of an experiment's trials: the first thing to look at after a run."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from tunelab.analysis.pareto import describe_constraints
from tunelab.analysis.results import Results
from tunelab.core.objective import Objective
from tunelab.core.out_of_memory import OUT_OF_MEMORY
from tunelab.core.run_folder import read_test_score


def ranked_trials(results: Results, top: int | None = None) -> pd.DataFrame:
    """Trials sorted best first by the experiment's metric, with how they ended and their hyperparameters
    (a PBT trial's last ones, and whose checkpoints it took over)."""
    column = results.objective or "val_accuracy_best"
    others = [f"{o.metric}_best" for o in results.objectives[1:] if f"{o.metric}_best" in results.trials]
    columns = ["experiment", "trial_id", "stop_reason", "epochs", column, *others, *results.params, "copied_from",
               "damage"]
    if results.trials["experiment"].nunique() <= 1:
        columns.remove("experiment")
    for optional in ("copied_from", "damage"):
        if optional not in results.trials or results.trials[optional].isna().all():
            columns.remove(optional)
    frame = results.trials.reindex(columns=columns)
    if column in results.trials:
        # A folder without a spec has no objective: its default column, maximised, as the spec's defaults.
        objective = Objective(results.metric or "val_accuracy", results.mode or "max")
        frame = frame.sort_values(column, ascending=objective.ascending, na_position="last", kind="stable")
    return frame.head(top) if top else frame


def pareto_title(results: Results) -> str | None:
    """`Pareto front (3 of 8 trials; params <= 50000)`, for a run with several objectives or constraints."""
    if not results.multi_objective:
        return None
    points = results.points()
    kept = f"; {describe_constraints(results.constraints)}, kept by {int(points['feasible'].sum())}" if (
        results.constraints) else ""
    return (f"Pareto front of {', '.join(f'{o.metric} ({o.mode})' for o in results.objectives)} "
            f"({int(points['pareto'].sum())} of {len(results.trials)} trials{kept}):")


def pareto_table(results: Results) -> pd.DataFrame:
    """The Pareto trials, best on the first objective first: id, best epoch, each objective, hyperparameters."""
    front = results.pareto()
    if front["experiment"].nunique() <= 1:
        front = front.drop(columns="experiment")
    whole = [o.metric for o in results.objectives if o.metric in front and front[o.metric].dropna().mod(1).eq(0).all()]
    return front.astype({"best_epoch": "Int64", **{name: "Int64" for name in whole}})


def outcome_counts(results: Results) -> str:
    """`10 completed, 2 stopped, 1 errored`: how the trials ended, most common first."""
    counts = results.trials["stop_reason"].value_counts()
    return ", ".join(f"{count} {reason}" for reason, count in counts.items())


def headline(results: Results) -> str:
    """Trials, how many finished, the objective; how the trials ended; and damaged trials, if any."""
    # How each trial ended, not Ray's status: a trial stopped while paused keeps PAUSED in Ray's snapshot.
    finished = int(results.trials["stop_reason"].isin(("completed", "stopped", "trial_timeout")).sum())
    damaged = int(results.trials["damage"].notna().sum()) if "damage" in results.trials else 0
    return (f"{len(results.trials)} trials ({finished} finished), metric {results.metric} ({results.mode})\n"
            f"ended: {outcome_counts(results)}"
            + (f"\ndamaged: {damaged} trial{'s' if damaged > 1 else ''}, read from their intact records "
               "(see the damage column)" if damaged else ""))


def held_out_score_line(score: Mapping[str, Any], metric: str | None) -> str:
    """`test: accuracy 0.9722, loss 0.0912 (trial 1a2b3c4d, epoch 7)`: the objective's own metric first, then the
    others in Keras' order."""
    metrics, first = score["metrics"], (metric or "").removeprefix("val_")
    values = ", ".join(f"{name} {metrics[name]:.4g}" for name in sorted(metrics, key=lambda name: name != first))
    return f"test: {values} (trial {score['trial_id']}, epoch {score['epoch']})"


def held_out_score_lines(results: Results) -> list[str]:
    """A line per experiment whose best model was scored on its test part."""
    scored = [(experiment, read_test_score(experiment.path)) for experiment in results.experiments]
    prefix = len(results.experiments) > 1
    return [(f"{experiment.name}: " if prefix else "") + held_out_score_line(score, experiment.metric)
            for experiment, score in scored if score is not None]


def errored_lines(results: Results) -> list[str]:
    """A line per errored trial: its last error line (an out-of-memory's cause), and where its own output is."""
    lines = []
    for _, trial in results.trials[results.trials["stop_reason"].isin(("errored", OUT_OF_MEMORY))].iterrows():
        where = f"; its output: {trial['log']}" if isinstance(trial.get("log"), str) else ""
        if trial["stop_reason"] == OUT_OF_MEMORY:
            lines.append(f"{OUT_OF_MEMORY}: trial {trial['trial_id']}: {trial['stop_detail']}{where}")
        else:
            lines.append(f"errored: trial {trial['trial_id']}: {trial.get('error') or 'error'}{where}")
    return lines


def trial_log_text(results: Results, trial_id: str) -> str:
    """The output of the trial whose id is (or starts with) `trial_id`; ResultsError naming the trials otherwise."""
    from tunelab.analysis.results import ResultsError
    from tunelab.core.checks import did_you_mean

    ids = [str(value) for value in results.trials["trial_id"]]
    matches = [value for value in ids if value == trial_id] or [value for value in ids if value.startswith(trial_id)]
    if len(matches) != 1:
        found = "matches several trials" if matches else "is not a trial of these results"
        raise ResultsError(f"trial {trial_id!r} {found}{did_you_mean(trial_id, ids)}; trials: {', '.join(ids)}")
    row = results.trials[results.trials["trial_id"] == matches[0]].iloc[0]
    if not isinstance(row.get("log"), str):
        raise ResultsError(f"trial {matches[0]} has no trial.log (a run from before tunelab wrote one, or on URI "
                           f"storage); Ray's worker logs are under /tmp/ray/session_latest/logs")
    return Path(row["log"]).read_text(errors="replace")


def format_table(frame: pd.DataFrame) -> str:
    """Plain text, inactive conditional hyperparameters shown empty."""
    return for_display(frame).to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable columns (pd.NA for missing: Int64, boolean, and Float64 where runs are combined) as plain
    values, so an inactive parameter shows empty, not <NA>: floats as float64 (NaN, which tables print
    blank and format as numbers), the others as values with blanks."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if getattr(values.dtype, "na_value", None) is not pd.NA:
            continue
        if pd.api.types.is_float_dtype(values.dtype):
            frame[column] = values.astype("float64")
        else:
            frame[column] = values.astype(object).where(values.notna(), "")
    return frame
