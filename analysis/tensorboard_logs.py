"""TensorBoard logs made from the Results frames: per-epoch scalars and an HParams session per trial.

Written from what `analysis.load` read, not by the trainable, so they can be made at any time,
from results copied off a cluster, and show every trial's hyperparameters in the HParams
dashboard — fixed ones, and conditional ones (empty where inactive) — with its metrics and the
objective's best so far. Ray's own per-trial event files stay where they are.

Layout, one log directory per experiment that `tensorboard --logdir` opens directly:

    RESULTS/tensorboard/            events file: the HParams experiment (every hyperparameter's domain)
    RESULTS/tensorboard/<trial_id>/ events file: HParams session start, scalars per epoch, session end

A run still going is followed: after the first write, each update appends only what is new (a
trial that started, the epochs it trained since, its session end) to the end of the event files,
where TensorBoard's reloader reads on from the offset it reached; a file it has read is never
rewritten. The HParams experiment is written once the run has ended: TensorBoard reads only the
first one, and without one it builds the experiment from the sessions it has seen, so the
hyperparameters and metrics of trials that start later still get their columns.

Imports tensorboard's protobufs only: no TensorFlow, so writing takes a fraction of a second.
"""
from __future__ import annotations

import io
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tunelab.analysis.load import load
from tunelab.analysis.results import DamagedResultsWarning, Experiment, Results, is_missing, python_value
from tunelab.core.errors import InputError
from tunelab.core.objective import Objective

LOG_FOLDER = "tensorboard"
_SESSION_END = {"completed": "STATUS_SUCCESS", "stopped": "STATUS_SUCCESS", "trial_timeout": "STATUS_SUCCESS",
                "errored": "STATUS_FAILURE", "out_of_memory": "STATUS_FAILURE"}


def write_logs(results: Results, logdir: str | Path | None = None) -> dict[str, Path]:
    """Writes (or rewrites) each experiment's log directory; returns experiment name -> directory.

    By default each goes to RESULTS/tensorboard inside its own results folder. With `logdir`
    (for a read-only results folder), a single experiment's logs go to `logdir` itself and
    several experiments' to `logdir/<experiment>`.
    """
    return TensorBoardLogs(logdir).update(results)


@dataclass
class _TrialLog:
    """What a trial's event file holds so far."""

    events_file: str              # relative to the experiment's log folder
    time: float                   # the wall time of its last event
    last_epoch: int | None = None
    best: float | None = None     # the objective's best so far
    ended: bool = False           # its session end is written: nothing more is appended


@dataclass
class _ExperimentLog:
    """What an experiment's log folder holds so far."""

    folder: Path
    created: float
    events_file: str              # the folder's own event file, for the HParams experiment
    described: bool = False       # the HParams experiment is written
    trials: dict[str, _TrialLog] = field(default_factory=dict)


class TensorBoardLogs:
    """Each experiment's log folder and what it holds, so that a later `update` appends only what is new."""

    def __init__(self, logdir: str | Path | None = None) -> None:
        self._logdir = None if logdir is None else Path(logdir)
        self._written: dict[Path, _ExperimentLog] = {}

    def update(self, results: Results) -> dict[str, Path]:
        """Brings each experiment's logs up to `results`; returns experiment name -> directory.

        The first update of a folder writes it afresh (into a sibling folder swapped in, so that
        rerunning replaces the logs, never duplicates them); later ones append to its files.
        """
        written = {}
        for experiment in results.experiments:
            target = self._target(results, experiment)
            log = self._written.get(target)
            if log is None:
                self._written[target] = _write_fresh(results, experiment, target)
            else:
                _append_new(log, results, experiment)
            written[experiment.name] = target
        return written

    def _target(self, results: Results, experiment: Experiment) -> Path:
        if self._logdir is None:
            return experiment.path / LOG_FOLDER
        return self._logdir if len(results.experiments) == 1 else self._logdir / experiment.name


