"""Tree-structured Parzen Estimator search: Optuna's TPESampler asked through tunelab's own Space.

Ray's OptunaSearch converts a Tune param_space, which cannot leave an inactive parameter out, and
tells Optuna a trial stopped at a rung as completed; here an Optuna trial is asked define-by-run
(`optuna_space.suggest_config`), so conditions, inclusive ints, steps, log scales and choices stay
native. Under a scheduler every result is reported to
the trial as an intermediate value, and a trial stopped at a rung is told to Optuna as pruned
there: TPE ranks it below every trial that completed, by the rung it reached, then by its value
at that rung, so the model learns from the stopped trials' epochs too (BOHB's idea).

Reproducibility: the sampler is seeded; with max_concurrent_trials 1 the configurations are the
same sequence for the same seed (given the same results), and the first `random_steps` are the
same at any concurrency. Beyond those, with several trials at once, which results the model has
when it suggests depends on timing; running trials count among the bad ones until they end
(`constant_liar`), so concurrent suggestions spread out instead of piling on one point.

Several objectives (`metric: [val_accuracy, params]`): the study has one direction each (Optuna's
multi-objective TPE) and is told each trial's values at its point, the epoch it scored best on the first
metric, as the run's Pareto front and best trial take it (core.pareto.trial_point). Optuna keeps no
intermediate values there, so nothing is pruned: a trial is complete at its point (a scheduler is refused
in strategies). Constraints, with one objective or several: each trial's violations at its point
(core.pareto.violations) are stored on it before it is told, and the sampler's `constraints_func` reads
them back, so it ranks infeasible trials below feasible ones. (`constraints_func` is deprecated in
Optuna 5 for `Trial.set_constraint`, but works across the declared range, Optuna 4 and 5.)
"""
from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState
from ray.tune.search import UNDEFINED_METRIC_MODE, Searcher

from tunelab.core.objective import Objective
from tunelab.core.pareto import Constraint, Point, trial_point, violations
from tunelab.experiments.searchers.optuna_space import check_representable, searched_part, suggest_config
from tunelab.experiments.searchers.sequence import StateSearcher
from tunelab.experiments.trial_events import TrialEventLog
from tunelab.searchspaces.space import Config, Space, config_key

_ASKS = 5                   # TPE suggestions per trial before falling back to a random untried config
_RANDOM_DRAWS = 1000        # random draws for an untried config of a space too large to enumerate
_ENUMERATE_LIMIT = 100_000  # larger finite spaces are treated as unbounded

ConfigKey = tuple


@dataclass(frozen=True)
class Outcome:
    """What the model was told of a configuration: COMPLETE, PRUNED (stopped at `epoch`) or FAIL; the value is
    a tuple with several objectives, and `violations` the constraints' (<= 0: kept), in their order."""

    state: TrialState
    value: float | tuple[float, ...] | None
    epoch: int | None
    violations: tuple[float, ...] = ()


