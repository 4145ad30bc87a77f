"""ASHA (Li et al. 2020) on `epoch`: Ray's AsyncHyperBandScheduler, with every early stop recorded.

ASHA never pauses, so it needs no checkpoints; with brackets > 1 Ray assigns a trial's bracket
at random (numpy's global generator). What is read of Ray's scheduler goes through
`ray_internals.AshaInternals`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ray.tune.experiment import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

from tunelab.experiments.run.ray_internals import AshaInternals
from tunelab.experiments.schedulers.common import TIME_ATTR, check_mode, conflicts
from tunelab.experiments.schedulers.replay import reported_by_epoch, restored
from tunelab.experiments.schedulers.rungs import check_int
from tunelab.experiments.trial_events import TrialEventLog

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController


class RecordingASHAScheduler(AsyncHyperBandScheduler):
    """Ray's ASHA on `epoch`, recording every early stop with its rung and the cutoff that missed.

    After a driver crash Ray re-adds every trial; finished ones stay finished, but the rungs come
    back empty, so cutoffs would be too lenient and a continuing trial would be recorded at the
    rungs it had passed with its current, later value. `on_trial_add` puts back what each
    restored trial had recorded. With brackets > 1 it may land in another bracket than before.
    """

    def __init__(
        self,
        *,
        max_t: int,
        metric: str | None = None,
        mode: str | None = None,
        grace_period: int = 1,
        reduction_factor: int = 3,
        brackets: int = 1,
        events: TrialEventLog | None = None,
    ) -> None:
        for name, value, low in (("max_t", max_t, 1), ("grace_period", grace_period, 1),
                                 ("reduction_factor", reduction_factor, 2), ("brackets", brackets, 1)):
            check_int(name, value, low)
        if grace_period > max_t:
            raise ValueError(f"grace_period must be <= max_t; got {grace_period} > {max_t}")
        super().__init__(time_attr=TIME_ATTR, metric=metric, mode=check_mode(mode), max_t=max_t,
                         grace_period=grace_period, reduction_factor=reduction_factor, brackets=brackets)
        self._events = events if events is not None else TrialEventLog()
        self._ray = AshaInternals(self)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: object) -> bool:
        own_metric, own_mode = self._ray.metric, self._ray.mode
        return not conflicts(own_metric, own_mode, metric, mode) and super().set_search_properties(
            None if metric == own_metric else metric, None if mode == own_mode else mode)

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        is_restored = not self._ray.knows(trial.trial_id) and restored(trial)  # not a retry
        super().on_trial_add(tune_controller, trial)
        if is_restored:  # ASHA records a trial's value at each milestone as it passes it
            by_epoch = reported_by_epoch(trial)
            for milestone, recorded in self._ray.rungs(trial.trial_id):
                value = by_epoch.get(milestone, {}).get(self._ray.metric)
                if value is not None and trial.trial_id not in recorded:
                    recorded[trial.trial_id] = self._ray.sign * value

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        recorded_before = {milestone: set(recorded) for milestone, recorded in self._ray.rungs(trial.trial_id)}
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.STOP or result.get(TIME_ATTR, 0) >= self._ray.max_t:
            return action
        for milestone, recorded in self._ray.rungs(trial.trial_id):
            if trial.trial_id in recorded and trial.trial_id not in recorded_before.get(milestone, set()):
                # The cutoff this result fell below: the rung's quantile before the trial joined it.
                others = {tid: value for tid, value in recorded.items() if tid != trial.trial_id}
                self._events.record(trial.trial_id, "stopped", epoch=result[TIME_ATTR], rung=milestone,
                                    cutoff=self._ray.cutoff(trial.trial_id, others),
                                    value=result[self._ray.metric])
                break
        return action
