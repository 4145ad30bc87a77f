"""Everything a run needs, checked before Ray starts: the spec planned, the data loaded (or described),
the model built once, the run folder chosen (a new one, the one to resume, or one a killed launch left
empty), and the tracking callbacks built. Nothing is written here; `runner.run` starts Ray."""
from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunelab.core.run_folder import LOCK_FILE, SPEC_FILE, is_uri
from tunelab.core.tf_logs import quiet_tensorflow_logs
from tunelab.experiments.errors import SpecError
from tunelab.experiments.objectives import check_reported, objectives_of
from tunelab.experiments.run.lock import check_not_locked
from tunelab.experiments.run.recorded import recorded_run
from tunelab.experiments.run.resume import COMPLETE, resume_kind
from tunelab.experiments.run.same_experiment import check_same_experiment
from tunelab.experiments.spec import ExperimentSpec, check_folder_name, check_storage_text
from tunelab.experiments.strategies import Budget, Plan, plan_strategy
from tunelab.experiments.tracking import tracking_callbacks
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import SpaceError
from tunelab.trainables import Dataset, StreamedData, load_dataset
from tunelab.trainables.preflight import check_batch_size, check_trainable


@dataclass(frozen=True)
class Prepared:
    """Everything a run needs, checked: the spec, its data, its Ray pieces and where results go."""

    spec: ExperimentSpec
    data: Dataset | StreamedData  # arrays, or the description of a source each worker reads itself
    plan: Plan
    events: TrialEventLog  # scheduler decisions and trial outcomes, written once the run starts
    storage: str          # absolute path or URI
    name: str             # folder under storage
    resume: bool
    complete: bool = False  # a --resume of a run whose planned trials have all finished: nothing to run
    callbacks: tuple[Any, ...] = ()  # tracking (MLflow) and the user's own Ray callbacks, built and checked
    afresh: bool = False  # the folder held only a lock: a launch killed before it wrote anything; started anew
    record_note: str | None = None  # Ray's state was lost: what the resume keeps from tunelab's record

    @property
    def path(self) -> str:
        return f"{self.storage.rstrip('/')}/{self.name}"


def resolve_storage(storage: str) -> str:
    """An absolute path or a URI: Ray rejects relative storage paths."""
    if is_uri(storage):
        return storage
    path = Path(storage).expanduser().resolve()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise SpecError(f"storage: {path} is not a writable directory (nearest existing: {existing})")
    return str(path)


def prepare(
    spec: ExperimentSpec, *, storage: str | None = None, name: str | None = None, resume: bool = False
) -> Prepared:
    """Validates everything that does not need Ray; raises an InputError (SpecError, SpaceError, DataError)."""
    if storage is not None:
        check_storage_text(storage, "--storage")
    if name is not None:
        check_folder_name(name, "--name")
    root = resolve_storage(storage or spec.storage)
    with quiet_tensorflow_logs():  # a file source or a model function loads TensorFlow here, in the driver
        data = load_dataset(spec.data, validation_fraction=spec.validation_fraction, seed=spec.seed,
                            test_fraction=spec.test_fraction, task=spec.task)
        check_batch_size(spec.space, spec.batch_size, data)
        reported = check_trainable(spec.trainable, data, spec.space, metrics=spec.metrics, seed=spec.seed)
    # The metric is checked against what the trials report, which a user's compiled model alone knows.
    spec = check_reported(spec, reported)
    try:
        budget = Budget(spec.metric, spec.mode, spec.epochs, TrialEventLog(), spec.checkpoint_every,
                        spec.max_concurrent_trials, trainable=spec.trainable, objectives=objectives_of(spec),
                        constraints=spec.constraints)
        plan = plan_strategy(spec.space, spec.strategy.name, spec.strategy.options, budget)
    except SpaceError as error:
        raise SpecError(f"strategy {spec.strategy.name}: {error}") from None
    folder = (name or _latest_run(root, spec.name)) if resume else (
        name or f"{spec.name}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    afresh = not is_uri(root) and _holds_only_a_lock(Path(root) / folder)
    if afresh:
        check_not_locked(Path(root) / folder)  # a live driver about to write its record keeps its folder
        resume = False
    elif resume and not is_uri(root):
        check_not_locked(Path(root) / folder)  # a live driver's run is refused before anything else
        if not (Path(root) / folder / SPEC_FILE).is_file():
            found = "holds no experiment to resume" if (Path(root) / folder).is_dir() else "does not exist"
            raise SpecError(f"--resume: {Path(root) / folder} {found}")
        check_same_experiment(spec, Path(root) / folder)
    elif not resume and not is_uri(root) and (Path(root) / folder).exists():
        raise SpecError(f"--name: {Path(root) / folder} already exists; use --resume to continue it")
    path = f"{root.rstrip('/')}/{folder}"
    record = recorded_run(path, plan, spec.epochs) if resume else None  # Ray's state lost: tunelab's record decides
    complete = record.complete if record else resume and resume_kind(path, plan.num_samples) == COMPLETE
    callbacks = () if complete else tracking_callbacks(
        spec.tracking, run_name=folder, run_path=path, metric=spec.metric, mode=spec.mode, epochs=spec.epochs,
        storage_is_local=not is_uri(root))
    return Prepared(spec, data, plan, budget.events, root, folder, resume, complete, callbacks, afresh,
                    record.note() if record else None)


def _holds_only_a_lock(folder: Path) -> bool:
    """A folder a launch killed before it wrote its record left: nothing in it but lock files (or nothing)."""
    try:
        names = [path.name for path in folder.iterdir()]
    except OSError:
        return False
    return folder.is_dir() and all(name == LOCK_FILE or name.startswith(f"{LOCK_FILE}.") for name in names)


def _latest_run(root: str, experiment: str) -> str:
    if is_uri(root):
        raise SpecError("--resume with a URI storage needs --name (the experiment folder to continue)")
    # Its own runs only: `probe` must not resume `probe-big-20261201-120000`, a run of another experiment.
    own = re.compile(rf"{re.escape(experiment)}(-\d{{8}}-\d{{6}})?")
    runs = [p for p in Path(root).glob(f"{experiment}*") if own.fullmatch(p.name) and (p / SPEC_FILE).exists()]
    if not runs:
        raise SpecError(f"--resume: no earlier run of {experiment!r} under {root}")
    return max(runs, key=lambda p: p.stat().st_mtime).name
