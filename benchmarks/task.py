"""The study's task: one space, one data set, one epoch budget, and how many trials each search gets for it.

The budget is the grid's: the grid baseline enumerates a small sub-grid of the space (the
space with a few more parameters pinned), exhaustively, at `epochs` per trial, and every other
search is sized to train about as many epochs. Searches that stop trials early (sha, hyperband,
asha) get as many trials as fit the budget; the epochs they really trained are read from
their results, not from this plan.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from tunelab.experiments.errors import SpecError
from tunelab.experiments.schedulers import hyperband_epochs
from tunelab.experiments.strategies import Budget, check_options, plan_strategy
from tunelab.searchspaces import Space, fix_params, load_space

# Pinned for every search: the loss, schedule and regularization choices of the catalog space
# only add configurations that learn slowly on digits; the architecture, optimizer, learning
# rate, momentum and dropout stay free (12 hyperparameters).
STUDY_FIX: dict[str, Any] = {"loss": "categorical_crossentropy", "lr_schedule": "constant", "regularization": "none"}
# Pinned further for the grid baseline, at the catalog's usual values. The full study's grid
# enumerates depth x filters per layer x kernel size x learning rate (6 structures x 2 x 2);
# the quick one two conv layers' filters x learning rate (2 x 2 x 2).
GRID_FIX: dict[str, Any] = {"stride": 1, "padding": "same", "activation": "relu", "dense_units": 64,
                            "optimizer": "adam", "dropout": 0.0}
QUICK_GRID_FIX: dict[str, Any] = {**GRID_FIX, "kernel_size": 3, "num_conv_layers": 2}

TUNELAB, RAY, KERASTUNER = "tunelab", "ray", "kerastuner"


@dataclass(frozen=True)
class StudyTask:
    """What every search in the study shares; JSON-able, so a KerasTuner subprocess can rebuild it."""

    data: str = "digits"
    space: str = "cnn"                                         # a catalog space
    fix: Mapping[str, Any] = field(default_factory=lambda: dict(STUDY_FIX))
    grid_fix: Mapping[str, Any] = field(default_factory=lambda: dict(GRID_FIX))
    epochs: int = 9                                            # E: epochs of a complete trial
    batch_size: int = 64
    concurrency: int = 2                                       # trials at once on Ray, 1 CPU each
    reduction_factor: int = 3                                  # sha, hyperband, asha and KerasTuner's Hyperband
    random_steps: int = 5                                      # random configurations before a GP takes over
    metric: str = "val_accuracy"
    mode: str = "max"

    def searched_space(self) -> Space:
        return fix_params(load_space(self.space), self.fix)

    def grid_space(self) -> Space:
        return fix_params(self.searched_space(), self.grid_fix)

    @property
    def grid_trials(self) -> int:
        return len(self.grid_space().grid())

    @property
    def budget(self) -> int:
        """Epochs per search: what the exhaustive grid trains."""
        return self.grid_trials * self.epochs

    def as_dict(self) -> dict[str, Any]:
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in dataclasses.asdict(self).items()}


QUICK = StudyTask(grid_fix=dict(QUICK_GRID_FIX), random_steps=3)  # 8-configuration grid, 72 epochs per search
# Left out of --quick (unless named in --only) to keep it under 15 minutes on 2 cores: its halves,
# bayes and asha, are in; measured at 62-81 s a search, the slowest tunelab entry.
QUICK_LEAVES_OUT = ("bayes+asha",)
FULL = StudyTask()                                                 # 24-configuration grid, 216 epochs per search


@dataclass(frozen=True)
class Entry:
    """One search of the study: its name in the table, the tool that runs it and its sized options."""

    name: str
    tool: str                       # tunelab, ray or kerastuner
    strategy: str                   # a tunelab strategy, or a KerasTuner tuner class
    options: Mapping[str, Any]      # without the seed, which each run adds
    on_grid: bool = False           # searches the grid's sub-space
    planned_epochs: int = 0         # what sizing expected (trials actually trained are measured)

    @property
    def trials(self) -> int:
        for key in ("num_samples", "max_trials", "population"):
            if key in self.options:
                return int(self.options[key])
        return 0


NAMES = ("grid", "random", "bayes", "tpe", "sha", "hyperband", "asha", "tpe+hyperband", "bayes+asha", "ray_random",
         "kt_random", "kt_bayes", "kt_hyperband")


def entries(task: StudyTask) -> list[Entry]:
    """Every search of the study, in NAMES order, sized to the task's epoch budget."""
    budget, epochs, eta = task.budget, task.epochs, task.reduction_factor
    same = budget // epochs  # trials of a search that trains every trial to the end
    bayes = {"random_steps": task.random_steps, "max_concurrent": task.concurrency}
    asha = {"grace_period": 1, "reduction_factor": eta}
    sized = {
        "sha": _largest(lambda n: tunelab_epochs(task, "sha", {"num_samples": n, "reduction_factor": eta}), budget),
        "hyperband": _largest(lambda n: hyperband_epochs(n, epochs, eta), budget),
        "asha": _largest(lambda n: asha_epochs(n, epochs, eta, 1), budget),
    }
    iterations = min(range(1, 20), key=lambda k: (abs(kt_hyperband_epochs(epochs, eta, k) - budget), k))
    found = [
        Entry("grid", TUNELAB, "grid", {}, on_grid=True, planned_epochs=budget),
        Entry("random", TUNELAB, "random", {"num_samples": same}, planned_epochs=same * epochs),
        Entry("bayes", TUNELAB, "bayes", {"num_samples": same, **bayes}, planned_epochs=same * epochs),
        Entry("tpe", TUNELAB, "tpe", {"num_samples": same, "random_steps": task.random_steps},
              planned_epochs=same * epochs),
        Entry("sha", TUNELAB, "sha", {"num_samples": sized["sha"], "reduction_factor": eta},
              planned_epochs=tunelab_epochs(task, "sha", {"num_samples": sized["sha"], "reduction_factor": eta})),
        Entry("hyperband", TUNELAB, "hyperband", {"num_samples": sized["hyperband"], "reduction_factor": eta},
              planned_epochs=hyperband_epochs(sized["hyperband"], epochs, eta)),
        Entry("asha", TUNELAB, "asha", {"num_samples": sized["asha"], **asha},
              planned_epochs=asha_epochs(sized["asha"], epochs, eta, 1)),
        Entry("tpe+hyperband", TUNELAB, "tpe",
              {"num_samples": sized["hyperband"], "random_steps": task.random_steps,
               "scheduler": {"name": "hyperband", "reduction_factor": eta}},
              planned_epochs=hyperband_epochs(sized["hyperband"], epochs, eta)),
        Entry("bayes+asha", TUNELAB, "bayes",
              {"num_samples": sized["asha"], **bayes, "scheduler": {"name": "asha", **asha}},
              planned_epochs=asha_epochs(sized["asha"], epochs, eta, 1)),
        Entry("ray_random", RAY, "random", {"num_samples": same}, planned_epochs=same * epochs),
        Entry("kt_random", KERASTUNER, "RandomSearch", {"max_trials": same}, planned_epochs=same * epochs),
        Entry("kt_bayes", KERASTUNER, "BayesianOptimization",
              {"max_trials": same, "num_initial_points": task.random_steps}, planned_epochs=same * epochs),
        Entry("kt_hyperband", KERASTUNER, "Hyperband",
              {"max_epochs": epochs, "factor": eta, "hyperband_iterations": iterations},
              planned_epochs=kt_hyperband_epochs(epochs, eta, iterations)),
    ]
    assert tuple(e.name for e in found) == NAMES
    return found


