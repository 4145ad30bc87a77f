"""Strategy registry: a name in the YAML -> the Ray search algorithm and scheduler that run it.

A strategy is one `Strategy` entry: its options (validated like the rest of the spec) and a
`plan` function that turns the space and options into Ray pieces plus the trial and epoch
counts a user can check with `--dry-run` before anything runs. What options, budgets and plans
are is in `plans`, the `scheduler:` option of the searches in `early_stopping`, and population
based training, which brings its own scheduler, in `population`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ray.tune.search import ConcurrencyLimiter

from tunelab.core.checks import SEED_LIMIT
from tunelab.experiments.early_stopping import SCHEDULERS, check_scheduler, with_scheduler
from tunelab.experiments.errors import SpecError
from tunelab.experiments.manual import one_factor_at_a_time, published_configs
from tunelab.experiments.plans import MAX_GRID, MAX_TRIALS, Budget, Option, Plan, check_declared, named_entry
from tunelab.experiments.population import PBT_OPTIONS, check_pbt_options, plan_pbt
from tunelab.experiments.searchers import (
    ACQUISITIONS, ChainedSearcher, ConfigSequenceSearcher, LabelledSequenceSearcher, TPESearch, UnitCubeBayesSearch,
)
from tunelab.searchspaces import Space

__all__ = ["MAX_GRID", "MAX_TRIALS", "SCHEDULERS", "STRATEGIES", "Budget", "Option", "Plan", "Strategy",
           "check_options", "plan_strategy"]


@dataclass(frozen=True)
class Strategy:
    """A registry entry: `when` tells users when to pick it."""

    name: str
    when: str
    options: tuple[Option, ...]
    plan: Callable[[Space, Mapping[str, Any], Budget], Plan]


# --- search strategies ------------------------------------------------------------------------


def _grid(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs = space.grid(limit=options["max_trials"])
    return Plan(ConfigSequenceSearcher(configs), None, len(configs), len(configs) * budget.epochs)


def _random(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    count = options["num_samples"]
    configs = space.sample_many(count, seed=options["seed"])  # distinct: a configuration never runs twice
    notes = () if len(configs) == count else (
        f"random: the space holds only {len(configs)} configurations; each runs once, {len(configs)} trials "
        f"instead of num_samples {count}",)
    return Plan(ConfigSequenceSearcher(configs), None, len(configs), len(configs) * budget.epochs, notes)


def _bayes(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    searcher = UnitCubeBayesSearch(
        space, budget.metric, budget.mode, seed=options["seed"], random_steps=options["random_steps"],
        acquisition=options["acquisition"], kappa=options["kappa"], xi=options["xi"],
    )
    count, limit = options["num_samples"], options["max_concurrent"]
    if budget.max_concurrent_trials and budget.max_concurrent_trials != limit:  # Ray refuses both, once running
        raise SpecError(
            f"max_concurrent_trials: {budget.max_concurrent_trials} differs from strategy.max_concurrent {limit}; "
            "bayes limits its own concurrency, so leave max_concurrent_trials out or make the two equal"
        )
    return Plan(ConcurrencyLimiter(searcher, limit), None, count, count * budget.epochs)


def _tpe(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    _check_tpe_scheduler(options["scheduler"], budget, "strategy.scheduler")
    searcher = TPESearch(space, budget.metric, budget.mode, seed=options["seed"],
                         random_steps=options["random_steps"], epochs=budget.epochs, events=budget.events,
                         objectives=budget.objectives, constraints=budget.constraints)
    count = options["num_samples"]
    return Plan(searcher, None, count, count * budget.epochs)


def _check_tpe_scheduler(scheduler: Any, budget: Budget, where: str) -> None:
    """Refuses tpe with several objectives under a scheduler: the scheduler would stop trials by the first metric
    alone, and Optuna's multi-objective TPE keeps no intermediate values, so it cannot rank a stopped trial."""
    if scheduler is not None and len(budget.objectives) > 1:
        raise SpecError(f"{where}: {scheduler[0]} stops trials by {budget.metric} alone, and tpe with several "
                        "objectives cannot learn from a stopped trial; leave the scheduler out, or tune one metric")


