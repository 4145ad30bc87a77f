"""Population based training (Jaderberg et al. 2017) on `epoch`: Ray's synchronous PBT, explored
within the space, every exploit recorded.

Every `perturbation_interval` epochs the whole population meets (Ray's synchronous mode: with
more trials than CPUs, trials are compared at equal epochs); each of the worst `quantile_fraction`
takes over the checkpoint of one of the best and explores its hyperparameters
(`explore.explore`). The copied trial restores the donor's model and optimizer state and
continues from the donor's epoch, which here is its own. Ray deletes a donor's older checkpoints
as it saves new ones, possibly before the copy restarts, so the copy restores from its own copy of
the donor's checkpoint (`pbt_donor-epochN-ID/` in its trial folder). Each exploit goes to the
event log: the donor, the epoch, and the perturbed hyperparameters before and after; the run's
own `population` event names the perturbed hyperparameters.
"""
from __future__ import annotations

import json
import random
import warnings
from typing import TYPE_CHECKING, Any, Iterable

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tunelab.core.run_folder import DONOR_CHECKPOINT
from tunelab.experiments.run import ray_internals
from tunelab.experiments.schedulers.common import TIME_ATTR, store_trial_logs
from tunelab.experiments.schedulers.explore import explore
from tunelab.experiments.schedulers.replay import creation_order, restored
from tunelab.experiments.schedulers.rungs import check_int
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces import Float, Space
from tunelab.trainables.checkpoints import STATE_FILE

if TYPE_CHECKING:
    from ray.tune import Checkpoint
    from ray.tune.execution.tune_controller import TuneController