def _largest(epochs_for: Any, budget: int, limit: int = 10_000) -> int:
    """The largest trial count whose planned epochs fit the budget (at least 1).

    Successive halving refuses more configurations than halve to one within the epochs.
    """
    n = 1
    while n < limit and _fits(epochs_for, n + 1, budget):
        n += 1
    return n


def _fits(epochs_for: Any, trials: int, budget: int) -> bool:
    try:
        return epochs_for(trials) <= budget
    except SpecError:
        return False


def tunelab_epochs(task: StudyTask, strategy: str, options: Mapping[str, Any]) -> int:
    """The registry's own bound (exact for searches without early stopping and for sha)."""
    budget = Budget(task.metric, task.mode, task.epochs)
    return plan_strategy(task.searched_space(), strategy, check_options(strategy, dict(options)), budget).max_epochs


def asha_epochs(trials: int, max_t: int, eta: int, grace_period: int) -> int:
    """Expected epochs of ASHA: 1/eta of the trials pass each rung (more in practice: the first ones always pass)."""
    rungs = [grace_period]
    while rungs[-1] * eta < max_t:
        rungs.append(rungs[-1] * eta)
    rungs.append(max_t)
    per_trial = sum((rung - before) / eta ** i for i, (before, rung) in enumerate(zip([0, *rungs[:-1]], rungs)))
    return math.ceil(trials * per_trial)


def kt_hyperband_epochs(max_epochs: int, factor: int, iterations: int) -> int:
    """Epochs KerasTuner 1.4's Hyperband trains: its bracket and round sizes, continued trials counted once.

    Mirrors keras_tuner.oracles.HyperbandOracle (_get_size, _get_epochs, _get_num_brackets).
    """
    brackets, epochs_left = 0, float(max_epochs)
    while epochs_left >= 1:
        epochs_left, brackets = epochs_left / factor, brackets + 1
    end_size0 = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets - 1, -1, -1):
        before = 0
        for round_num in range(bracket + 1):
            size = math.ceil(end_size0 / (bracket + 1) * factor ** (bracket - round_num))
            epochs = math.ceil(max_epochs / factor ** (bracket - round_num))
            total += size * (epochs - before)
            before = epochs
    return total * iterations


def spec_dict(task: StudyTask, entry: Entry, seed: int, storage: str) -> dict[str, Any]:
    """The experiment a tunelab entry runs, as a YAML mapping (spec_from_dict validates it)."""
    strategy = {"name": entry.strategy, **entry.options}
    if entry.strategy != "grid":
        strategy["seed"] = seed
    return {
        "name": f"{entry.name.replace('+', '_')}-seed{seed}",
        "description": f"strategy study: {entry.name}, seed {seed}",
        "trainable": entry_trainable(task),
        "data": task.data,
        "space": task.space,
        "fix": {**task.fix, **(task.grid_fix if entry.on_grid else {})},
        "metric": task.metric,
        "mode": task.mode,
        "strategy": strategy,
        "epochs": task.epochs,
        "batch_size": task.batch_size,
        "storage": storage,
        "seed": seed,
        "max_failures": 0,
        "max_consecutive_failures": 0,
        "max_total_epochs": task.budget,  # ASHA's first trials always go on: hold it to the grid's epochs
    }


def entry_trainable(task: StudyTask) -> str:
    """The model family of the catalog space (cnn, mlp): the space and the family share a name."""
    return task.space
