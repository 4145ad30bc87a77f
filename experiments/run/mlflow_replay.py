"""MLflow brought back in step with tunelab's own record of a run, after an outage.

The tracking callback logs while trials train; a store that is down for a while loses what could not
wait in memory: a trial that started or ended while calls were paused, the epochs of a driver that
ended before the store came back. The run folder holds all of it — each trial's params.json, every
epoch (tunelab_history.jsonl) and how it ended (the event log, Ray's state) — so the runs are
replayed from it: missing runs created with their params, missing epochs logged, the final status
and stop reason set. What MLflow holds already is left as it is, so a replay can run any number of
times: at the end of a run whose tracking failed, and on `--resume` of a complete run.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Mapping

from tunelab.analysis.stop_reasons import stop_reason
from tunelab.core.run_folder import (
    HISTORY_FILE, PARAMS_FILE, TRIAL_PREFIX, epochs_by_number, ray_trial_states, read_events, read_json,
    trial_folder_name,
)

TRIAL_TAG = "tunelab.trial_id"
NOT_METRICS = frozenset({
    "epoch", "training_iteration", "timestamp", "time_this_iter_s", "time_total_s", "time_since_restore",
    "iterations_since_restore", "pid", "done", "should_checkpoint",
})
_FINAL = {"errored": "FAILED", "completed": "FINISHED", "stopped": "FINISHED", "trial_timeout": "FINISHED"}


def replay_record(client: Any, experiment_id: str, run_path: str, *, epochs: int,
                  statuses: Mapping[str, str] | None = None, driver_gone: bool = True) -> int:
    """Logs into MLflow what the run folder holds and MLflow lacks; returns how many runs it changed.

    `statuses`: trial id -> Ray's status, where the driver knows it (else Ray's saved state says). A trial
    that never ended is ended KILLED when `driver_gone` (its run would stay RUNNING for ever).
    """
    folder = Path(run_path)
    statuses = statuses if statuses is not None else {
        trial_id: state.get("status") or "" for trial_id, state in ray_trial_states(folder).items()}
    events = read_events(folder)
    runs = {run.data.tags.get(TRIAL_TAG): run for run in _all_runs(client, experiment_id)}
    changed = 0
    for trial_dir in sorted(folder.glob(f"{TRIAL_PREFIX}*")):
        trial_id = trial_dir.name.removeprefix(TRIAL_PREFIX)
        history = epochs_by_number(trial_dir / HISTORY_FILE)
        ended = stop_reason(statuses.get(trial_id, "TERMINATED"), len(history), epochs, events.get(trial_id, []))
        changed += _replay_trial(client, experiment_id, run_path, trial_dir, runs.get(trial_id), history, ended,
                                 driver_gone)
    return changed


def _replay_trial(client: Any, experiment_id: str, run_path: str, trial_dir: Path, run: Any, history: list[dict],
                  ended: tuple[str, str | None], driver_gone: bool) -> bool:
    """One trial's run made whole: created, its missing epochs logged, ended as the record says."""
    trial_id = trial_dir.name.removeprefix(TRIAL_PREFIX)
    run_id = run.info.run_id if run is not None else create_trial_run(
        client, experiment_id, trial_id, read_json(trial_dir / PARAMS_FILE), run_path)
    missing = _missing_metrics(client, run_id, run, history)
    for start in range(0, len(missing), 1000):  # MLflow takes at most 1000 metrics a call
        client.log_batch(run_id, metrics=missing[start:start + 1000])
    reason, detail = ended
    final = _FINAL.get(reason, "KILLED" if driver_gone else None)
    unended = run is None or run.info.status != final or "stop_reason" not in run.data.tags
    if final is not None and unended:
        client.set_tag(run_id, "stop_reason", reason if reason in _FINAL else "driver_ended")
        if detail:
            client.set_tag(run_id, "stop_detail", detail[:5000])
        client.set_terminated(run_id, final)
    return run is None or bool(missing) or (final is not None and unended)


def epoch_metrics(result: Mapping[str, Any]) -> list:
    """The result's numbers as MLflow metrics at step = epoch (Ray's bookkeeping keys left out)."""
    from mlflow.entities import Metric

    stamp, step = int(result.get("timestamp", time.time()) * 1000), epoch_of(result)
    return [Metric(name, float(value), stamp, step) for name, value in result.items()
            if name not in NOT_METRICS and isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)]


def epoch_of(result: Mapping[str, Any]) -> int:
    epoch = result.get("epoch", result.get("training_iteration"))
    return epoch if isinstance(epoch, int) else 0


def param_text(value: Any) -> str:
    return str(value)[:6000]  # MLflow's limit on a param's value


def create_trial_run(client: Any, experiment_id: str, trial_id: str, config: Mapping[str, Any],
                     run_path: str) -> str:
    """A new MLflow run for the trial, tagged with its id and holding its active hyperparameters."""
    from mlflow.entities import Param

    run = client.create_run(experiment_id, run_name=trial_folder_name(trial_id),
                            tags={TRIAL_TAG: trial_id, "tunelab.run_folder": run_path})
    params = [Param(name, param_text(value)) for name, value in sorted(config.items())
              if value is not None]  # an inactive conditional hyperparameter is absent, not "None"
    for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
        client.log_batch(run.info.run_id, params=params[start:start + 100])
    return run.info.run_id


def _all_runs(client: Any, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs += list(page)
        token = getattr(page, "token", None)
        if not token:
            return runs


def _missing_metrics(client: Any, run_id: str, run: Any, history: list[dict]) -> list:
    """Each epoch's metrics whose step MLflow does not hold yet, metric by metric."""
    held: dict[str, set[int]] = {}
    for name in (run.data.metrics if run is not None else {}):
        held[name] = {point.step for point in client.get_metric_history(run_id, name)}
    return [metric for result in history for metric in epoch_metrics(result)
            if metric.step not in held.get(metric.key, ())]
