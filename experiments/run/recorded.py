"""tunelab's own record is the truth on resume when Ray's saved state is missing or damaged.

A full disk can cut Ray's experiment state short (or leave none), and Ray's restore then knows no
trial: the run would start over and train every finished trial again under a new id. tunelab's
event log and per-trial history say which trials completed, and each trial folder holds its
configuration, so those trials are kept as they are and count towards the plan; the trials that
started but did not complete run again (their folders set aside), and the plan's configurations
no trial completed run as planned. That rebuild needs a plan that is a fixed sequence of
configurations (grid, random, ofat, manual) and no scheduler: a model-based searcher's state
(bayes, tpe) or a scheduler's brackets and population (sha, hyperband, asha, pbt) cannot be
rebuilt from the record, so such a partly finished run is refused, naming what is kept. A run
whose record shows every planned trial completed is complete, whatever its strategy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunelab.core.run_folder import (
    HISTORY_FILE, PARAMS_FILE, RAY_STATE_PATTERN, TRIAL_PREFIX, epochs_by_number, is_uri, newest, read_events,
    read_json, result_config,
)
from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.resume import set_aside, set_aside_damaged_states
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.strategies import Plan


@dataclass(frozen=True)
class RecordedRun:
    """What tunelab's record holds of a run whose Ray state is lost: `damage` says what is wrong with it."""

    damage: str
    completed: dict[str, dict]     # trial folder -> configuration, of the trials the record shows completed
    unfinished: tuple[str, ...]    # folders of trials that started and did not complete: they run again
    planned: int

    @property
    def complete(self) -> bool:
        return len(self.completed) >= self.planned

    def note(self) -> str:
        kept = f"{_counted(len(self.completed), 'completed trial')} kept from tunelab's record"
        if self.complete:
            return f"Ray's experiment state is damaged ({self.damage}): {kept}; nothing left to run"
        again = f"; {_counted(len(self.unfinished), 'unfinished trial', 'restart')}" if self.unfinished else ""
        left = _counted(self.planned - len(self.completed), "planned trial", "run")
        return f"Ray's experiment state is damaged ({self.damage}): {kept}{again}; {left}"


def _counted(count: int, noun: str, verb: str = "") -> str:
    """'1 planned trial runs', '2 planned trials run'."""
    words = f"{count} {noun}{'' if count == 1 else 's'}"
    return f"{words} {verb}{'s' if count == 1 else ''}" if verb else words


def ray_state_damage(run_folder: Path) -> str | None:
    """What keeps Ray from restoring the run: its newest experiment state is cut short, or there is none."""
    state = newest(run_folder, RAY_STATE_PATTERN)
    if state is None:
        return f"no {RAY_STATE_PATTERN} file"
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):
        return f"{state.name} is cut short or unreadable"
    return None if isinstance(data, dict) and isinstance(data.get("trial_data"), list) else f"{state.name} is damaged"


def recorded_run(run_path: str, plan: Plan, epochs_per_trial: int) -> RecordedRun | None:
    """The run as tunelab recorded it, where Ray's state is lost and the record shows a completed trial;
    None where Ray's own resume applies. SpecError (before Ray starts) where the plan cannot be rebuilt.

    A trial completed if the event log says so, or if its history holds every epoch of a trial: the disk
    that cut Ray's state short can also have kept the driver from logging the completion."""
    if is_uri(run_path):
        return None
    folder = Path(run_path)
    damage = ray_state_damage(folder)
    if damage is None:
        return None
    completed_ids = read_events(folder, "completed")
    completed, unfinished = {}, []
    for trial in sorted(folder.glob(f"{TRIAL_PREFIX}*")):
        trial_id = trial.name.removeprefix(TRIAL_PREFIX)
        history = epochs_by_number(trial / HISTORY_FILE)
        config = trial_config(trial)
        trained = bool(history) and (trial_id in completed_ids or 0 < epochs_per_trial <= history[-1]["epoch"])
        if trained and config:
            completed[trial.name] = config
        else:
            unfinished.append(trial.name)
    if not completed:
        return None
    record = RecordedRun(damage, completed, tuple(unfinished), plan.num_samples)
    if not record.complete and not (isinstance(plan.searcher, ConfigSequenceSearcher) and plan.scheduler is None):
        raise SpecError(
            f"--resume: {record.note().split(';')[0]}; this strategy's searcher or scheduler state cannot be "
            f"rebuilt from it, so the {plan.num_samples - len(completed)} trials left cannot "
            f"run as planned. The completed trials stay readable (tunelab analyze summary {run_path}); "
            "start a new run (--name) for the rest")
    return record


def trial_config(trial_folder: Path) -> dict:
    """A trial's configuration: its params.json, else the config Ray logged with each result."""
    return read_json(trial_folder / PARAMS_FILE) or result_config(trial_folder)


def continue_from_record(run_path: str, record: RecordedRun, searcher: Any) -> None:
    """Readies the folder for a fresh Ray run that continues the record: Ray's damaged snapshot and the
    unfinished trials' folders are set aside, and `searcher` (the plan's sequence) skips the completed
    trials' configurations."""
    folder = Path(run_path)
    set_aside_damaged_states(run_path)
    set_aside(folder, [folder / name for name in record.unfinished], "unfinished")
    searcher.skip(list(record.completed.values()))
