"""Results directory -> pandas, without Ray: works on a laptop over results copied from a cluster.

Reads what Ray and tunelab wrote, and nothing else: each trial folder's params.json and
tunelab_history.jsonl (one JSON line per epoch; Ray's result.json for runs without it), Ray's
newest experiment state (each trial's status, failures and folder, and the trials that
have no folder yet), tunelab_experiment.yaml (metric, mode, epochs and the search space),
tunelab_trial_events.jsonl (why each trial ended: scheduler stops, pauses, errors; whose checkpoint
a PBT trial took over) and tunelab.lock (whether a driver still runs the experiment).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from tunelab.analysis.lineage import copied_from
from tunelab.analysis.results import DamagedResultsWarning, Experiment, Results, ResultsError, is_missing
from tunelab.analysis.run_files import error_line, gpus_line, read_spec
from tunelab.analysis.stop_reasons import label, stop_reason, unlisted_status
from tunelab.analysis.trial_history import SOURCES, epoch_end_times, read_trial_history
from tunelab.core.objective import Objective, default_mode
from tunelab.core.out_of_memory import OUT_OF_MEMORY, out_of_memory_cause
from tunelab.core.run_folder import (
    PARAMS_FILE, TRIAL_LOG, TRIAL_PREFIX, ray_trial_states, read_events, read_json, result_config,
    run_is_live,
)

# Keys of a result.json line that Ray adds; everything else numeric is a metric the trainable reported.
_RAY_KEYS = frozenset({
    "timestamp", "checkpoint_dir_name", "should_checkpoint", "done", "training_iteration", "trial_id",
    "date", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config",
    "time_since_restore", "iterations_since_restore", "experiment_tag", "epoch",
})
TRIAL_COLUMNS = (
    "experiment", "trial_id", "status", "stop_reason", "stop_detail", "epochs", "best_epoch", "pauses",
    "resumes", "failures", "start", "end", "wall_s", "label", "copied_from", "error", "damage", "path", "log",
    "gpus",
)
HISTORY_COLUMNS = ("experiment", "trial_id", "epoch", "time_total_s", "time", "worker")


def load(paths: str | Path | Iterable[str | Path]) -> Results:
    """Loads one experiment folder, or several (the `experiment` column tells them apart)."""
    folders = [Path(paths).expanduser()] if isinstance(paths, (str, Path)) else [Path(p).expanduser() for p in paths]
    if not folders:
        raise ResultsError("no results directory given")
    names = _experiment_names(folders)
    parts = [_load_one(folder, name) for folder, name in zip(folders, names)]
    trials = pd.concat([p.trials for p in parts], ignore_index=True)
    history = pd.concat([p.history for p in parts], ignore_index=True)
    params = tuple(dict.fromkeys(name for p in parts for name in p.params))
    metrics = tuple(dict.fromkeys(name for p in parts for name in p.metrics))
    trials = trials.reindex(columns=[*TRIAL_COLUMNS, *params, *_metric_columns(metrics)])
    history = history.reindex(columns=[*HISTORY_COLUMNS[:3], *metrics, *HISTORY_COLUMNS[3:]])
    first = next((p.experiment for p in parts if p.experiment.spec), parts[0].experiment)
    return Results(trials, history, params, metrics, first.metric, first.mode, tuple(p.experiment for p in parts))


def _experiment_names(folders: list[Path]) -> list[str]:
    """Folder names; parent/name where two folders share a name (runs copied from two clusters)."""
    names = [folder.resolve().name for folder in folders]
    return [
        f"{folder.resolve().parent.name}/{name}" if names.count(name) > 1 else name
        for folder, name in zip(folders, names)
    ]


@dataclass(frozen=True)
class _Part:
    experiment: Experiment
    trials: pd.DataFrame
    history: pd.DataFrame
    params: list[str]
    metrics: list[str]


def _load_one(folder: Path, name: str) -> _Part:
    if not folder.exists():
        raise ResultsError(f"{folder}: does not exist")
    if not folder.is_dir():
        raise ResultsError(f"{folder}: not a directory")
    spec = read_spec(folder)
    states = ray_trial_states(folder)
    events = read_events(folder)
    stops = [e for e in events.pop("", []) if e.get("event") == "experiment_stopped"]
    experiment = Experiment(name, folder, spec, _space(spec), str(stops[-1].get("reason")) if stops else None,
                            run_is_live(folder))
    trial_dirs = {path.name: path for path in sorted(folder.iterdir()) if path.is_dir()
                  and any((path / name).is_file() for name in (PARAMS_FILE, *SOURCES))}
    if not trial_dirs and not states:
        raise ResultsError(f"{folder}: no trial folders (*/params.json); is this an experiment directory?")

    by_id: dict[str, dict[str, Any]] = {}
    for trial_id, state in states.items():
        trial_dir = trial_dirs.pop(state.get("dir") or "", None)
        if trial_dir is None and state.get("dir") and (folder / state["dir"]).is_dir():
            trial_dir = folder / state["dir"]  # a folder whose files are all gone still names the trial
        by_id[trial_id] = {"state": state, "dir": trial_dir}
    for dir_name, trial_dir in trial_dirs.items():  # folders Ray's state does not list (yet)
        by_id.setdefault(dir_name.removeprefix(TRIAL_PREFIX), {"state": {}, "dir": trial_dir})

    rows, records, params = [], [], []
    for trial_id, found in by_id.items():
        trial_dir, state = found["dir"], found["state"]
        config, damage = _config(trial_dir, state)
        params.extend(key for key in config if key not in params)
        live = state.get("status") in ("RUNNING", "PAUSED", "PENDING") or (not state and experiment.live)
        recorded = read_trial_history(trial_dir, live) if trial_dir else None
        reports = recorded.reports if recorded else []
        damage += recorded.damage if recorded else ()
        if damage:
            warnings.warn(f"{experiment.name}: trial {trial_id}: {'; '.join(damage)}", DamagedResultsWarning,
                          stacklevel=3)
        if reports and isinstance(reports[-1].get("trial_id"), str):
            trial_id = reports[-1]["trial_id"]
        for report in reports:
            report.pop("config", None)
            report["trial_id"] = trial_id
        records.extend(reports)
        rows.append((trial_id, trial_dir, config, state, "; ".join(damage) or None))

    history, metrics = _history(records, experiment.name)
    per_trial = _per_trial(history, experiment)
    trials = pd.DataFrame([
        {**_trial_row(experiment, trial_id, trial_dir, config, per_trial.get(trial_id), state,
                      events.get(trial_id, [])), "damage": damage}
        for trial_id, trial_dir, config, state, damage in rows
    ])
    params = _in_space_order(params, experiment.space)
    clashes = [name for name in params if name in TRIAL_COLUMNS]
    if clashes:
        raise ResultsError(f"{folder}: hyperparameter {clashes[0]!r} has the name of a results column")
    for param in params:
        trials[param] = _param_column([config.get(param) for _, _, config, _, _ in rows])
    trials = _add_metric_columns(trials, history, metrics, experiment)
    trials = trials.sort_values("start", na_position="last", kind="stable", ignore_index=True)  # pending last
    return _Part(experiment, trials, history, params, metrics)


def _space(spec: Mapping[str, Any]) -> Any:
    """The searched space (after `fix:`), for which params are log-scaled; None if it cannot be built here."""
    if "space" not in spec:
        return None
    try:
        from tunelab.searchspaces import fix_params, load_space

        space = load_space(spec["space"])
        fix = spec.get("fix")
        return fix_params(space, fix) if isinstance(fix, Mapping) and fix else space
    except Exception:  # a user module missing on this laptop, or a space that changed since: plot linear
        return None


def _in_space_order(params: list[str], space: Any) -> list[str]:
    if space is None:
        return params
    order = {name: index for index, name in enumerate(space)}
    return sorted(params, key=lambda name: (order.get(name, len(order)), params.index(name)))


def _param_column(values: list[Any]) -> pd.Series:
    """Ints stay ints and bools stay bools with inactive entries empty (<NA>), not 32.0 and NaN."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    return pd.Series([v if v is None or isinstance(v, (str, int, float, bool)) else json.dumps(v)
                      for v in values], dtype=object)


