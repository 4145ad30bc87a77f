"""The `pbt` strategy: population based training over the hyperparameters a trial can change as it trains.

A seeded population is drawn from the space as random search draws it; Ray's PBT then, every
`perturbation_interval` epochs, has the worst trials take over the best ones' checkpoints and
explore their values (`schedulers.pbt`). Only float hyperparameters that a restored model can
change (`trainables.adjustable`: learning rate, momentum, dropout, regularization strength) are
perturbed; structure never is, so a donor's weights always fit. Everything is checked against the
space, the trainable and the budget before Ray starts.
"""
from __future__ import annotations

from typing import Any, Mapping

from tunelab.core.checks import SEED_LIMIT, did_you_mean
from tunelab.core.errors import shown
from tunelab.experiments.early_stopping import refuse_concurrency_limit
from tunelab.experiments.errors import SpecError
from tunelab.experiments.plans import MAX_TRIALS, Budget, Option, Plan
from tunelab.experiments.schedulers import PopulationBasedScheduler
from tunelab.experiments.schedulers.explore import FACTORS, LINEAR_SHIFT
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.searchspaces import Fixed, Float, Space
from tunelab.trainables.adjustable import KEPT_AT_ZERO, adjustable_params

PBT_OPTIONS = (
    Option("population", int, 8, 2, "trials trained side by side, drawn from the space as random search draws them",
           maximum=MAX_TRIALS),
    Option("seed", int, 0, 0, "the same seed gives the same population and explore steps (not the same donors)",
           maximum=SEED_LIMIT),
    Option("perturbation_interval", int, 4, 1, "epochs between exploits; below epochs"),
    Option("quantile_fraction", float, 0.25, 0, "the worst this fraction copy one of the best this fraction",
           maximum=0.5),
    Option("resample_probability", float, 0.25, 0, "the chance a value is drawn anew instead of perturbed",
           maximum=1),
    Option("perturb", (list, type(None)), None, None,
           "float hyperparameters to perturb (default: each the trainable can change as it trains)"),
)


def check_pbt_options(checked: Mapping[str, Any], where: str) -> None:
    """What the declarations cannot say: a fraction that copies no trial, a perturb list that is not names."""
    if checked["quantile_fraction"] == 0:
        raise SpecError(f"{where}.quantile_fraction: must be > 0 (0 would copy no trial), got 0")
    names = checked["perturb"]
    if names is not None:
        if not names or not all(isinstance(name, str) for name in names):
            raise SpecError(f"{where}.perturb: expected a non-empty list of hyperparameter names, got {shown(names)}")
        if len(set(names)) != len(names):
            raise SpecError(f"{where}.perturb: {shown(names)} names a hyperparameter twice")


def plan_pbt(space: Space, options: Mapping[str, Any], budget: Budget, where: str = "strategy") -> Plan:
    """A seeded population and the PBT scheduler that trains it; SpecError for a plan that cannot work."""
    interval, epochs = options["perturbation_interval"], budget.epochs
    if interval >= epochs:
        raise SpecError(f"{where}.perturbation_interval: {interval} is not below epochs ({epochs}); PBT needs "
                        f"at least one interval to end before a trial's last epoch")
    if interval % budget.checkpoint_every:
        raise SpecError(f"checkpoint_every: {budget.checkpoint_every} leaves no checkpoint at some epochs where PBT "
                        f"copies the better trials' checkpoints; use a divisor of {where}.perturbation_interval "
                        f"({interval})")
    exploits_at = list(range(interval, epochs, interval))
    perturb, left_out = perturbed_params(space, options["perturb"], budget.trainable, where)
    refuse_concurrency_limit(budget, options["population"], "population based training")
    configs = space.sample_many(options["population"], seed=options["seed"])
    if len(configs) < 2:
        raise SpecError(f"{where}.population: the space holds only {len(configs)} configuration; PBT needs two")
    scheduler = PopulationBasedScheduler(
        space=space, perturb=perturb, max_t=epochs, perturbation_interval=interval,
        quantile_fraction=options["quantile_fraction"], resample_probability=options["resample_probability"],
        seed=options["seed"], kept_at_zero=KEPT_AT_ZERO, events=budget.events,
    )
    shown_epochs = ", ".join(map(str, exploits_at[:8])) + (", ..." if len(exploits_at) > 8 else "")
    fraction = f"{options['quantile_fraction']:.0%}"
    notes = [f"pbt: population {len(configs)}; at epochs {shown_epochs} the worst {fraction} take over one of the "
             f"best {fraction} and explore {', '.join(perturb)} (resampled with probability "
             f"{options['resample_probability']:g}, else x{FACTORS[0]:g} or x{FACTORS[1]:g} on a log scale, "
             f"±{LINEAR_SHIFT:.0%} of the range on a linear one, within the space)", *left_out]
    if len(configs) < options["population"]:
        notes.append(f"pbt: the space holds only {len(configs)} configurations: a population of {len(configs)}")
    return Plan(ConfigSequenceSearcher(configs), scheduler, len(configs), len(configs) * epochs, tuple(notes))


def perturbed_params(space: Space, requested: list[str] | None, trainable: str | None, where: str
                     ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hyperparameters PBT perturbs (`requested`, or every one it can), and notes on those it cannot."""
    adjustable = adjustable_params(trainable)
    if requested is not None:
        for name in requested:
            reason = _why_not_perturbable(space, name, adjustable, trainable)
            if reason:
                raise SpecError(f"{where}.perturb: {reason}")
        return tuple(requested), ()
    candidates = [name for name in adjustable if isinstance(space.get(name), Float)]
    reasons = {name: _why_not_perturbable(space, name, adjustable, trainable) for name in candidates}
    names = tuple(name for name in candidates if reasons[name] is None)
    left_out = tuple(f"pbt: not perturbed: {reason}" for reason in reasons.values() if reason)
    if not names:
        raise SpecError(f"{where}: nothing for PBT to perturb; it perturbs float hyperparameters a restored model can "
                        f"change ({', '.join(adjustable)}) and the space has none it can"
                        + "".join(f"; {reason}" for reason in reasons.values() if reason))
    return names, left_out


def _why_not_perturbable(space: Space, name: str, adjustable: tuple[str, ...], trainable: str | None) -> str | None:
    if name not in space:
        return f"{shown(name)} is not a parameter of the space{did_you_mean(name, space)}"
    param = space[name]
    if not isinstance(param, Float):
        return f"{name} is {param.describe()}; PBT perturbs float hyperparameters only"
    if name not in adjustable:
        model = f"a {trainable} model" if trainable else "a model"
        return (f"{name} cannot change while a trial trains; {model} restored from a checkpoint changes only "
                f"{', '.join(adjustable)}")
    schedule = space.get("lr_schedule")
    if name == "learning_rate" and schedule is not None and not (
            isinstance(schedule, Fixed) and schedule.value == "constant"):
        return (f"learning_rate follows lr_schedule ({schedule.describe()}), which sets it from the step; PBT's "
                f"perturbations are the schedule, so fix lr_schedule: constant to perturb it")
    dependent = [other for other, entry in space.items() if any(parent == name for parent, _ in entry.conditions)]
    if dependent:
        return f"{name} decides whether {dependent[0]} is active; perturbing it would change the model's structure"
    return None
