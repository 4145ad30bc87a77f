"""Hyperband (Li et al. 2018) as brackets of synchronous successive halving.

Each bracket is a `SuccessiveHalvingScheduler` with its own first rung: the most aggressive
starts many configurations at few epochs, the most patient trains a few to max_t without
halving. Trials fill the brackets in the paper's order, most aggressive first, band after band
when there are more trials than one band holds. The bracket of a trial follows from its place in
the searcher's creation order alone, so a resumed run puts every trial back where it was.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tunelab.experiments.schedulers.common import check_mode, conflicts
from tunelab.experiments.schedulers.replay import creation_order, restored
from tunelab.experiments.schedulers.rungs import hyperband_brackets, hyperband_place, successive_halving_rungs
from tunelab.experiments.schedulers.sha import SuccessiveHalvingScheduler
from tunelab.experiments.trial_events import TrialEventLog

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController


class HyperbandScheduler(TrialScheduler):
    """Hyperband on `epoch`: brackets from `rungs.hyperband_brackets`, each halved synchronously.

    Within a bracket of n trials the best ceil(n / eta) go on at each rung, as in the paper.
    After a driver crash every trial goes back to its bracket by creation order and each
    bracket replays its halvings (`SuccessiveHalvingScheduler.rebuild`).
    """

    _supports_buffered_results = False  # a buffered result could carry a trial past its rung

    def __init__(
        self,
        *,
        max_t: int,
        metric: str | None = None,
        mode: str | None = None,
        reduction_factor: int = 3,
        events: TrialEventLog | None = None,
    ) -> None:
        super().__init__()
        self.brackets = hyperband_brackets(max_t, reduction_factor)  # (configurations, first rung)
        self._max_t, self._eta = max_t, reduction_factor
        self._events = events if events is not None else TrialEventLog()
        self._metric: str | None = None
        self._mode: str | None = None
        self.set_search_properties(metric, check_mode(mode))
        self._bands: list[list[SuccessiveHalvingScheduler]] = []
        self._bracket_of: dict[Trial, SuccessiveHalvingScheduler] = {}
        self._restored = False  # trials came back from a crashed run: place them all before running any

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if conflicts(self._metric, self._mode, metric, mode):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    # -- Ray's hooks

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        if not self._metric or self._mode not in ("min", "max"):
            raise ValueError(f"{type(self).__name__} needs a metric and a mode (min or max)")
        if trial in self._bracket_of:  # Ray retries a failed trial by adding it again
            self._bracket_of[trial].on_trial_add(tune_controller, trial)
        elif self._restored or restored(trial):
            self._restored = True  # placed by _rebuild, with every other trial, before any runs
        else:
            self._place(tune_controller, trial, len(self._bracket_of), record=True, add=True)

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        return self._bracket_of[trial].on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: TuneController, trial: Trial, result: dict) -> None:
        if trial in self._bracket_of:
            self._bracket_of[trial].on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        if trial in self._bracket_of:
            self._bracket_of[trial].on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller: TuneController, trial: Trial) -> None:
        if trial in self._bracket_of:
            self._bracket_of[trial].on_trial_error(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._restored:  # Ray starts PENDING trials right after this call: decide before it does
            self._restored = False
            self._rebuild(tune_controller)
        brackets = [bracket for band in self._bands for bracket in band]
        for bracket in brackets:
            if bracket.rung_complete(tune_controller):  # a cohort shrank by an error or removal
                bracket.halve(tune_controller, current=None)
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PENDING:
                return trial
        for bracket in brackets:
            trial = bracket.next_to_resume()
            if trial is not None:
                return trial
        return None

    def debug_string(self) -> str:
        return f"Hyperband: {len(self.brackets)} brackets a band, {len(self._bands)} bands started"

    # -- placing trials

    def _place(self, tune_controller: TuneController, trial: Trial, position: int, *, record: bool, add: bool
               ) -> None:
        """Puts the trial at `position` of the creation order into its bracket (`record`: in the events
        file too, as Ray keeps no record of it; `add`: and tells the bracket, which a rebuild does itself)."""
        band, index = hyperband_place(position, self.brackets)  # as the plan counted them (`hyperband_fill`)
        while len(self._bands) <= band:
            self._bands.append([self._new_bracket(size, first) for size, first in self.brackets])
        bracket = self._bands[band][index]
        self._bracket_of[trial] = bracket
        if record:
            self._events.record(trial.trial_id, "bracket", band=band, bracket=index,
                                first_rung=self.brackets[index][1])
        if add:
            bracket.on_trial_add(tune_controller, trial)

    def _new_bracket(self, size: int, first_rung: int) -> SuccessiveHalvingScheduler:
        return SuccessiveHalvingScheduler(
            num_trials=size, rungs=successive_halving_rungs(self._max_t, self._eta, first_rung), metric=self._metric,
            mode=self._mode, reduction_factor=self._eta, events=self._events,
            check_concurrency=False)  # the plan checked it against the largest bracket the trials fill

    def _rebuild(self, tune_controller: TuneController) -> None:
        """Every trial back in its bracket by creation order, then each bracket's halvings replayed.

        Trials added since the crash take the next places; those without a `bracket` event get one.
        """
        trials = sorted(tune_controller.get_trials(), key=creation_order)
        recorded = {event["trial_id"] for event in self._events.since("bracket", 0)}
        self._bands, self._bracket_of = [], {}
        for position, trial in enumerate(trials):
            self._place(tune_controller, trial, position, record=trial.trial_id not in recorded, add=False)
        for band in self._bands:
            for bracket in band:
                members = [trial for trial in trials if self._bracket_of[trial] is bracket]
                if members:
                    bracket.rebuild(tune_controller, members)
