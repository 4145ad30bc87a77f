"""TensorBoard logs made from the Results frames: per-epoch scalars and an HParams session per trial.

Written from what `analysis.load` read, not by the trainable, so they can be made at any time,
from results copied off a cluster, and show every trial's hyperparameters in the HParams
dashboard — fixed ones, and conditional ones (empty where inactive) — with its final metrics
and the objective's best. Ray's own per-trial event files stay where they are.

Layout, one log directory per experiment that `tensorboard --logdir` opens directly:

    RESULTS/tensorboard/            events file: the HParams experiment (every hyperparameter's domain)
    RESULTS/tensorboard/<trial_id>/ events file: HParams session start, scalars per epoch, session end

Imports tensorboard's protobufs only: no TensorFlow, so writing takes a fraction of a second.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from tunelab.analysis.load import Experiment, Results, is_missing, python_value

LOG_FOLDER = "tensorboard"
_STATUS = {"completed": "STATUS_SUCCESS", "stopped": "STATUS_SUCCESS", "errored": "STATUS_FAILURE",
           "running": "STATUS_RUNNING", "paused": "STATUS_RUNNING"}


def write_logs(results: Results, logdir: str | Path | None = None) -> dict[str, Path]:
    """Writes (or rewrites) each experiment's log directory; returns experiment name -> directory.

    By default each goes to RESULTS/tensorboard inside its own results folder. With `logdir`
    (for a read-only results folder), a single experiment's logs go to `logdir` itself and
    several experiments' to `logdir/<experiment>`.
    """
    written = {}
    for experiment in results.experiments:
        if logdir is None:
            target = experiment.path / LOG_FOLDER
        else:
            target = Path(logdir) if len(results.experiments) == 1 else Path(logdir) / experiment.name
        _write_experiment(results, experiment, target)
        written[experiment.name] = target
    return written


def _write_experiment(results: Results, experiment: Experiment, target: Path) -> None:
    """Writes into a fresh sibling folder, then swaps it in: rerunning replaces, never duplicates."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    trials = results.trials[results.trials["experiment"] == experiment.name]
    history = results.history[results.history["experiment"] == experiment.name]
    params = [name for name in results.params if trials[name].notna().any()]
    metrics = [name for name in results.metrics if history[name].notna().any()]
    objective = f"{experiment.metric}_best" if experiment.metric in metrics else None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        created = _seconds(trials["start"].min()) or time.time()
        hparams = [hp.HParam(name, _domain(name, trials[name], experiment)) for name in params]
        tags = [*metrics, *([objective] if objective else [])]
        config = hp.hparams_config_pb(hparams, [hp.Metric(tag, display_name=tag) for tag in tags], created)
        with _EventFile(staging, created) as events:
            events.write(config, created, 0)
        by_trial = dict(tuple(history.groupby("trial_id", sort=False)))
        for _, trial in trials.iterrows():
            _write_trial(staging / trial["trial_id"], trial, by_trial.get(trial["trial_id"]), params, metrics,
                         experiment.metric, objective, created)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _write_trial(folder: Path, trial: pd.Series, history: pd.DataFrame | None, params: list[str],
                 metrics: list[str], metric: str | None, objective: str | None, created: float) -> None:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.plugins.scalar import summary_v2 as scalar

    start = _seconds(trial["start"]) or created
    values = {name: python_value(trial[name]) for name in params if not is_missing(trial[name])}
    with _EventFile(folder, start) as events:
        events.write(hp.hparams_pb(values, trial_id=trial["trial_id"], start_time_secs=start), start, 0)
        last_step, last_time = 0, start
        if history is not None:
            for row in history.itertuples(index=False):
                row = row._asdict()
                wall = row["time"] if not is_missing(row["time"]) else start
                for name in metrics:
                    if not is_missing(row[name]):
                        events.write(scalar.scalar_pb(name, float(row[name])), wall, int(row["epoch"]))
                last_step, last_time = int(row["epoch"]), wall
        if objective and not is_missing(trial[objective]):
            events.write(scalar.scalar_pb(objective, float(trial[objective]),
                                          description=f"best {metric} over the trial's epochs"), last_time, last_step)
        status = _STATUS.get(trial["stop_reason"])
        if status in ("STATUS_SUCCESS", "STATUS_FAILURE"):
            end = _seconds(trial["end"]) or last_time
            info = plugin_data_pb2.SessionEndInfo(status=getattr(api_pb2, status), end_time_secs=end)
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
                tag=metadata.SESSION_END_INFO_TAG,
                metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_end_info=info)),
            )])
            events.write(summary, end, last_step)


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


class _EventFile:
    """A TensorBoard event file written with tensorboard's own record framing, no TensorFlow needed."""

    def __init__(self, folder: Path, created: float) -> None:
        from tensorboard.summary.writer.record_writer import RecordWriter

        folder.mkdir(parents=True, exist_ok=True)
        self._file = open(folder / f"events.out.tfevents.{int(created):010d}.tunelab", "wb")
        self._records = RecordWriter(self._file)
        from tensorboard.compat.proto import event_pb2

        self._event = event_pb2.Event
        self._records.write(self._event(wall_time=created, file_version="brain.Event:2").SerializeToString())

    def write(self, summary: Any, wall_time: float, step: int) -> None:
        self._records.write(self._event(wall_time=wall_time, step=step, summary=summary).SerializeToString())

    def __enter__(self) -> "_EventFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._file.close()


# --- serving ----------------------------------------------------------------------------------


@dataclass
class TensorBoardServer:
    """A TensorBoard subprocess bound to one address; `stop` ends it."""

    process: subprocess.Popen
    url: str
    log: Path  # TensorBoard's own output; removed by `stop`

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.unlink(missing_ok=True)


class TensorBoardError(RuntimeError):
    """TensorBoard did not start (port taken, or it exited); the message holds its last output."""


def start_tensorboard(logdir: str | Path, port: int = 0, host: str = "127.0.0.1", timeout: float = 90.0,
                      extra_args: Iterable[str] = ()) -> TensorBoardServer:
    """Starts TensorBoard on `logdir`, bound to `host` only (loopback by default), and waits until it answers.

    Port 0 picks a free one. TensorBoard's output goes to a temporary log file, quoted in errors.
    """
    port = port or _free_port(host)
    with tempfile.NamedTemporaryFile(prefix="tunelab-tensorboard-", suffix=".log", delete=False) as log:
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", host,
                   "--port", str(port), "--reload_interval", "5", *extra_args]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://{host}:{port}/"
    server = TensorBoardServer(process, url, Path(log.name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            message = f"TensorBoard exited ({process.returncode}): {_tail(log.name)}"
            server.stop()
            raise TensorBoardError(message)
        try:
            with urllib.request.urlopen(url + "data/environment", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    message = f"TensorBoard did not answer on {url} within {timeout:.0f}s: {_tail(log.name)}"
    server.stop()
    raise TensorBoardError(message)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _tail(path: str) -> str:
    lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def session_groups(url: str, limit: int = 10_000) -> list[dict]:
    """The HParams dashboard's data, as its frontend requests it: one group per trial."""
    import json

    request = {"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                         "STATUS_RUNNING"],
               "colParams": [], "startIndex": 0, "sliceSize": limit}
    body = json.dumps(request).encode()
    post = urllib.request.Request(url.rstrip("/") + "/data/plugin/hparams/session_groups", data=body,
                                  headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(post, timeout=10) as response:
        return json.loads(response.read()).get("sessionGroups", [])
