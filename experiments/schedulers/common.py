"""What every scheduler here shares: the epoch they count in, argument checks, and
keeping a paused trial's result files whole."""
from __future__ import annotations

from pathlib import Path

from ray.tune.experiment import Trial

from tunelab.core.errors import shown
from tunelab.core.run_folder import PROGRESS_FILE, RESULT_FILE

TIME_ATTR = "epoch"
"""The trainable's own 1-based epoch counter; unlike training_iteration it survives restores."""


def check_mode(mode: str | None) -> str | None:
    if mode not in (None, "min", "max"):
        raise ValueError(f"mode must be 'min' or 'max'; got {shown(mode)}")
    return mode


def conflicts(own_metric: str | None, own_mode: str | None, metric: str | None, mode: str | None) -> bool:
    """Whether Tuner's metric or mode differs from the scheduler's own.

    Ray refuses any metric or mode for a scheduler built with its own, even the same ones; the
    runner passes the experiment's to both the Tuner and the scheduler, so equal values agree.
    """
    return bool((own_metric and metric and metric != own_metric) or (own_mode and mode and mode != own_mode))


def store_trial_logs(trial: Trial) -> None:
    """Copies a paused trial's result.json and progress.csv to storage just before Ray restarts it.

    Ray's JSON and CSV loggers restart a trial that has a checkpoint by copying those files back
    from storage, which only holds them as of the last periodic sync (every 10 s or more); every
    epoch the trial reported since would vanish from its history.
    """
    import pyarrow.fs

    storage = trial.storage
    if storage is None or not trial.local_path:
        return
    if isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem) and (
        Path(storage.trial_fs_path).resolve() == Path(trial.local_path).resolve()
    ):
        return  # no copy in storage to go stale
    storage.storage_filesystem.create_dir(storage.trial_fs_path, recursive=True)
    for name in (RESULT_FILE, PROGRESS_FILE):
        local = Path(trial.local_path, name)
        if local.is_file():
            pyarrow.fs.copy_files(local.as_posix(), Path(storage.trial_fs_path, name).as_posix(),
                                  destination_filesystem=storage.storage_filesystem)
