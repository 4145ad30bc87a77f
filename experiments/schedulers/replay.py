"""Crash replay: what a scheduler can rebuild from the trials Ray restores after a driver crash.

A resumed experiment (`Tuner.restore` after the driver died) gets its scheduler back as pickled
before the first trial, with no rungs, cohorts or brackets, and Ray re-adds every restored trial
through `on_trial_add`, paused and running ones as PENDING. Each scheduler therefore rebuilds its
state from what Ray does restore: every trial's status and last result (`replay_halvings`).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from ray.tune.experiment import Trial

from tunelab.core.run_folder import HISTORY_FILE, RESULT_FILE
from tunelab.experiments.schedulers.common import TIME_ATTR


@dataclass
class Replayed:
    """Where a crashed run's halvings stand: the rung its cohort trains towards, and who is in it."""

    halvings: int  # rungs decided: the cohort trains towards rungs[halvings]
    survivors: list[Trial]  # the cohort: still in the running at that rung
    losers: list[Trial]  # lost a decided rung (or completed): to be stopped
    ahead: list[Trial] = field(default_factory=list)  # promoted past that rung before the crash (see below)
    lost_there: int = 0  # trials that lost that rung before the crash: they count in its comparison


def replay_halvings(
    trials: list[Trial],
    rungs: list[int],
    *,
    keep: Callable[[int, int], int],
    rank: Callable[[Trial], Any],
    first_rung_complete: bool,
    unsuggested: int = 0,
    recorded_epoch: Callable[[Trial], int] | None = None,
    recorded_decision: Callable[[Trial, int], str | None] = lambda trial, rung: None,
) -> Replayed:
    """The halvings a crashed run had made over `trials` (in creation order), from their last results.

    `keep(halving, trials that reached its rung)` is how many survive it; `rank` sorts best first;
    `unsuggested`: trials of the plan the searcher has yet to hand out again.

    Ray's experiment state keeps each trial's status and last result, both as of one snapshot,
    but not the scheduler's rungs. Nor is the status of a trial stopped while paused reliable:
    Ray stops it without refreshing its snapshot entry, which keeps saying PAUSED, so losers
    come back PENDING. What can be told: a rung was decided once a trial went beyond it or ended
    there, or once every trial still in the running reached it (the last arrival decides at
    once). Trials beyond the rung survived it; the remaining places go to the best of those whose
    last result is the rung's, which is exactly how they ranked. Trials that had left the cohort
    before a rung (an error) and come back with `resume_errored` lose it, as they did.
    What cannot: which trials were added after the first rung (all count as its cohort). And a
    snapshot can hold a result one step before the checkpoint that came with it: that trial
    restarts one epoch back and reports the epoch again, which no scheduler can prevent.
    A snapshot can also lag a whole trial: one that started after it comes back PENDING with no
    result though it went on past a rung. tunelab's history in its folder (`recorded_epoch`) says
    so, and a live trial recorded beyond a rung survived it: it trains again, never counted a loser.
    It can even lack trials: the resume sets their folders aside and the searcher suggests their
    configurations again. A decided rung that had them in its comparison is decided again once they
    have trained to it: the trials beyond it or recorded promoted there (`recorded_decision`,
    "resumed") keep their places (`ahead`), those ended or recorded stopped there count (`lost_there`),
    and the trials waiting there compete with the suggested ones for the rest.
    """
    recorded_epoch = recorded_epoch or history_epoch

    def furthest(trial: Trial) -> int:
        return epoch_of(trial) if ended(trial) else max(epoch_of(trial), recorded_epoch(trial))

    survivors, losers = list(trials), []
    for halving, rung in enumerate(rungs[:-1]):
        beyond = [trial for trial in survivors if furthest(trial) > rung]
        reached = [trial for trial in survivors if epoch_of(trial) >= rung and trial not in beyond] + beyond
        decided = beyond or any(ended(trial) and epoch_of(trial) == rung for trial in reached) or (
            len(reached) == len(survivors) and (halving > 0 or first_rung_complete))
        if not decided:
            return Replayed(halving, survivors, losers)
        at_rung = [trial for trial in reached if trial not in beyond and epoch_of(trial) == rung]
        unstarted = [trial for trial in survivors if never_started(trial)]
        if unstarted or unsuggested:
            promoted = [trial for trial in at_rung if not ended(trial) and recorded_decision(trial, rung) == "resumed"]
            lost = [trial for trial in at_rung if ended(trial) or recorded_decision(trial, rung) == "stopped"]
            waiting = [trial for trial in at_rung if trial not in promoted + lost] + unstarted
            ahead = beyond + promoted
            return Replayed(halving, waiting, losers + [trial for trial in survivors if trial not in waiting + ahead],
                            ahead=ahead, lost_there=len(lost))
        at_rung.sort(key=rank)
        winners = set(beyond) | set(at_rung[:max(0, keep(halving, len(reached)) - len(beyond))])
        losers += [trial for trial in survivors if trial not in winners]
        survivors = [trial for trial in survivors if trial in winners]
    return Replayed(len(rungs) - 1, survivors, losers)