def _manual(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs, labels = published_configs(space, options["configs"])
    first = LabelledSequenceSearcher(configs, labels, budget.events)
    if options["then"] is None:
        return Plan(first, None, len(configs), len(configs) * budget.epochs)
    search, search_options, scheduler, where = _scheduler_apart(*options["then"])
    if search == "tpe":
        _check_tpe_scheduler(scheduler or options["scheduler"], budget, where if scheduler else "strategy.scheduler")
    follow = plan_strategy(space, search, search_options, budget)
    count = len(configs) + follow.num_samples
    searcher = ChainedSearcher(first, follow.searcher, budget.metric, budget.mode)
    chained = Plan(searcher, None, count, count * budget.epochs, follow.notes)
    if scheduler is None:
        return chained
    if options["scheduler"] is not None:
        raise SpecError(f"strategy.scheduler: {where} names a scheduler too; give one of the two")
    # The scheduler takes every trial, the published ones too: built for the search's alone, its
    # cohorts and brackets would count too few and the plan's totals would disagree with its rungs.
    return with_scheduler(chained, {"scheduler": scheduler}, budget, where)


def _scheduler_apart(name: str, options: Mapping[str, Any]) -> tuple[str, dict, tuple[str, dict] | None, str]:
    """A `then:` search and its scheduler, apart: (search, its options, (scheduler, options) or None, key)."""
    if name in SCHEDULERS:  # sha, hyperband, asha: random search under that scheduler
        searched = {key: options[key] for key in ("num_samples", "seed")}
        rest = {key: value for key, value in options.items() if key not in searched}
        return "random", {**searched, "scheduler": None}, (name, rest), "strategy.then"
    return name, {**options, "scheduler": None}, options.get("scheduler"), "strategy.then.scheduler"


def _ofat(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
    configs, labels = one_factor_at_a_time(space, options["baseline"], options["factors"])
    searcher = LabelledSequenceSearcher(configs, labels, budget.events)
    return Plan(searcher, None, len(configs), len(configs) * budget.epochs)


def _random_under(scheduler: str) -> Callable[[Space, Mapping[str, Any], Budget], Plan]:
    """Random search under `scheduler`: the course's sha, hyperband and asha as one-word strategies."""

    def plan(space: Space, options: Mapping[str, Any], budget: Budget) -> Plan:
        searched = _random(space, options, budget)
        scheduler_options = {key: value for key, value in options.items() if key not in ("num_samples", "seed")}
        return with_scheduler(searched, {"scheduler": (scheduler, scheduler_options)}, budget, "strategy")

    return plan


_SCHEDULER = Option("scheduler", (str, dict, type(None)), None, None,
                    "an early-stopping scheduler: asha, hyperband or sha, or {name: asha, grace_period: 2}")
_SAMPLES = Option("num_samples", int, 10, 1, "number of configurations to try", maximum=MAX_TRIALS)
_SEED = Option("seed", int, 0, 0, "the same seed gives the same configurations", maximum=SEED_LIMIT)

STRATEGIES: dict[str, Strategy] = {
    "manual": Strategy(
        "manual",
        "start from configurations others published (each with its source), optionally followed by a search",
        (Option("configs", list, None, None, "[{source: ..., params: {...}}, ...]"),
         Option("then", (str, dict, type(None)), None, None, "a search strategy to run afterwards"), _SCHEDULER),
        _manual,
    ),
    "ofat": Strategy(
        "ofat",
        "manual tweaking made reproducible: from a baseline, vary one hyperparameter at a time",
        (Option("baseline", dict, None, None, "a value for every parameter of the space"),
         Option("factors", (list, type(None)), None, None, "parameters to vary (default: every one the baseline uses)"),
         _SCHEDULER),
        _ofat,
    ),
    "grid": Strategy(
        "grid",
        "small spaces where every combination matters; exhaustive, and the trial count is known up front",
        (Option("max_trials", int, MAX_TRIALS, 1, "refuse grids larger than this", maximum=MAX_GRID), _SCHEDULER),
        _grid,
    ),
    "random": Strategy(
        "random",
        "large spaces with a few parameters that matter; seeded, so a run can be repeated exactly",
        (_SAMPLES, _SEED, _SCHEDULER),
        _random,
    ),
    "bayes": Strategy(
        "bayes",
        "a few expensive trials over continuous and mixed spaces: each result steers the next configuration",
        (
            Option("num_samples", int, 20, 1, "number of configurations to try", maximum=MAX_TRIALS),
            Option("seed", int, 0, 0, "the same seed gives the same configurations (with max_concurrent 1)",
                   maximum=SEED_LIMIT),
            Option("random_steps", int, 5, 1, "random configurations before the Gaussian process takes over"),
            Option("acquisition", str, "ucb", None, "how the next point is chosen", ACQUISITIONS),
            Option("kappa", float, 2.576, 0, "ucb: higher explores more"),
            Option("xi", float, 0.0, 0, "ei and poi: higher explores more"),
            Option("max_concurrent", int, 2, 1, "trials at once; each pending trial is a point the GP cannot use"),
            _SCHEDULER,
        ),
        _bayes,
    ),
    "tpe": Strategy(
        "tpe",
        "many trials over mixed and conditional spaces: a Tree-structured Parzen Estimator (Optuna) steers each "
        "configuration; under hyperband or asha it learns from stopped trials' rungs too",
        (
            Option("num_samples", int, 20, 1, "number of configurations to try", maximum=MAX_TRIALS),
            Option("seed", int, 0, 0, "the same seed gives the same configurations (with max_concurrent_trials 1)",
                   maximum=SEED_LIMIT),
            Option("random_steps", int, 5, 1, "random configurations before the model takes over"),
            _SCHEDULER,
        ),
        _tpe,
    ),
    **{
        name: Strategy(name, kind.when, (_SAMPLES, _SEED, *kind.options), _random_under(name))
        for name, kind in SCHEDULERS.items()
    },
    "pbt": Strategy(
        "pbt",
        "one run of a population that tunes itself as it trains: the worst trials take over the best ones' "
        "weights and explore their learning rate and dropout; finds a schedule rather than one configuration",
        PBT_OPTIONS,
        plan_pbt,
    ),
}
_SEARCHES = ("manual", "ofat", "grid", "random", "bayes", "tpe")  # strategies that take a `scheduler:` option


def check_options(name: str, options: Mapping[str, Any], where: str = "strategy") -> dict[str, Any]:
    """Validates a strategy's options against its registry entry and fills in defaults."""
    checked = check_declared(STRATEGIES[name].options, options, where, f"strategy {name}")
    if "scheduler" in checked:
        checked["scheduler"] = check_scheduler(checked["scheduler"], f"{where}.scheduler")
    if name == "pbt":
        check_pbt_options(checked, where)
    if name == "manual":
        if checked["configs"] is None:
            raise SpecError(f"{where}.configs: the manual strategy needs a list of published configurations")
        if checked["then"] is not None:
            checked["then"] = _check_nested_strategy(checked["then"], f"{where}.then")
    if name == "ofat" and checked["baseline"] is None:
        raise SpecError(f"{where}.baseline: the ofat strategy needs a baseline configuration")
    return checked


def _check_nested_strategy(raw: Any, where: str) -> tuple[str, dict]:
    name, options = named_entry(raw, where, {k: v for k, v in STRATEGIES.items() if k not in ("manual", "pbt")},
                                "strategy to follow")
    return name, check_options(name, options, where)


def plan_strategy(space: Space, name: str, options: Mapping[str, Any], budget: Budget) -> Plan:
    """Ray pieces for `name`; SpaceError or SpecError if the space cannot be searched that way."""
    plan = STRATEGIES[name].plan(space, options, budget)
    return with_scheduler(plan, options, budget) if name in _SEARCHES else plan
