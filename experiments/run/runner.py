"""Runs a prepared experiment on Ray: `run` connects to (or starts) Ray, builds the Tuner, fits and
returns an `Outcome` the script prints. Everything that can fail without Ray was checked before, by
`prepare` (experiments/run/prepare.py), so bad input fails before a single trial exists.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from tunelab.core.objective import Objective
from tunelab.core.out_of_memory import out_of_memory_cause
from tunelab.core.pareto import Constraint, best_index, trial_point
from tunelab.core.run_folder import SPEC_FILE, is_uri, trial_folder_name
from tunelab.core.secrets import redacted
from tunelab.experiments.errors import SpecError
from tunelab.experiments.objectives import measures_of, objectives_of, resolved_objectives
from tunelab.experiments.run.best_checkpoints import BestCheckpointKeeper
from tunelab.experiments.run.cluster import check_address, check_resources, check_storage_reachable
from tunelab.experiments.run.guards import EpochBudget, RunGuard
from tunelab.experiments.run.history import HistoryLog
from tunelab.experiments.run.interrupts import InterruptWatch, stop_signal, stop_signals_kept, stop_signals_restored
from tunelab.experiments.run.lock import run_lock
from tunelab.experiments.run.output import DriverLog, captured
from tunelab.experiments.run.prepare import Prepared
from tunelab.experiments.run.recorded import continue_from_record, recorded_run
from tunelab.experiments.run.progress import Progress, ProgressCallback, latest_progress, progress_sink
from tunelab.experiments.run.ray_internals import recovery_refused
from tunelab.experiments.run.resume import (
    RESTART, carry_recorded_completions, record_resumed_trials, resume_kind, set_aside_damaged_states,
    set_aside_unrecorded_start, set_aside_unrecorded_trials,
)
from tunelab.experiments.run.test_score import score_on_test, without_test
from tunelab.experiments.run.trial_timeout import TrialTimeout, trial_time_limit
from tunelab.experiments.strategies import Plan
from tunelab.experiments.trial_events import TrialEventLog, TrialOutcomeCallback
from tunelab.trainables import RunSettings


@dataclass(frozen=True)
class Outcome:
    """What an experiment produced, for the script to print."""

    path: str
    trials: int
    errored: int
    best_trial: str | None
    best_value: float | None
    best_config: dict[str, Any] | None
    wall_seconds: float
    stopped: str | None = None   # why the experiment was stopped early, if it was
    bad_input: bool = False      # the stop was a user mistake (a metric never reported)
    stop_signal: int | None = None  # the signal that stopped the run (SIGINT, SIGTERM, SIGHUP): --resume continues it
    finished: int = 0            # trials that ended (completed, stopped or errored), the run's earlier fits too
    ended_well: int = 0          # of those, the ones that completed or that the strategy stopped early
    errored_trials: tuple[str, ...] = ()  # folders of the trials that errored past their retries
    planned: int = 0             # trials the plan runs in all
    storage_error: str | None = None  # the run folder could not be written (a full disk): results are incomplete
    log: str | None = None       # where Ray's own console output went
    tracking_failed: str | None = None  # tracking calls that failed (the results are whole; the tracked copy is not)
    test_note: str | None = None  # why the best model has no test score, where the data has a test part

    @property
    def interrupted(self) -> bool:
        """A stop signal ended the run before its plan did: Ray saved it."""
        return self.stop_signal is not None


@dataclass(frozen=True)
class RayJob:
    """What tune.Tuner needs, whoever built it: a YAML experiment or the KerasTuner-style facade."""

    trainable: Any             # a Ray trainable, parameters and resources bound
    plan: Plan
    metric: str
    mode: str
    storage: str               # absolute path or URI
    name: str                  # folder under storage
    events: TrialEventLog
    record: Mapping[str, Any]  # written as tunelab_experiment.yaml, read by analysis
    resume: bool = False
    max_concurrent_trials: int = 0
    max_failures: int = 2
    retry_out_of_memory: bool = False  # False: a trial that ran out of memory is not retried (it would again)
    max_consecutive_failures: int = 5  # 0: never stop the experiment for failing trials
    max_total_epochs: int = 0  # 0: no cap on the epochs all trials train together
    resources: Mapping[str, float] = dataclasses.field(default_factory=lambda: {"cpu": 1.0, "gpu": 0.0})
    epochs_per_trial: int = 0  # a trial's whole budget, to tell completed from stopped early (0: unknown)
    trial_timeout: float | None = None  # seconds a trial may train before the driver stops it (None: no limit)
    callbacks: tuple[Any, ...] = ()  # the user's: tracking and their own (a resume keeps the first run's)
    after_fit: Callable[[str], str | None] | None = None  # run path -> a closing note; Ray still up (the test score)
    objectives: tuple[Objective, ...] = ()  # several: the best trial is the feasible best on the first (core.pareto)
    constraints: tuple[Constraint, ...] = ()  # a trial breaking one is never the best

    @property
    def path(self) -> str:
        return f"{self.storage.rstrip('/')}/{self.name}"


def run(
    prepared: Prepared, *, address: str | None = None, on_progress: Callable[[Progress], None] | None = None
) -> Outcome:
    """Starts or joins Ray, runs (or resumes) the experiment, and summarises the best trial."""
    spec = prepared.spec
    job = RayJob(
        trainable=_trainable(prepared), plan=prepared.plan, metric=spec.metric, mode=spec.mode,
        storage=prepared.storage, name=prepared.name, events=prepared.events,
        record={**spec.source, **resolved_objectives(spec)},  # as resolved: analysis reads them
        resume=prepared.resume, max_concurrent_trials=spec.max_concurrent_trials, max_failures=spec.max_failures,
        retry_out_of_memory=spec.retry_out_of_memory,
        max_consecutive_failures=spec.max_consecutive_failures, max_total_epochs=spec.max_total_epochs,
        resources={"cpu": spec.resources.cpu, "gpu": spec.resources.gpu}, epochs_per_trial=spec.epochs,
        trial_timeout=spec.trial_timeout,
        callbacks=prepared.callbacks, after_fit=score_on_test(prepared),
        objectives=objectives_of(spec) if spec.objectives else (), constraints=spec.constraints,
    )
    return run_job(job, address=address, on_progress=on_progress)


def run_job(job: RayJob, *, address: str | None = None, on_progress: Callable[[Progress], None] | None = None
            ) -> Outcome:
    """Fits `job` on Ray (started here unless already running) and summarises the best trial."""
    import ray

    started, started_at = time.monotonic(), time.time()
    # Checkpointing every epoch forces frequent state snapshots; cheap here, so don't warn.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # RunGuard stops a run whose metric is missing with one clear line; Ray's own check crashes fit().
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    owns_ray = not ray.is_initialized()
    with run_lock(job.path), stop_signals_restored(), captured(DriverLog()) as log, \
            progress_sink(job.path, on_progress), trial_time_limit(job.path, job.trial_timeout):
        if owns_ray:
            with stop_signals_kept():
                _start_ray(address)
        try:
            nodes = ray.nodes()
            check_resources(job.resources, nodes)
            check_storage_reachable(job.storage, nodes)
            guard = RunGuard(job.metric, job.max_consecutive_failures, job.events)
            tuner = _tuner(job, guard, log)
            try:
                with _out_of_memory_policy(job.retry_out_of_memory):
                    results = tuner.fit()
            except Exception:
                if log.failure is None and _write_failure(job.path) is None:
                    raise
                results = None  # Ray cannot read back the files it failed to write (a full disk)
            note = job.after_fit(job.path) if job.after_fit and results is not None else None
        finally:
            if owns_ray:
                ray.shutdown()
    wall = time.monotonic() - started
    progress = latest_progress(job.path)  # what happened, as it happened: Ray's saved state can miss it
    outcome = summarize(results, job.path, job.metric, job.mode, wall, job.objectives, job.constraints) if results is not None else Outcome(
        job.path, progress.done if progress else 0, 0, None, progress.best if progress else None, None, wall)
    if progress is not None and progress.errored > outcome.errored:
        outcome = dataclasses.replace(outcome, errored=progress.errored)
    failure = log.failure or _write_failure(job.path)
    outcome = dataclasses.replace(outcome, stop_signal=stop_signal(job.path),
                                  finished=progress.done if progress else 0, planned=job.plan.num_samples,
                                  ended_well=progress.completed + progress.stopped if progress else 0,
                                  log=str(log.path) if log.path else None,
                                  storage_error=f"{failure.strerror or failure}" if failure else None,
                                  tracking_failed=_tracking_failures(job.events, started_at), test_note=note)
    stop = (guard.reason, guard.bad_input) if guard.reason else job.events.last_stop(since=started_at)
    return dataclasses.replace(outcome, stopped=stop[0], bad_input=stop[1]) if stop else outcome


def _tracking_failures(events: TrialEventLog, since: float) -> str | None:
    failures = events.since("tracking_failed", since)
    if not failures:
        return None
    return f"{len(failures)} tracking call(s) failed; the first, {failures[0].get('action')}: {failures[0].get('error')}"


def _write_failure(run_path: str) -> OSError | None:
    """Whether the run folder still takes writes: a full or read-only disk fails trials and loses state."""
    if is_uri(run_path):
        return None
    probe = Path(run_path) / ".tunelab-write-probe"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        return error
    return None


def _start_ray(address: str | None) -> None:
    """Starts a local Ray, or joins the cluster at `address` (or RAY_ADDRESS, set by `ray job submit`)."""
    import ray

    check_address(address)
    # "local" starts a fresh Ray instead of joining whatever cluster /tmp/ray last named;
    # RAY_ADDRESS (set by `ray job submit`) still wins when no address is given.
    local = not address and not os.environ.get("RAY_ADDRESS")
    try:
        if local:
            start_local_ray()
        else:  # the job's own runtime environment (e.g. --working-dir) stays untouched
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise SpecError(f"--address {address}: cannot connect to a Ray cluster there ({error})") from None


# glibc's heaps per worker process: 2 keeps a reused worker 34 MB smaller after 50 small trials and its growth
# from trial 5 to 50 at 7.6% instead of 10.6% (docs/benchmarks.md, 2026-12-06).
WORKER_MALLOC_ARENAS = "2"


def start_local_ray(num_cpus: int | None = None, env: Mapping[str, str] | None = None) -> None:
    """A fresh Ray on this machine (never one /tmp/ray last named), quiet, TensorFlow's C++ logs off.

    `num_cpus` None: every core; `env` is set in every worker process. Workers get glibc's
    MALLOC_ARENA_MAX (the user's, else WORKER_MALLOC_ARENAS): a reused worker runs each trial in a new
    thread, and without a cap glibc gives threads new heaps that keep what they once held.
    """
    import ray

    arenas = os.environ.get("MALLOC_ARENA_MAX", WORKER_MALLOC_ARENAS)
    workers = {"TF_CPP_MIN_LOG_LEVEL": "2", "MALLOC_ARENA_MAX": arenas}
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False, runtime_env={"env_vars": {**workers, **(env or {})}})


def _tuner(job: RayJob, guard: RunGuard, log: DriverLog) -> Any:
    from ray import tune
    from ray.tune.stopper import CombinedStopper

    record = recorded_run(job.path, job.plan, job.epochs_per_trial) if job.resume else None
    if record is not None:  # Ray's state is lost: a fresh Ray run continues tunelab's record in place
        continue_from_record(job.path, record, job.plan.searcher)
        job = dataclasses.replace(job, resume=False)
    if job.resume:
        set_aside_damaged_states(job.path)  # a snapshot a kill cut short: Ray restores the one before
    if job.resume and resume_kind(job.path, job.plan.num_samples) == RESTART:
        set_aside_unrecorded_start(job.path)  # killed before Ray saved any state: start the plan again
        job = dataclasses.replace(job, resume=False)
    if job.resume:  # Ray restores the callbacks and stopper pickled with the first run
        if not tune.Tuner.can_restore(job.path):
            raise SpecError(f"--resume: {job.path} holds no experiment Ray can restore")
        log.attach(job.path)
        job.events.attach(job.path)
        set_aside_unrecorded_trials(job.path, job.plan.searcher)  # started after Ray's last snapshot: suggested again
        carry_recorded_completions(job.path, job.plan.searcher)  # finished after it: not trained again
        try:
            tuner = tune.Tuner.restore(job.path, trainable=job.trainable, resume_errored=True)
        except (ImportError, AttributeError) as error:  # pickled by an older tunelab: a class moved or gone
            raise SpecError(f"--resume: {job.path} was written by an older tunelab and cannot be resumed "
                            f"({error}); start a new run") from None
        record_resumed_trials(job.path, job.events)  # the trials table counts them in `resumes`
        return tuner
    log.attach(job.path)
    job.events.attach(job.path)
    _write_record(job)
    planned = min(job.plan.max_epochs, job.max_total_epochs) if job.max_total_epochs else job.plan.max_epochs
    exact = bool(job.max_total_epochs) or job.plan.max_epochs != job.plan.num_samples * job.epochs_per_trial
    callbacks = [
        ProgressCallback(job.path, job.metric, job.mode, job.plan.num_samples, planned_epochs=planned,
                         epochs_per_trial=job.epochs_per_trial, exact_plan=exact),
        TrialOutcomeCallback(job.events),
        BestCheckpointKeeper(job.metric, job.mode),
        HistoryLog(job.path),
        InterruptWatch(job.path),
        TrialTimeout(job.path, job.events),
        guard,
        *job.callbacks,  # after BestCheckpointKeeper: a trial's best checkpoint is in place when it ends
    ]
    return tune.Tuner(
        job.trainable,
        param_space={},
        tune_config=tune.TuneConfig(
            metric=job.metric,
            mode=job.mode,
            search_alg=job.plan.searcher,
            scheduler=job.plan.scheduler,
            num_samples=job.plan.num_samples,
            max_concurrent_trials=job.max_concurrent_trials or None,
            reuse_actors=True,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=job.name,
            storage_path=job.storage,
            callbacks=callbacks,
            stop=CombinedStopper(guard, EpochBudget(job.max_total_epochs, job.events)) if job.max_total_epochs
            else guard,
            failure_config=tune.FailureConfig(max_failures=job.max_failures),
            # A resume may restore the one before the latest; BestCheckpointKeeper keeps the best.
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            verbose=0,
        ),
    )


def _trainable(prepared: Prepared):
    from ray import tune

    from tunelab.trainables import train

    spec = prepared.spec
    settings = RunSettings(
        model=spec.trainable, epochs=spec.epochs, batch_size=spec.batch_size, cpus=spec.resources.cpu,
        gpus=spec.resources.gpu, seed=spec.seed, checkpoint_every=spec.checkpoint_every, metric=spec.metric,
        mode=spec.mode, log_folder=None if is_uri(prepared.storage) else prepared.path, task=spec.task,
        metrics=spec.metrics, measure=measures_of(spec),
    )
    resources = {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu}
    return tune.with_resources(tune.with_parameters(train, data=without_test(prepared.data), run=settings), resources)


def _number(value: Any) -> Any:
    """A reported value as a float where it is a number (Ray's frames hold numpy scalars and strings)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
def _out_of_memory_policy(retry: bool) -> contextlib.AbstractContextManager:
    """Ray retries every failure; an out-of-memory only when the experiment asks (retry_out_of_memory)."""
    if retry:
        return contextlib.nullcontext()
    return recovery_refused(lambda failure: out_of_memory_cause(failure) is not None)


def _trial_dirname(trial: Any) -> str:
    return trial_folder_name(trial.trial_id)


def _write_record(job: RayJob) -> None:
    """Keeps the experiment as run beside Ray's files, so analysis knows the metric, mode and strategy; a
    credential in a URI (tracking.mlflow) is kept out of it."""
    import pyarrow.fs

    filesystem, root = pyarrow.fs.FileSystem.from_uri(job.path if is_uri(job.path) else Path(job.path).as_uri())
    filesystem.create_dir(root, recursive=True)
    with filesystem.open_output_stream(f"{root}/{SPEC_FILE}") as stream:
        stream.write(yaml.safe_dump(redacted(dict(job.record)), sort_keys=False).encode())


def summarize(results: Any, path: str, metric: str, mode: str, wall: float,
              objectives: tuple[Objective, ...] = (), constraints: tuple[Constraint, ...] = ()) -> Outcome:
    """The best trial by its best reported value of `metric` (not only its last epoch); with several objectives
    or constraints, by core.pareto's rule over each trial's epoch best on `metric`."""
    objective = Objective(metric, mode)
    scored, points = [], []
    for result in results:
        frame = result.metrics_dataframe
        if frame is None or metric not in frame:
            continue
        point = trial_point(({name: _number(value) for name, value in row.items()}
                             for row in frame.to_dict("records")), objective)
        if point is None:
            continue
        scored.append(result)
        points.append(point)
    chosen = best_index(points, objectives or (objective,), constraints) if points else None
    best = None if chosen is None else (float(points[chosen][metric]), scored[chosen])
    errored = tuple(sorted(Path(result.path).name for result in results if result.error is not None))
    if best is None:
        return Outcome(path, len(results), len(errored), None, None, None, wall, errored_trials=errored)
    value, result = best
    return Outcome(
        path, len(results), len(errored), Path(result.path).name, value if math.isfinite(value) else None,
        dict(result.config), wall, errored_trials=errored,
    )