def _history(records: list[dict], experiment: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per trial and epoch; a re-reported epoch (a retry from an older checkpoint) keeps its last report.

    Built as one frame for the whole experiment: per-trial frames would dominate loading time.
    """
    if not records:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS)), []
    frame = pd.DataFrame.from_records(records)
    epoch = frame["epoch"] if "epoch" in frame else pd.Series(np.nan, index=frame.index)
    if "training_iteration" in frame:
        epoch = epoch.fillna(frame["training_iteration"])
    metrics = [c for c in frame.columns if c not in _RAY_KEYS and c not in HISTORY_COLUMNS
               and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    out = pd.DataFrame({"experiment": experiment, "trial_id": frame["trial_id"], "epoch": epoch.astype("int64")})
    for metric in metrics:
        out[metric] = frame[metric].astype("float64")
    out["time_total_s"] = frame["time_total_s"].astype("float64") if "time_total_s" in frame else np.nan
    out["time"] = epoch_end_times(frame)
    if "hostname" in frame and "pid" in frame:
        out["worker"] = frame["hostname"].astype(str) + ":" + frame["pid"].astype("Int64").astype(str)
    else:
        out["worker"] = None
    out = out.drop_duplicates(["trial_id", "epoch"], keep="last")
    order = pd.Series(np.arange(len(out)), index=out.index).groupby(out["trial_id"], sort=False).transform("min")
    out = out.assign(_order=order).sort_values(["_order", "epoch"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True), metrics


def _per_trial(history: pd.DataFrame, experiment: Experiment) -> dict[str, dict[str, Any]]:
    """trial_id -> epochs, start, end, training seconds and best epoch, from the history frame."""
    if history.empty:
        return {}
    grouped = history.groupby("trial_id", sort=False)
    first = grouped.head(1).set_index("trial_id")
    last = grouped.tail(1).set_index("trial_id")
    summary = pd.DataFrame({
        "epochs": grouped["epoch"].max(),
        "start": first["time"] - first["time_total_s"].fillna(0.0),
        "end": grouped["time"].max(),
        "wall_s": last["time_total_s"],
    })
    metric = experiment.metric
    if metric in history and history[metric].notna().any():
        values = history[metric].dropna()
        best = values.groupby(history.loc[values.index, "trial_id"], sort=False)
        index = best.idxmin() if Objective(metric, experiment.mode).ascending else best.idxmax()
        summary["best_epoch"] = pd.Series(history.loc[index, "epoch"].to_numpy(), index=index.index)
    else:
        summary["best_epoch"] = np.nan
    return summary.to_dict("index")


def _trial_row(experiment: Experiment, trial_id: str, trial_dir: Path | None, config: dict,
               summary: dict[str, Any] | None, state: dict, events: list[dict]) -> dict[str, Any]:
    summary = summary or {}
    error = error_line(trial_dir, state)
    epochs = int(summary.get("epochs", 0))
    status = state.get("status") or unlisted_status(error is not None, bool(summary), events, experiment.live)
    reason, detail = stop_reason(status, epochs, experiment.epochs, events)
    if reason == "errored" and out_of_memory_cause(error):
        reason, detail = OUT_OF_MEMORY, out_of_memory_cause(error)
    if reason == "errored" and detail is None:
        detail = error
    start = summary.get("start", state.get("start_time"))
    end = summary.get("end")
    best_epoch = summary.get("best_epoch")
    return {
        "experiment": experiment.name,
        "trial_id": trial_id,
        "status": status,
        "stop_reason": reason,
        "stop_detail": detail,
        "epochs": epochs,
        "best_epoch": best_epoch if best_epoch is not None and not is_missing(best_epoch) else np.nan,
        "pauses": sum(e.get("event") == "paused" for e in events),
        "resumes": sum(e.get("event") == "resumed" for e in events),
        "failures": int(state.get("num_failures") or 0),
        "start": _datetime(start),
        "end": _datetime(end),
        "wall_s": summary.get("wall_s", np.nan),
        "label": label(events),
        "copied_from": copied_from(events),
        "error": error,
        "path": str(trial_dir) if trial_dir else None,
        "log": str(trial_dir / TRIAL_LOG) if trial_dir and (trial_dir / TRIAL_LOG).is_file() else None,
        "gpus": gpus_line(trial_dir),
    }


def _config(trial_dir: Path | None, state: dict) -> tuple[dict, list[str]]:
    """The trial's hyperparameters: its params.json, or Ray's experiment state when that file is lost, or the
    config in its result.json when both are."""
    config = read_json(trial_dir / PARAMS_FILE) if trial_dir else {}
    if config:
        return config, []
    if not state.get("config"):  # Ray's state lost too: the config Ray logged with the trial's results
        config = result_config(trial_dir) if trial_dir else {}
        damage = ["params.json: missing or unreadable; the configuration comes from result.json"]
        return config, damage if config else []
    damage = [] if trial_dir is None else [
        "params.json: missing or unreadable; the configuration comes from Ray's experiment state"]
    return dict(state["config"]), damage


def _datetime(seconds: Any) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s") if isinstance(seconds, (int, float)) and not is_missing(seconds) else pd.NaT


def _metric_columns(metrics: Iterable[str]) -> list[str]:
    return [f"{metric}_{kind}" for metric in metrics for kind in ("best", "last")]


def _minimize(metric: str, experiment: Experiment) -> bool:
    """Whether `metric`'s `_best` column is its smallest value: the objective's mode, else its known direction."""
    own = next((objective for objective in experiment.objectives if objective.metric == metric), None)
    if own is not None:
        return own.ascending
    return default_mode(metric) == "min"


def _add_metric_columns(trials: pd.DataFrame, history: pd.DataFrame, metrics: list[str],
                        experiment: Experiment) -> pd.DataFrame:
    columns = {}
    for metric in metrics:
        grouped = history.groupby("trial_id", sort=False)[metric]
        best = grouped.min() if _minimize(metric, experiment) else grouped.max()
        columns[f"{metric}_best"] = trials["trial_id"].map(best).astype("float64")
        columns[f"{metric}_last"] = trials["trial_id"].map(grouped.last()).astype("float64")
    return pd.concat([trials, pd.DataFrame(columns, index=trials.index)], axis=1) if columns else trials