class TPESearch(StateSearcher):
    """TPE over a Space; each configuration is tried at most once.

    A suggestion that repeats a finished configuration is told that configuration's outcome (the
    model learns it) and TPE is asked again; one that repeats a running configuration waits for
    its result. After `_ASKS` repeats the trial gets a seeded random configuration not yet tried;
    once every configuration of a finite space is tried the search is FINISHED.
    """

    def __init__(
        self,
        space: Space,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        *,
        seed: int = 0,
        random_steps: int = 5,
        epochs: int | None = None,
        events: TrialEventLog | None = None,
        objectives: Sequence[Objective] = (),
        constraints: Sequence[Constraint] = (),
    ) -> None:
        check_representable(space)
        if random_steps < 1:
            raise ValueError(f"random_steps: must be >= 1, got {random_steps}")
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._seed = seed
        self._random_steps = random_steps
        self._epochs = epochs  # a trial that ends before this epoch was stopped at a rung
        self._events = events or TrialEventLog()
        self._objectives = tuple(objectives) if len(objectives) > 1 else ()  # several: the study's, first = metric
        self._constraints = tuple(constraints)
        self._rng = random.Random(seed)  # the fallback's own generator, apart from the sampler's
        self._study: optuna.Study | None = None
        self._live: dict[str, tuple[ConfigKey, optuna.Trial]] = {}  # Ray trial id -> its config and Optuna trial
        self._progress: dict[str, tuple[int, float]] = {}           # Ray trial id -> last (epoch, value) reported
        self._points: dict[str, Point] = {}                         # Ray trial id -> its point so far
        self._results: dict[ConfigKey, Outcome] = {}                # finished configs
        self._waiting: dict[ConfigKey, list[optuna.Trial]] = {}     # repeats of a running config
        self._retry: list[Config] = []                              # taken back on resume: suggested first
        self._finite: list[Config] | None = None                    # every config of a finite space, when needed
        if metric and mode:
            self._build_study()

    def _build_study(self) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # Optuna logs every tell; the run has its own record
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate, group
            warnings.simplefilter("ignore", FutureWarning)  # constraints_func, removed in Optuna 7
            sampler = optuna.samplers.TPESampler(seed=self._seed, n_startup_trials=self._random_steps,
                                                 multivariate=True, group=True, constant_liar=True,
                                                 constraints_func=_violations if self._constraints else None)
        directions = [_direction(objective.mode) for objective in self._objectives] or [_direction(self._mode)]
        self._study = optuna.create_study(sampler=sampler, directions=directions)

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: dict, **spec: Any) -> bool:
        """Takes Tune's metric and mode; refuses a param_space, since the Space is the search space."""
        if config or self._study is not None:
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        if not (self._metric and self._mode):
            return False
        self._build_study()
        return True

    # --- suggest -----------------------------------------------------------------------------

    def suggest(self, trial_id: str) -> Config | str | None:
        if self._study is None:
            raise RuntimeError(
                UNDEFINED_METRIC_MODE.format(cls=type(self).__name__, metric=self._metric, mode=self._mode))
        if self._retry:
            return self._start(trial_id, self._ask_for(self._retry.pop(0)))
        if self._exhausted():
            return Searcher.FINISHED
        for _ in range(_ASKS):
            trial = self._study.ask()
            key = config_key(suggest_config(trial, self._space))
            if key in self._results:
                # The model learns the repeat, so its next suggestion differs.
                self._tell(trial, self._results[key], repeat=True)
            elif key in self._waiting:
                self._waiting[key].append(trial)  # running: told when that trial ends
            else:
                return self._start(trial_id, trial)
        config = self._random_untried()
        if config is None:
            return Searcher.FINISHED
        return self._start(trial_id, self._ask_for(config))

    def _start(self, trial_id: str, trial: optuna.Trial) -> Config:
        config = suggest_config(trial, self._space)  # asked again: Optuna answers with the values it gave
        key = config_key(config)
        self._live[trial_id] = (key, trial)
        self._waiting[key] = []
        return config

    def _ask_for(self, config: Config) -> optuna.Trial:
        """An Optuna trial holding `config` (not chosen by the sampler), booked like the sampler's own."""
        params, _ = searched_part(self._space, config)
        self._study.enqueue_trial(params, skip_if_exists=False)
        return self._study.ask()

    def _tried(self, key: ConfigKey) -> bool:
        return key in self._results or key in self._waiting

    def _exhausted(self) -> bool:
        if self._finite is None:
            self._finite = self._space.all_configs(limit=_ENUMERATE_LIMIT) or []
        return bool(self._finite) and len(self._results) + len(self._waiting) >= len(self._finite)

    def _random_untried(self) -> Config | None:
        """A seeded random configuration never tried; None once the space is used up."""
        if self._finite:
            untried = [config for config in self._finite if not self._tried(config_key(config))]
            return untried[self._rng.randrange(len(untried))] if untried else None
        for _ in range(_RANDOM_DRAWS):
            config = self._space.sample(self._rng)
            if not self._tried(config_key(config)):
                return config
        return None

    # --- results -----------------------------------------------------------------------------

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Each epoch's value becomes an intermediate value of the trial (its rung's, once stopped there), with
        one objective; each epoch may become the trial's point."""
        if trial_id not in self._live:
            return
        value, epoch = self._value(result), _epoch(result)
        last = self._progress.get(trial_id)
        if value is None or epoch is None or (last is not None and epoch <= last[0]):
            return  # no metric, or an epoch a resumed trial reports again
        if not self._objectives:  # Optuna keeps intermediate values for one objective only
            self._live[trial_id][1].report(value, epoch)
        self._progress[trial_id] = (epoch, value)
        self._keep_point(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        """Tells the model the outcome: completed, stopped at its rung (pruned there) or failed."""
        if trial_id not in self._live:
            return
        if result and not error:
            self.on_trial_result(trial_id, result)
        key, trial = self._live.pop(trial_id)
        epoch, value = self._progress.pop(trial_id, (None, None))
        final = None if error or not result else self._value(result)
        if final is not None:  # a result without an epoch (a trainable of its own) still counts
            epoch, value = _epoch(result) or epoch, final
            self._keep_point(trial_id, result)
        point = self._points.pop(trial_id, {})
        if self._objectives:  # several: the values at the trial's point, where the run's front takes them
            value, epoch = _values(point, self._objectives), point.get("epoch") or epoch
        kept = tuple(violations(point, self._constraints))
        if error or value is None:
            outcome = Outcome(TrialState.FAIL, None, epoch)
        elif not self._objectives and self._epochs is not None and epoch is not None and epoch < self._epochs:
            outcome = Outcome(TrialState.PRUNED, value, epoch, kept)
        else:
            outcome = Outcome(TrialState.COMPLETE, value, epoch, kept)
        self._tell(trial, outcome)
        self._results[key] = outcome
        for repeat in self._waiting.pop(key, []):
            self._tell(repeat, outcome, repeat=True)
        feasible = {"feasible": max(kept) <= 0} if kept and outcome.state != TrialState.FAIL else {}
        self._events.record(trial_id, "learned", outcome=_OUTCOMES[outcome.state], epoch=epoch,
                            value=list(value) if isinstance(value, tuple) else value, **feasible)

    def _keep_point(self, trial_id: str, result: Mapping[str, Any]) -> None:
        """The trial's point so far (core.pareto's rule): this epoch's metrics if it beats the kept one on the
        first metric; only what the model is told is kept."""
        names = {self._metric, *(o.metric for o in self._objectives), *(c.metric for c in self._constraints)}
        point = {name: _finite(result.get(name)) for name in names} | {"epoch": _epoch(result)}
        kept = [known for known in (self._points.get(trial_id), point) if known is not None]
        self._points[trial_id] = trial_point(kept, Objective(self._metric, self._mode)) or point

    def add_evaluated_point(self, parameters: dict, value: float, error: bool = False, pruned: bool = False,
                            intermediate_values: Optional[list[float]] = None) -> None:
        """A configuration evaluated elsewhere (a published one the manual strategy ran) warms the model up; with
        several objectives one value is not a point, so the model starts without it."""
        if self._objectives:
            raise NotImplementedError("a multi-objective model needs every objective's value")
        key = config_key(parameters)
        if key in self._results:
            return
        params, distributions = searched_part(self._space, parameters)
        finite = not error and value is not None and math.isfinite(value)
        outcome = Outcome(TrialState.COMPLETE if finite else TrialState.FAIL, value if finite else None, None)
        self._study.add_trial(optuna.trial.create_trial(
            params=params, distributions=distributions, value=outcome.value, state=outcome.state))
        self._results[key] = outcome

    def take_back(self, configs: list[Config]) -> int:
        """Forgets running trials a resume set aside (they never ran) and suggests their configs again first."""
        keys = {config_key(config) for config in configs}
        taken = [trial_id for trial_id, (key, _) in self._live.items() if key in keys]
        for trial_id in taken:
            key, trial = self._live.pop(trial_id)
            self._progress.pop(trial_id, None)
            for asked in (trial, *self._waiting.pop(key, [])):
                self._tell(asked, Outcome(TrialState.FAIL, None, None))
            self._retry.append(dict(key))
        return len(taken)

    def _tell(self, trial: optuna.Trial, outcome: Outcome, repeat: bool = False) -> None:
        if repeat and outcome.state == TrialState.PRUNED:
            trial.report(outcome.value, outcome.epoch)  # a repeat of a stopped trial stops at the same rung
        if outcome.violations:
            trial.set_user_attr(_VIOLATIONS, list(outcome.violations))  # read back by `_violations`
        values = outcome.value if outcome.state == TrialState.COMPLETE else None
        self._study.tell(trial, values, state=outcome.state)

    # --- the objective: the first metric's value; with several, each at the trial's point ----

    def _value(self, result: Optional[Mapping[str, Any]]) -> float | None:
        """The (first) objective's value in a result; None when missing or not finite."""
        return _finite((result or {}).get(self._metric))

    # --- state -------------------------------------------------------------------------------

    def get_state(self) -> dict:
        """Everything but the event log (the run attaches its own) and the enumerated space (rebuilt)."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("_events", "_finite", "_rng")}
        state["_rng"] = self._rng.getstate()
        return state

    def set_state(self, state: dict) -> None:
        state = dict(state)
        rng = state.pop("_rng")
        self.__dict__.update(state)
        self._rng = random.Random()
        self._rng.setstate(rng)
        self._finite = None


_VIOLATIONS = "constraint_violations"  # a trial's user attr: each constraint's violation, <= 0 kept
_OUTCOMES = {TrialState.COMPLETE: "completed", TrialState.PRUNED: "stopped at its rung", TrialState.FAIL: "failed"}


def _violations(trial: FrozenTrial) -> list[float]:
    """The sampler's constraints function (module level, so the study pickles with the searcher)."""
    return trial.user_attrs[_VIOLATIONS]


def _direction(mode: Optional[str]) -> str:
    return "minimize" if mode == "min" else "maximize"


def _finite(value: Any) -> float | None:
    """`value` as a finite float; None when missing, not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _values(point: Point, objectives: Sequence[Objective]) -> tuple[float, ...] | None:
    """Each objective's value at `point`, in order; None when one is missing (Optuna takes no gaps)."""
    values = tuple(point.get(objective.metric) for objective in objectives)
    return None if None in values else values


def _epoch(result: Mapping[str, Any]) -> int | None:
    epoch = result.get("epoch", result.get("training_iteration"))
    return epoch if isinstance(epoch, int) else None