def history_epoch(trial: Trial) -> int:
    """The last epoch tunelab's history in the trial's folder records (0 where none can be read)."""
    return max(_stored_results(trial, HISTORY_FILE), default=0)


def restored(trial: Trial) -> bool:
    """Whether Ray re-adds `trial` from an earlier run's state: new trials have no result and are live."""
    return TIME_ATTR in reported(trial) or ended(trial)


def never_started(trial: Trial) -> bool:
    """Whether `trial` never ran: suggested since the restore, or pending in Ray's snapshot (no folder yet)."""
    return not trial.relative_logdir and not ended(trial)


def ended(trial: Trial) -> bool:
    return trial.status in (Trial.TERMINATED, Trial.ERROR)


def epoch_of(trial: Trial) -> int:
    return reported(trial).get(TIME_ATTR, 0)


def reported(trial: Trial) -> dict:
    """The trial's last reported result, {} if none; `Trial.last_result` would fetch default metrics."""
    return trial.run_metadata.last_result


def creation_order(trial: Trial) -> int:
    """The searcher's counter that starts Ray's experiment tag (`3_learning_rate=0.01`).

    Ray re-adds restored trials latest result first; the schedulers' tie-breaks and Hyperband's
    bracket filling need the order the searcher created them in.
    """
    number = trial.experiment_tag.split("_", 1)[0]
    return int(number) if number.isdigit() else sys.maxsize


def reported_by_epoch(trial: Trial) -> dict[int, dict]:
    """Every result a restored trial had reported, by epoch, up to its restored last result.

    Read from its result.json in storage, which Ray uploads together with the experiment state it
    restores from; a result beyond the restored one is dropped (the trial retrains that epoch), and
    without the file only the last result is known.
    """
    last = reported(trial)
    by_epoch = _stored_results(trial, RESULT_FILE)
    if TIME_ATTR in last:
        by_epoch[last[TIME_ATTR]] = last
    return {epoch: result for epoch, result in by_epoch.items() if epoch <= last.get(TIME_ATTR, 0)}


def _stored_results(trial: Trial, file_name: str) -> dict[int, dict]:
    """The results, by epoch, of a JSON-lines file in the trial's folder on storage ({} where none can be read)."""
    try:
        path = f"{trial.storage.trial_fs_path}/{file_name}"
        with trial.storage.storage_filesystem.open_input_stream(path) as stream:
            lines = stream.readall().decode().splitlines()
    except (AttributeError, OSError, RuntimeError):  # RuntimeError: a trial added since the restore has no folder yet
        return {}
    by_epoch: dict[int, dict] = {}
    for line in lines:
        try:
            result = json.loads(line)
        except ValueError:
            continue  # a line cut short by the crash
        if isinstance(result, dict) and isinstance(result.get(TIME_ATTR), int):
            by_epoch[result[TIME_ATTR]] = result
    return by_epoch
