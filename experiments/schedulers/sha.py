"""Synchronous successive halving: one cohort compared at every rung, a 1/eta of it going on.

Ray pauses a trial by saving its last reported checkpoint and stopping its actor, so a paused
trial holds no CPU; resuming restores that checkpoint. A pausing scheduler therefore needs a
checkpoint at every rung (`rungs.refuse_without_checkpoints`), or a resumed trial retrains epochs.
Every decision (paused, resumed, stopped, with the rung and the value that decided it) goes to
the experiment's `TrialEventLog`, because Ray keeps no record of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.result import DEFAULT_METRIC
from ray.tune.schedulers import TrialScheduler

from tunelab.core.objective import Objective
from tunelab.experiments.run import ray_internals
from tunelab.experiments.schedulers.common import TIME_ATTR, check_mode, conflicts, store_trial_logs
from tunelab.experiments.schedulers.replay import creation_order, ended, epoch_of, replay_halvings, reported, restored
from tunelab.experiments.schedulers.rungs import check_int, kept
from tunelab.experiments.trial_events import TrialEventLog

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController


def refuse_concurrency_limit(search_alg: Any, num_trials: int) -> None:
    """ValueError if Ray's concurrency limit would keep synchronous successive halving waiting forever.

    `max_concurrent_trials` (ConcurrencyLimiter, BasicVariantGenerator(max_concurrent)) counts
    paused trials as live, so with a limit below num_trials no trial after the limit starts while
    the first ones wait, paused, for it at the first rung. Limit concurrency with resources instead.
    """
    searcher = search_alg
    while searcher is not None:
        limit = getattr(searcher, "max_concurrent", 0)
        if isinstance(limit, int) and 0 < limit < num_trials:
            raise ValueError(
                f"max_concurrent_trials: {limit} is below the {num_trials} trials that successive halving "
                f"pauses at its first rung, and Ray counts paused trials as running, so the rest would "
                f"never start; leave it unset and limit concurrency with per-trial resources"
            )
        searcher = getattr(searcher, "searcher", None)


class SuccessiveHalvingScheduler(TrialScheduler):
    """Synchronous successive halving: one cohort of `num_trials`, compared at every rung.

    Every trial trains to the first rung and pauses. When the whole cohort has reported there
    (trials that errored or ended early drop out of it), the best ceil(n / eta) resume from
    their checkpoints and the others stop; at the last rung the survivors finish. With the rungs
    of `rungs.halving_to_one_rungs` one configuration is left for the last rung.
    `num_trials` tells when the cohort is complete, since a searcher hands out trials one by one.

    After a driver crash the halvings already made are replayed from each trial's last result
    (`rebuild`), so the resumed run keeps the same survivors and trains no epoch twice.
    """

    _supports_buffered_results = False  # a buffered result could carry a trial past its rung

    def __init__(
        self,
        *,
        num_trials: int,
        rungs: list[int],
        metric: str | None = None,
        mode: str | None = None,
        reduction_factor: int = 3,
        events: TrialEventLog | None = None,
        check_concurrency: bool = True,
    ) -> None:
        """`check_concurrency` False: the caller checked the concurrency limit against what this cohort
        will really get (a Hyperband bracket may get fewer trials than its size)."""
        super().__init__()
        check_int("num_trials", num_trials, 1)
        check_int("reduction_factor", reduction_factor, 2)
        if not rungs or any(later <= earlier for earlier, later in zip(rungs, rungs[1:])):
            raise ValueError(f"rungs must be ascending epochs; got {rungs}")
        self.rungs = list(rungs)
        self._num_trials = num_trials
        self._check_concurrency = check_concurrency
        self._eta = reduction_factor
        self._events = events if events is not None else TrialEventLog()
        self._metric: str | None = None
        self._mode: str | None = None
        self.set_search_properties(metric, check_mode(mode))
        self._rung = 0  # index into self.rungs of the rung the cohort trains towards
        self._cohort: dict[Trial, dict | None] = {}  # trial -> its result at the rung, None until there
        self._arrival: dict[Trial, int] = {}  # every trial ever added; the order breaks metric ties
        self._errored: set[Trial] = set()  # out of the cohort unless Ray retries them (on_trial_add)
        self._to_resume: list[Trial] = []  # promoted trials that are still paused
        # After a crash whose snapshot lacked trials, the current rung is decided again without undoing
        # what it had decided: the live trials promoted past it (their result at the next rung once
        # there), and how many it had promoted and stopped, who count in the comparison.
        self._ahead: dict[Trial, dict | None] = {}
        self._kept_there = self._lost_there = 0
        self._restored = False  # trials came back from a crashed run: rebuild before running any

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if conflicts(self._metric, self._mode, metric, mode):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        return True

    # -- Ray's hooks

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        if not self._metric or self._mode not in ("min", "max"):
            raise ValueError(f"{type(self).__name__} needs a metric and a mode (min or max)")
        if not self._arrival and self._check_concurrency:
            refuse_concurrency_limit(tune_controller.search_alg, self._num_trials)
        if trial in self._errored:  # Ray retries a failed trial by adding it again
            self._errored.discard(trial)
            self._cohort[trial] = None
        elif trial not in self._arrival:
            self._restored = self._restored or restored(trial)
            self._arrival[trial] = len(self._arrival)
            # Trials beyond num_trials missed the first comparison. (Within it, after the first rung, only
            # a configuration a resume suggests again arrives: it trains to the rung the cohort is at.)
            if self._rung == 0 or self._arrival[trial] < self._num_trials:
                self._cohort[trial] = None

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        epoch = result[TIME_ATTR]
        if trial in self._ahead:
            return self._ahead_result(trial, result)
        if trial not in self._cohort:
            # Only a trial beyond num_trials gets here: the first rung was decided without it.
            self._events.record(trial.trial_id, "stopped", epoch=epoch, rung=None, reason="after the first rung")
            return TrialScheduler.STOP
        if trial in self._to_resume:
            self._to_resume.remove(trial)
        rung = self.rungs[self._rung]
        if epoch < rung:
            return TrialScheduler.CONTINUE
        if self._rung == len(self.rungs) - 1:
            del self._cohort[trial]
            return TrialScheduler.STOP  # the last rung reached: the trial is complete
        self._cohort[trial] = result
        if self.rung_complete(tune_controller):
            return self.halve(tune_controller, current=trial)
        self._events.record(trial.trial_id, "paused", epoch=epoch, rung=rung)
        return TrialScheduler.PAUSE

    def on_trial_complete(self, tune_controller: TuneController, trial: Trial, result: dict) -> None:
        self._leave(trial)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        self._leave(trial)

    def on_trial_error(self, tune_controller: TuneController, trial: Trial) -> None:
        # Ray calls on_trial_add right after this when it retries the trial, so the rung is
        # decided later, in choose_trial_to_run, once a retry could have re-admitted it.
        if self._leave(trial):
            self._errored.add(trial)

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._restored:  # Ray starts PENDING trials right after this call: decide before it does
            self._restored = False
            self.rebuild(tune_controller, tune_controller.get_trials())
        if self.rung_complete(tune_controller):  # the cohort shrank by an error or removal
            self.halve(tune_controller, current=None)
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PENDING:
                return trial
        return self.next_to_resume()

    def _ahead_result(self, trial: Trial, result: dict) -> str:
        """A trial promoted past the current rung before a crash trains on to the next rung and waits there."""
        epoch, next_rung = result[TIME_ATTR], self._rung + 1
        if epoch < self.rungs[next_rung]:
            return TrialScheduler.CONTINUE
        if next_rung == len(self.rungs) - 1:
            del self._ahead[trial]
            return TrialScheduler.STOP  # the last rung reached: the trial is complete
        self._ahead[trial] = result
        self._events.record(trial.trial_id, "paused", epoch=epoch, rung=self.rungs[next_rung])
        return TrialScheduler.PAUSE

    def next_to_resume(self) -> Trial | None:
        """A promoted trial still paused, its result files made current first."""
        for trial in self._to_resume:
            if trial.status == Trial.PAUSED:
                store_trial_logs(trial)
                return trial
        return None

    def debug_string(self) -> str:
        return (
            f"Successive halving: rung {self._rung + 1} of {len(self.rungs)} (epoch "
            f"{self.rungs[self._rung]}), {len(self._cohort)} trials in the cohort"
        )

    # -- resuming after a driver crash

    def rebuild(self, tune_controller: TuneController, trials: list[Trial]) -> None:
        """Replays the halvings a crashed run had made over `trials`, from their statuses and last results.

        Survivors that were waiting at the current rung are paused again (Ray restores them as
        PENDING and would train them past it); trials that lost a halving, or reached the last
        rung, are stopped (Ray may restore them as PAUSED, hence PENDING: see `replay_halvings`).
        Their decisions are already in the events file, so none is recorded twice. Arrival order,
        which breaks ties, is the searcher's creation order, not the order Ray re-adds trials in.
        Where Ray's snapshot lacked trials, the rung they were compared at is decided again once
        their configurations, suggested again, have trained to it (`Replayed`).
        """
        trials = sorted(trials, key=creation_order)
        self._arrival = {trial: index for index, trial in enumerate(trials)}
        objective = Objective(self._metric, self._mode)
        searcher_done = tune_controller.search_alg.is_finished()
        decisions = self._recorded_decisions()
        replayed = replay_halvings(
            trials, self.rungs, keep=lambda _, reached: kept(reached, self._eta),
            rank=lambda trial: (objective.sort_key(reported(trial).get(self._metric)), self._arrival[trial]),
            first_rung_complete=len(trials) >= self._num_trials or searcher_done,
            unsuggested=0 if searcher_done else max(0, self._num_trials - len(trials)),
            recorded_decision=lambda trial, rung: decisions.get((trial, rung)),
        )
        self._rung, self._cohort, self._to_resume, self._errored = replayed.halvings, {}, [], set()
        self._ahead = {trial: None for trial in replayed.ahead if not ended(trial)}
        self._kept_there, self._lost_there = len(replayed.ahead), replayed.lost_there
        rung, losers = self.rungs[replayed.halvings], replayed.losers
        for trial in list(self._ahead):
            if epoch_of(trial) >= self.rungs[-1]:
                del self._ahead[trial]
                losers.append(trial)  # complete; only its stop was lost
            elif epoch_of(trial) >= self.rungs[replayed.halvings + 1]:
                self._ahead[trial] = reported(trial)  # waiting at the next rung already
                ray_internals.mark_paused(tune_controller, trial)
        for trial in replayed.survivors:
            if ended(trial):
                continue
            if epoch_of(trial) >= self.rungs[-1]:
                losers.append(trial)  # complete; only its stop was lost
            elif epoch_of(trial) >= rung:
                self._cohort[trial] = reported(trial)  # waiting at the rung
                ray_internals.mark_paused(tune_controller, trial)
            else:
                self._cohort[trial] = None  # Ray restarts it from its checkpoint
        for trial in losers:
            if not ended(trial):
                tune_controller.stop_trial(trial)

    def _recorded_decisions(self) -> dict[tuple[Trial, int], str]:
        """(trial, rung) -> "stopped" or "resumed", as this run's events file recorded its halvings."""
        by_id = {trial.trial_id: trial for trial in self._arrival}
        return {(by_id[event["trial_id"]], event["rung"]): event["event"]
                for event in self._events.since("stopped", 0) + self._events.since("resumed", 0)
                if event["trial_id"] in by_id and event.get("rung") is not None}

    # -- the halving itself

    def _leave(self, trial: Trial) -> bool:
        """Drops a trial that ended outside the scheduler's decisions; True if it was in the cohort."""
        if trial in self._to_resume:
            self._to_resume.remove(trial)
        self._ahead.pop(trial, None)
        if trial not in self._cohort:
            return False
        del self._cohort[trial]
        return True

    def rung_complete(self, tune_controller: TuneController) -> bool:
        """Whether every trial of the cohort has reported at the rung (the first also waits for arrivals)."""
        if self._rung == len(self.rungs) - 1:
            return False
        # The first rung also waits for trials the searcher has not handed out yet.
        if self._rung == 0 and len(self._arrival) < self._num_trials and not tune_controller.search_alg.is_finished():
            return False
        if not self._cohort:
            return bool(self._kept_there)  # every trial still competing there left: the ones ahead go on
        return all(result is not None for result in self._cohort.values())

    def halve(self, tune_controller: TuneController, current: Trial | None) -> str:
        """Resumes the best ceil(n / eta) of the cohort and stops the rest; the answer for `current`.

        (n and the places count the trials a crash left ahead or stopped at this rung: see `rebuild`.)"""
        rung, results = self.rungs[self._rung], dict(self._cohort)
        objective = Objective(self._metric, self._mode)
        ranked = sorted(results, key=lambda trial: (objective.sort_key(results[trial][self._metric]),
                                                    self._arrival[trial]))
        ahead, compared = self._kept_there, len(ranked) + self._kept_there + self._lost_there
        keep = max(0, kept(compared, self._eta) - ahead)
        winners, losers = ranked[:keep], ranked[keep:]
        cutoff = results[winners[-1]][self._metric] if winners else None
        # Update the state before stopping anyone: stop_trial calls back into on_trial_remove.
        self._rung += 1
        self._cohort = {trial: None for trial in winners} | self._ahead
        self._ahead, self._kept_there, self._lost_there = {}, 0, 0
        action = TrialScheduler.CONTINUE
        for rank, trial in enumerate(ranked, start=1 + ahead):
            details = {"epoch": results[trial][TIME_ATTR], "rung": rung, "rank": rank, "of": compared}
            if trial in losers:
                self._events.record(trial.trial_id, "stopped", cutoff=cutoff, **details)
                if trial is current:
                    action = TrialScheduler.STOP
                else:
                    tune_controller.stop_trial(trial)
            elif trial is not current:
                self._events.record(trial.trial_id, "resumed", next_rung=self.rungs[self._rung], **details)
                self._to_resume.append(trial)
        return action