def follow(path: str | Path, logs: TensorBoardLogs, stop: threading.Event, every: float) -> None:
    """Reloads the run at `path` every `every` seconds and appends what is new to `logs`, until `stop`
    is set or the run has ended (its last update written). A round whose loading fails, on a file
    caught mid-write, is skipped; the next one reads it whole."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedResultsWarning)  # the first load said them; a live line may be cut
        while not stop.wait(every):
            try:
                results = load(path)
            except (InputError, OSError, ValueError, KeyError):
                continue
            logs.update(results)
            if not any(experiment.live for experiment in results.experiments):
                return


def _write_fresh(results: Results, experiment: Experiment, target: Path) -> _ExperimentLog:
    trials = results.trials[results.trials["experiment"] == experiment.name]
    created = _seconds(trials["start"].min()) or time.time()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        log = _ExperimentLog(staging, created, _events_file_name(created))
        _append(staging / log.events_file, [_header(created)])
        _append_new(log, results, experiment)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        log.folder = target
        return log
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _append_new(log: _ExperimentLog, results: Results, experiment: Experiment) -> None:
    """The trials, epochs and session ends `log` lacks; the HParams experiment once the run has ended."""
    trials = results.trials[results.trials["experiment"] == experiment.name]
    history = results.history[results.history["experiment"] == experiment.name]
    by_trial = dict(tuple(history.groupby("trial_id", sort=False)))
    params = [name for name in results.params if trials[name].notna().any()]
    objective = f"{experiment.metric}_best" if experiment.metric in results.metrics else None
    for _, trial in trials.iterrows():
        written = log.trials.get(trial["trial_id"])
        if written is None and experiment.live and all(is_missing(trial[name]) for name in params):
            continue  # its params.json caught mid-copy: the session starts once its hyperparameters are read
        if written is None or not written.ended:
            log.trials[trial["trial_id"]] = _append_trial(log, written, trial, by_trial.get(trial["trial_id"]),
                                                          params, results.metrics, experiment, objective)
    if not log.described and not experiment.live:
        metrics = [name for name in results.metrics if history[name].notna().any()]
        tags = [*metrics, *([objective] if experiment.metric in metrics else [])]
        _append(log.folder / log.events_file, [_event(_experiment_pb(trials, params, tags, experiment, log.created),
                                                      log.created, 0)])
        log.described = True


def _append_trial(log: _ExperimentLog, written: _TrialLog | None, trial: pd.Series, history: pd.DataFrame | None,
                  params: list[str], metrics: tuple[str, ...], experiment: Experiment,
                  objective: str | None) -> _TrialLog:
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.plugins.scalar import summary_v2 as scalar

    events = []
    if written is None:
        start = _seconds(trial["start"]) or log.created
        written = _TrialLog(f"{trial['trial_id']}/{_events_file_name(start)}", start)
        (log.folder / trial["trial_id"]).mkdir(parents=True, exist_ok=True)
        values = {name: python_value(trial[name]) for name in params if not is_missing(trial[name])}
        events += [_header(start), _event(hp.hparams_pb(values, trial_id=trial["trial_id"], start_time_secs=start),
                                          start, 0)]
    if history is not None and written.last_epoch is not None:
        history = history[history["epoch"] > written.last_epoch]
    for row in ([] if history is None else history.to_dict("records")):
        wall, epoch = (written.time if is_missing(row["time"]) else row["time"]), int(row["epoch"])
        events += [_event(scalar.scalar_pb(name, float(row[name])), wall, epoch)
                   for name in metrics if not is_missing(row[name])]
        if objective and not is_missing(row[experiment.metric]):
            value = float(row[experiment.metric])
            if Objective(experiment.metric, experiment.mode).better(value, written.best):
                written.best = value
            events.append(_event(_objective_pb(objective, written.best, experiment), wall, epoch))
        written.last_epoch, written.time = epoch, wall
    status = _SESSION_END.get(trial["stop_reason"])
    if status is not None:
        step, best = written.last_epoch or 0, trial[objective] if objective else None
        if not is_missing(best) and best != written.best:  # an epoch a retry reported again after it was written
            written.best = float(best)
            events.append(_event(_objective_pb(objective, written.best, experiment), written.time, step))
        end = _seconds(trial["end"]) or written.time
        events.append(_event(_session_end_pb(status, end), end, step))
        written.ended = True
    if events:
        _append(log.folder / written.events_file, events)
    return written


def _objective_pb(objective: str, value: float, experiment: Experiment) -> Any:
    from tensorboard.plugins.scalar import summary_v2 as scalar

    return scalar.scalar_pb(objective, value, description=f"best {experiment.metric} over the trial's epochs so far")


def _session_end_pb(status: str, end: float) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(status=getattr(api_pb2, status), end_time_secs=end)
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_end_info=info)),
    )])


def _experiment_pb(trials: pd.DataFrame, params: list[str], tags: list[str], experiment: Experiment,
                   created: float) -> Any:
    """The HParams experiment: each hyperparameter's domain, and the metric columns of the table."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    hparams = [hp.HParam(name, _domain(name, trials[name], experiment)) for name in params]
    return hp.hparams_config_pb(hparams, [hp.Metric(tag, display_name=tag) for tag in tags], created)


def _domain(name: str, values: pd.Series, experiment: Experiment) -> Any:
    """The hyperparameter's domain from the space when it can be built here, else from the values seen."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    param = experiment.space[name] if experiment.space is not None and name in experiment.space else None
    kind = type(param).__name__ if param is not None else None
    if kind == "Int":
        return hp.IntInterval(int(param.low), int(param.high))
    if kind == "Float":
        return hp.RealInterval(float(param.low), float(param.high))
    if kind in ("Choice", "Bool", "Fixed"):
        options = getattr(param, "values", None) or ([False, True] if kind == "Bool" else [param.value])
        domain = _discrete(list(options))
        if domain is not None:
            return domain
    seen = [python_value(v) for v in values.dropna().unique()]
    if seen and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen) and len(seen) > 1:
        return hp.RealInterval(float(min(seen)), float(max(seen)))
    return _discrete(seen)


def _discrete(values: list[Any]) -> Any:
    from tensorboard.plugins.hparams import summary_v2 as hp

    if not values:
        return None
    if all(isinstance(v, bool) for v in values):
        return hp.Discrete(values, dtype=bool)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return hp.Discrete([float(v) for v in values], dtype=float)
    if all(isinstance(v, str) for v in values):
        return hp.Discrete(values, dtype=str)
    return None  # mixed types: TensorBoard has no domain for that; the values still show


def _seconds(value: Any) -> float | None:
    if is_missing(value):
        return None
    return pd.Timestamp(value).timestamp()


def _events_file_name(created: float) -> str:
    return f"events.out.tfevents.{int(created):010d}.tunelab"


def _header(created: float) -> bytes:
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=created, file_version="brain.Event:2").SerializeToString()


def _event(summary: Any, wall_time: float, step: int) -> bytes:
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary).SerializeToString()


def _append(path: Path, events: list[bytes]) -> None:
    """Whole records, in one write at the end of the file, with tensorboard's own framing (no TensorFlow)."""
    from tensorboard.summary.writer.record_writer import RecordWriter

    records = io.BytesIO()
    writer = RecordWriter(records)
    for event in events:
        writer.write(event)
    with path.open("ab") as file:
        file.write(records.getvalue())