class PopulationBasedScheduler(ray_internals.PopulationBasedTrainingHooks):
    """Synchronous PBT over `perturb` (float parameters of `space`), every exploit recorded.

    No exploit happens at a trial's last epoch (`max_t`): the copy would end the run as the
    donor's model under a configuration that never trained. After a driver crash the population
    is put back at the interval it was heading for (`ray_internals.pbt_rebuild`); a trial that
    fails for good leaves the population, which then meets without it.
    """

    _supports_buffered_results = False  # a buffered result could carry a trial past the interval

    def __init__(
        self,
        *,
        space: Space,
        perturb: Iterable[str],
        max_t: int,
        perturbation_interval: int,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        seed: int = 0,
        kept_at_zero: Iterable[str] = (),
        events: TrialEventLog | None = None,
    ) -> None:
        check_int("max_t", max_t, 2)
        check_int("perturbation_interval", perturbation_interval, 1)
        if perturbation_interval >= max_t:
            raise ValueError(f"perturbation_interval must be < max_t; got {perturbation_interval} >= {max_t}")
        if not 0 < quantile_fraction <= 0.5 or not 0 <= resample_probability <= 1:
            raise ValueError(f"quantile_fraction must be in (0, 0.5] and resample_probability in [0, 1]; got "
                             f"{quantile_fraction} and {resample_probability}")
        self._perturb = tuple(perturb)
        floats = [name for name in self._perturb if isinstance(space.get(name), Float)]
        if not self._perturb or floats != list(self._perturb):
            raise ValueError(f"perturb must name float parameters of the space; got {list(self._perturb)}")
        self._space, self._max_t, self._interval = space, max_t, perturbation_interval
        self._resample_chance = resample_probability
        self._seed = seed
        self._rng = random.Random(seed)  # reseeded for every exploit by `exploring`
        self._kept_at_zero = tuple(kept_at_zero)
        self._events = events if events is not None else TrialEventLog()
        self._explored: dict[str, str] = {}  # how the last explore moved each value, for its event
        self._added: set[str] = set()
        self._restored = False  # trials came back from a crashed run: rebuild before running any
        self._announced = False  # the population event, which tells analysis what PBT perturbs
        super().__init__(
            time_attr=TIME_ATTR, perturbation_interval=perturbation_interval, hyperparam_mutations={},
            quantile_fraction=quantile_fraction, resample_probability=resample_probability,
            custom_explore_fn=self._explore, log_config=True, synch=True,
        )

    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        if not self._announced:
            self._announced = True
            self._events.record("", "population", perturb=list(self._perturb), perturbation_interval=self._interval)
        if trial.trial_id not in self._added:  # not a failed trial Ray retries
            self._added.add(trial.trial_id)
            self._restored = self._restored or restored(trial)
        with warnings.catch_warnings():  # Ray warns that donors' checkpoints may be deleted: copies are kept
            warnings.filterwarnings("ignore", "Using `CheckpointConfig.num_to_keep", UserWarning)
            super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: TuneController, trial: Trial, result: dict) -> str:
        if result.get(TIME_ATTR, 0) >= self._max_t:
            return TrialScheduler.CONTINUE  # the last epoch: the trial ends as it is
        return super().on_trial_result(tune_controller, trial, result)

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._restored:  # Ray starts PENDING trials right after this call: rebuild before it does
            self._restored = False
            ray_internals.pbt_rebuild(self, tune_controller, tune_controller.get_trials(), self._interval,
                                      self._max_t)
        trial = super().choose_trial_to_run(tune_controller)
        if trial is None and ray_internals.pbt_meet_without_the_failed(self, tune_controller):
            trial = super().choose_trial_to_run(tune_controller)
        if trial is not None and trial.status == Trial.PAUSED:
            store_trial_logs(trial)
        return trial

    def exploring(self, trial: Trial, donor: Trial) -> None:
        """Seeds the explore step by the trial's place in the population and its epoch: the same exploit
        explores the same way in another run with the seed, and in a run resumed after a crash (Ray
        restores this scheduler as it was before any trial). Which of the best a trial copies is Ray's
        own, unseeded, choice."""
        self._rng = random.Random(f"{self._seed}:{creation_order(trial)}:{trial.last_result.get(TIME_ATTR)}")

    def _explore(self, config: dict[str, Any]) -> dict[str, Any]:
        """Ray's explore hook (`custom_explore_fn`): the donor's config, explored within the space."""
        new, self._explored = explore(config, self._space, self._perturb, self._rng, self._resample_chance,
                                      self._kept_at_zero)
        return new

    def exploited(self, trial: Trial, donor: Trial, old_config: dict, checkpoint: Checkpoint) -> Checkpoint:
        copy, epoch = _keep_copy(checkpoint, trial, donor)
        self._events.record(
            trial.trial_id, "exploited", epoch=epoch, donor=donor.trial_id,
            old=self._values(old_config), donor_values=self._values(donor.config), new=self._values(trial.config),
            explore=self._explored,
        )
        return copy

    def debug_string(self) -> str:
        return f"Population based training over {', '.join(self._perturb)}, every {self._interval} epochs"

    def _values(self, config: dict[str, Any]) -> dict[str, Any]:
        return {name: config[name] for name in self._perturb if name in config}


def _keep_copy(checkpoint: Checkpoint, trial: Trial, donor: Trial) -> tuple[Checkpoint, int]:
    """The donor's checkpoint copied into the trial's folder, and the epoch it was saved at."""
    import pyarrow.fs
    from ray.tune import Checkpoint

    with checkpoint.filesystem.open_input_stream(f"{checkpoint.path}/{STATE_FILE}") as stream:
        epoch = int(json.loads(stream.readall())["epoch"])
    storage = trial.storage
    target = f"{storage.trial_fs_path}/{DONOR_CHECKPOINT}-epoch{epoch}-{donor.trial_id}"
    storage.storage_filesystem.create_dir(target, recursive=True)
    pyarrow.fs.copy_files(checkpoint.path, target, source_filesystem=checkpoint.filesystem,
                          destination_filesystem=storage.storage_filesystem)
    return Checkpoint(target, filesystem=storage.storage_filesystem), epoch
