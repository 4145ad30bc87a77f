"""Each trial an MLflow run, kept in step from Ray's driver: params, per-epoch metrics, stop reason.

The MLflow experiment is named after the run folder; each trial's run carries the tag
`tunelab.trial_id`, and that tag, not memory, finds it again: a resumed driver (whose callbacks Ray
unpickles as they were when the run began) continues the trial's own MLflow run, and logs only the
epochs MLflow does not hold yet, so an epoch a resume trains again is not logged twice.

A tracking store that stops answering never stops the experiment (its results are in the run
folder) and never holds it up for long: MLflow's HTTP retries are cut to seconds, calls pause for
`PAUSE_AFTER_FAILURE_S` after a failure while the epochs wait in memory, and the first later call
that gets through logs them. Each outage is logged to the driver log and recorded as a
`tracking_failed` event, which the run's last lines report; at the experiment's end, after an
outage, MLflow is replayed from the run folder's record (experiments/run/mlflow_replay.py), so it
ends with one ended run per trial and every epoch, whatever the outage cost.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tunelab.analysis.stop_reasons import stop_reason
from tunelab.core.run_folder import HISTORY_FILE, is_uri, read_events, read_json_lines, trial_folder_name
from tunelab.core.secrets import without_credentials
from tunelab.experiments.run.mlflow_replay import (
    TRIAL_TAG, create_trial_run, epoch_metrics, epoch_of, replay_record,
)
from tunelab.experiments.run.resume import set_aside_trial_ids
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.trainables.checkpoints import BEST_DIR

logger = logging.getLogger(__name__)

PAUSE_AFTER_FAILURE_S = 30.0
# MLflow retries an HTTP call for about two minutes by default: on Ray's driver loop that would stall every trial.
_SESSION = ("_client", "_experiment_id", "_runs", "_logged", "_waiting", "_unended", "_paused_until", "_failed")
_QUICK_FAILURE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def store_uri(uri: str) -> tuple[str, str | None]:
    """The tracking URI MLflow is given, and where new experiments keep artifacts (None: the server decides).

    A folder is tracked as FOLDER/mlflow.db with artifacts in FOLDER/artifacts: MLflow 3 refuses its
    old file store, and a client-side database would otherwise put artifacts under the launch folder.
    """
    scheme, _, rest = uri.partition("://")
    if scheme == "file":
        folder = Path(rest)
        return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()
    if scheme == "sqlite":
        return uri, (Path(rest[1:]).parent / "mlartifacts").as_uri()
    return uri, None


class MlflowTracking(Callback):
    """Mirrors every trial into MLflow as it trains (a Ray Tune callback on the driver)."""

    def __init__(self, uri: str, run_name: str, run_path: str, *, metric: str, mode: str, epochs: int,
                 log_checkpoint: bool = False) -> None:
        # The credentials of a URI go to the environment, where MLflow's client reads them: neither this object,
        # which Ray pickles into the run folder, nor any message or tag holds them.
        self.uri, user, password = without_credentials(uri)
        if user is not None and password is not None:
            os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user, password
        self.run_name, self.run_path = run_name, run_path
        self.metric, self.mode, self.epochs, self.log_checkpoint = metric, mode, epochs, log_checkpoint
        self._events = TrialEventLog()
        self._reset()

    def _reset(self) -> None:
        self._client: Any = None
        self._experiment_id: str | None = None
        self._runs: dict[str, str] = {}       # trial id -> MLflow run id
        self._logged: dict[str, int] = {}     # trial id -> last epoch MLflow holds
        self._waiting: dict[str, list] = {}   # trial id -> results not logged yet (the store did not answer)
        self._unended: dict[str, tuple[Any, str]] = {}  # trial id -> (trial, status) whose run is not ended yet
        self._paused_until = 0.0
        self._failed = False  # a call failed in this driver: the run's end replays the run folder's record

    def __getstate__(self) -> dict:
        """Ray pickles callbacks with the run: the client and what it found are rebuilt on resume."""
        return {name: value for name, value in self.__dict__.items() if name not in _SESSION}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    def setup(self, **info: Any) -> None:
        self._events.attach(self.run_path)
        self._guarded("connecting", None, self._connect)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._guarded("starting the run of", trial, lambda: self._run(trial))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._waiting.setdefault(trial.trial_id, []).append(result)
        self._guarded("logging metrics of", trial, lambda: self._log_waiting(trial))
        self._end_unended()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._unended[trial.trial_id] = (trial, "FINISHED")
        self._guarded("ending the run of", trial, lambda: self._end(trial))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._unended[trial.trial_id] = (trial, "FAILED")
        self._guarded("ending the run of", trial, lambda: self._end(trial))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """A last try, pause or not, for what an outage kept waiting; after an outage, the record replayed."""
        self._paused_until = 0.0
        self._end_unended()
        for trial in trials:
            if self._waiting.get(trial.trial_id):
                self._guarded("logging metrics of", trial, lambda: self._log_waiting(trial))
        if self._failed and not is_uri(self.run_path):
            self._paused_until = 0.0
            statuses = {trial.trial_id: trial.status for trial in trials}
            self._guarded("replaying the run folder into MLflow", None, lambda: self._replay(statuses))

    def _replay(self, statuses: dict[str, str]) -> None:
        if self._client is None:
            self._connect()
        replay_record(self._client, self._experiment_id, self.run_path, epochs=self.epochs, statuses=statuses,
                      driver_gone=False)  # a trial Ray still holds (a signal stopped the run) is resumed later

    def _end_unended(self) -> None:
        """After an outage: the runs of trials that ended while calls were paused are ended now."""
        for trial, _ in list(self._unended.values()):
            self._guarded("ending the run of", trial, lambda: self._end(trial))

    def _connect(self) -> None:
        from mlflow import MlflowClient

        for name, value in _QUICK_FAILURE.items():
            os.environ.setdefault(name, value)  # the user's own settings win
        tracking_uri, artifacts = store_uri(self.uri)
        if tracking_uri.startswith("sqlite:///"):
            Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        client = MlflowClient(tracking_uri)
        found = client.get_experiment_by_name(self.run_name)
        self._experiment_id = found.experiment_id if found is not None else client.create_experiment(
            self.run_name, artifact_location=artifacts,
            tags={"tunelab.run_folder": self.run_path, "tunelab.metric": self.metric, "tunelab.mode": self.mode})
        self._retire_set_aside(client)
        self._client = client  # only once the experiment is found: until then, every call connects again

    def _retire_set_aside(self, client: Any) -> None:
        """Runs of trials a resume set aside are ended as KILLED and deleted (MLflow keeps them restorable).

        A driver killed before Ray saved a trial leaves its MLflow run RUNNING; the resume moves the
        trial's folder aside and runs its configuration again as a new trial, so the experiment keeps
        one run per trial of the run folder, as the folder does.
        """
        for trial_id in sorted(set_aside_trial_ids(self.run_path)):
            for run in client.search_runs([self._experiment_id], filter_string=f"tags.`{TRIAL_TAG}` = '{trial_id}'"):
                client.set_tag(run.info.run_id, "stop_reason", "set_aside")
                client.set_tag(run.info.run_id, "stop_detail", "started after Ray's last saved state; "
                               "the resume ran its configuration again as a new trial")
                if run.info.status == "RUNNING":
                    client.set_terminated(run.info.run_id, "KILLED")
                client.delete_run(run.info.run_id)

    def _run(self, trial: Any) -> str:
        """The trial's MLflow run: found by its tag (a resumed trial), or created with its hyperparameters."""
        if self._client is None:
            self._connect()
        trial_id = trial.trial_id
        if trial_id in self._runs:
            return self._runs[trial_id]
        found = self._client.search_runs([self._experiment_id], filter_string=f"tags.`{TRIAL_TAG}` = '{trial_id}'",
                                         max_results=1)
        if found:
            run_id = found[0].info.run_id
            if found[0].info.status != "RUNNING":
                self._client.update_run(run_id, status="RUNNING")
            history = self._client.get_metric_history(run_id, self.metric)
            self._logged[trial_id] = max((point.step for point in history), default=0)
            self._waiting.setdefault(trial_id, [])[:0] = self._recorded_epochs(trial_id)
        else:
            run_id = create_trial_run(self._client, self._experiment_id, trial.trial_id, trial.config, self.run_path)
            self._logged[trial_id] = 0
        self._runs[trial_id] = run_id
        return run_id

    def _recorded_epochs(self, trial_id: str) -> list[dict]:
        """The epochs the run folder holds for a trial: those a killed driver never sent are logged on resume."""
        if is_uri(self.run_path):
            return []
        return read_json_lines(Path(self.run_path) / trial_folder_name(trial_id) / HISTORY_FILE)[0]

    def _log_waiting(self, trial: Any) -> None:
        """Logs the trial's epochs MLflow does not hold yet, in one call (several after an outage).

        Each epoch once, as first reported: an epoch a resumed trial trains again is held already.
        """
        run_id = self._run(trial)
        waiting = self._waiting.pop(trial.trial_id, [])
        new = {}
        for result in waiting:
            if epoch_of(result) > self._logged[trial.trial_id]:
                new.setdefault(epoch_of(result), result)
        metrics = [metric for result in new.values() for metric in epoch_metrics(result)]
        try:
            for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics a call
                self._client.log_batch(run_id, metrics=metrics[start:start + 1000])
        except Exception:
            self._waiting[trial.trial_id] = waiting + self._waiting.get(trial.trial_id, [])
            raise
        if new:
            self._logged[trial.trial_id] = max(new)

    def _end(self, trial: Any) -> None:
        run_id = self._run(trial)
        self._log_waiting(trial)
        status = self._unended[trial.trial_id][1]
        epochs = self._logged.get(trial.trial_id, 0)
        events = read_events(Path(self.run_path)).get(trial.trial_id, []) if not is_uri(self.run_path) else []
        reason, detail = ("errored", _error_line(trial)) if status == "FAILED" else stop_reason(
            "TERMINATED", epochs, self.epochs, events)
        self._client.set_tag(run_id, "stop_reason", reason)
        if detail:
            self._client.set_tag(run_id, "stop_detail", detail[:5000])
        if self.log_checkpoint and status == "FINISHED":
            best = _best_checkpoint(Path(self.run_path) / trial_folder_name(trial.trial_id))
            if best is not None:
                self._client.log_artifacts(run_id, str(best), "best_checkpoint")
        self._client.set_terminated(run_id, status)
        del self._unended[trial.trial_id]

    def _guarded(self, action: str, trial: Any, call: Any) -> None:
        """Tracking never stops the experiment: a failure is logged and recorded, and calls pause a while."""
        if time.monotonic() < self._paused_until:
            return  # results keep waiting in memory; the first call after the pause logs them
        try:
            call()
        except Exception as error:  # MLflow's own errors, a server gone, a disk full: all the same here
            what = f"{action} trial {trial.trial_id}" if trial is not None else action
            logger.warning("MLflow tracking at %s failed %s: %s", self.uri, what, error)
            self._events.record("", "tracking_failed", action=what, error=f"{type(error).__name__}: {error}"[:500])
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
            self._failed = True


def _error_line(trial: Any) -> str | None:
    """The last line of the trial's error, when Ray kept one."""
    error = getattr(trial, "error_file", None)
    if error and Path(error).is_file():
        lines = [line for line in Path(error).read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1].strip() if lines else None
    return None


def _best_checkpoint(trial_dir: Path) -> Path | None:
    """The trial's best-checkpoint copy (the newest, if a crash left two)."""
    copies = sorted(trial_dir.glob(f"{BEST_DIR}-epoch*"), key=lambda path: int(path.name.rsplit("epoch", 1)[1]))
    return copies[-1] if copies else None


def replay_complete_run(uri: str, run_name: str, run_path: str, *, metric: str, mode: str, epochs: int) -> str:
    """`--resume` of a complete run with MLflow tracking: MLflow made whole from the run folder, in one line.

    An outage may have left runs missing or RUNNING after the run ended; nothing is left to train, so
    this replay is all a resume does. The line says what changed, or why MLflow could not be reached.
    """
    tracking = MlflowTracking(uri, run_name, run_path, metric=metric, mode=mode, epochs=epochs)
    if is_uri(run_path):
        return f"MLflow at {tracking.uri} is not replayed from URI storage (the record is read from a folder)"
    try:
        tracking._connect()
        changed = replay_record(tracking._client, tracking._experiment_id, run_path, epochs=epochs)
    except Exception as error:  # MLflow's own errors, a server still down: the run folder is whole regardless
        return f"warning: MLflow at {tracking.uri} still cannot be brought in step ({type(error).__name__}: {error})"
    if not changed:
        return f"MLflow at {tracking.uri} holds every trial of the run"
    return f"MLflow at {tracking.uri}: {changed} trial run(s) brought in step with the run folder"
