"""ExperimentSpec: an experiment YAML, validated into an immutable object before Ray starts.

Every mistake becomes one SpecError line that names the key path (`strategy.num_samples`),
what was found and what is allowed, with a did-you-mean for misspelt keys.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from tunelab.core.checks import SEED_LIMIT, did_you_mean, duration_seconds
from tunelab.core.errors import shown
from tunelab.core.objective import default_mode
from tunelab.core.pareto import Constraint
from tunelab.core.run_folder import is_uri
from tunelab.experiments.errors import SpecError
from tunelab.experiments.objectives import constraints_from_raw, several_objectives
from tunelab.experiments.tracking import TrackingSpec, tracking_from_raw
from tunelab.experiments.yaml_input import parse_yaml, read_yaml_file
from tunelab.searchspaces import Space, SpaceError, fix_params, load_space
from tunelab.trainables.data.function import absolute_reference
from tunelab.trainables.keras_trainable import MAX_BATCH_SIZE, MAX_EPOCHS, trial_params
from tunelab.trainables.metrics import DEFAULT_OBJECTIVE, TASKS, MetricError, check_metric_names


@dataclass(frozen=True)
class Resources:
    """What one trial reserves on a node; fractional GPUs let several trials share one card."""

    cpu: float = 1.0
    gpu: float = 0.0


@dataclass(frozen=True)
class StrategySpec:
    """Which strategy searches the space, and its options (validated by the strategy registry)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentSpec:
    """One tuning experiment, as the YAML declares it."""

    name: str                  # experiment name; results go to STORAGE/NAME-TIMESTAMP
    trainable: str             # model family (mlp, cnn) or package.module:function
    data: str | Mapping[str, Any]  # a source (digits, npz:PATH, images:PATH, ...) or {source: ..., its options}
    space: Space               # resolved search space, after `fix`
    metric: str = "val_accuracy"  # what the strategy optimizes (any metric the trainable reports)
    mode: str | None = "max"   # max or min; None: a metric of unknown direction (prepare refuses it unreported)
    task: str = "classification"  # or regression: numeric targets, a linear head, regression losses
    metrics: tuple[str, ...] = ()  # Keras metrics compiled besides the task's default (accuracy; mae)
    strategy: StrategySpec = field(default_factory=lambda: StrategySpec("random"))
    resources: Resources = field(default_factory=Resources)
    max_concurrent_trials: int = 0  # 0: as many as the cluster fits
    epochs: int = 10           # training epochs per trial (the maximum budget for schedulers)
    batch_size: int = 32       # default batch size; a `batch_size` hyperparameter overrides it
    validation_fraction: float = 0.2  # held out from data sets without their own validation split
    test_fraction: float = 0.0  # held out first, for the best model's one test score (0: none, or the source's own)
    storage: str = "~/tunelab_results"  # local directory or URI (s3://, gs://) for results
    max_failures: int = 2      # retries of a failing trial, each from its last checkpoint
    retry_out_of_memory: bool = False  # retry a trial that ran out of memory too (the same batch usually does again)
    max_consecutive_failures: int = 5  # stop the experiment after this many failed trials in a row (0: never)
    max_total_epochs: int = 0  # stop the experiment once its trials have trained this many epochs in all (0: no cap)
    trial_timeout: float | None = None  # seconds a trial may train (wall time) before it is stopped (None: no limit)
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch is always kept)
    seed: int = 0              # seeds data splits and weight initialisation
    description: str = ""      # free text shown in reports
    tracking: TrackingSpec = field(default_factory=TrackingSpec)  # MLflow, and the user's own Ray callbacks
    objectives: tuple[tuple[str, str | None], ...] = ()  # a `metric:` list: each (metric, mode); metric/mode: the first
    constraints: tuple[Constraint, ...] = ()  # bounds a trial's metrics must keep to count (experiments.objectives)
    source: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the YAML as given


_TOP_KEYS = (
    "name", "description", "trainable", "data", "task", "space", "fix", "metric", "metrics", "mode", "strategy",
    "resources", "max_concurrent_trials", "epochs", "batch_size", "validation_fraction", "test_fraction",
    "storage", "max_failures", "retry_out_of_memory", "max_consecutive_failures", "max_total_epochs",
    "checkpoint_every", "seed", "tracking", "trial_timeout", "constraints",
)
_REQUIRED = ("name", "trainable", "data", "space")
_SHORT_FORMS = {"strategy": "name", "data": "source"}  # `strategy: random` is short for {name: random}


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentSpec:
    """Reads a YAML file, applies `key.path=value` overrides, validates."""
    raw = read_experiment(path)
    for override in overrides:
        apply_override(raw, override)
    return spec_from_dict(raw)


def read_experiment(path: str | Path) -> dict:
    """The experiment file as a raw mapping, not yet validated: the path as given, or the shipped
    experiment of that name (`quickstart`) when no such file exists."""
    path = experiment_file(path)
    if not path.is_file():
        raise SpecError(f"{path}: experiment file does not exist; shipped experiments: "
                        f"{', '.join(shipped_experiments())}")
    raw = read_yaml_file(path)
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: must be a mapping of experiment keys, got {type(raw).__name__}")
    if "data" in raw:  # a data function's file.py is found next to the experiment file
        raw["data"] = absolute_reference(raw["data"], path.resolve().parent)
    return raw


def shipped_experiments() -> list[str]:
    """The names of the experiments installed with tunelab (quickstart, digits_grid, ...)."""
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("tunelab.experiments").iterdir()
                  if p.name.endswith(".yaml"))


def experiment_file(experiment: str | Path) -> Path:
    """`experiment` as a path, or the shipped experiment of that name when no such file exists."""
    path = Path(experiment).expanduser()
    if path.exists() or path.parent != Path("."):
        return path
    shipped = resources.files("tunelab.experiments") / f"{path.name.removesuffix('.yaml')}.yaml"
    return Path(str(shipped)) if shipped.is_file() else path


def apply_override(raw: dict, override: str) -> None:
    """`strategy.num_samples=20` sets one key of the raw YAML (value parsed as YAML)."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise SpecError(f"--set {shown(override)}: expected KEY.PATH=VALUE, e.g. strategy.num_samples=20")
    if "" in key.split("."):
        raise SpecError(f"--set {shown(override)}: {shown(key)} has an empty part; write KEY.PATH=VALUE, "
                        "e.g. strategy.num_samples=20")
    set_key(raw, key, parse_yaml(text, f"--set {shown(override)}"))


def set_key(raw: dict, key: str, value: Any) -> None:
    """Sets the dotted `key` of the raw experiment mapping to `value`, making mappings on the way."""
    parts = key.split(".")
    if "" in parts:
        raise SpecError(f"{shown(key)}: a key path with an empty part")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif isinstance(child, str) and depth == 0 and part in _SHORT_FORMS:
            child = node[part] = {_SHORT_FORMS[part]: child}
        if not isinstance(child, dict):
            raise SpecError(f"--set {key}: {'.'.join(parts[:depth + 1])} is not a mapping")
        node = child
    node[parts[-1]] = value


def spec_from_dict(raw: Mapping[str, Any]) -> ExperimentSpec:
    """Validates a parsed experiment mapping; raises SpecError on the first problem."""
    _reject_unknown(raw, _TOP_KEYS, "")
    for key, value in raw.items():
        if value is None:  # `epochs:` with nothing after it, or `--set epochs=`: never a silent default
            raise SpecError(f"{key}: empty; give it a value, or leave the key out for the default")
    for key in _REQUIRED:
        if key not in raw:
            raise SpecError(f"{key}: missing; an experiment needs {', '.join(_REQUIRED)}")
    task = _task(raw)
    try:
        space = load_space(raw["space"], "space", task=task)
        fix = raw.get("fix") or {}
        if not isinstance(fix, Mapping):
            raise SpecError(f"fix: must map parameter names to values, got {shown(fix)}")
        space = fix_params(space, fix, "fix") if fix else space
    except SpaceError as error:
        raise SpecError(str(error)) from None
    trainable = _trainable(raw)
    # Names the model never reads, ranges it refuses; a user's function may compile its model itself and
    # read the learning names as it likes, which prepare finds out by building it.
    trial_params(trainable, task, compiled=":" in trainable).check_space(space, "space")
    try:
        metrics = check_metric_names(raw.get("metrics", []), task)
    except MetricError as error:
        raise SpecError(str(error)) from None
    several = isinstance(raw.get("metric"), list) or isinstance(raw.get("mode"), list)
    objectives = several_objectives(raw) if several else ()
    metric = objectives[0][0] if several else _nonempty(raw, "metric", DEFAULT_OBJECTIVE[task])
    data = _data(raw["data"])
    return ExperimentSpec(
        name=_name(raw),
        description=_get(raw, "description", str, ""),
        trainable=trainable,
        data=data,
        space=space,
        metric=metric,
        mode=objectives[0][1] if several else _mode(raw, metric),
        task=task,
        metrics=metrics,
        strategy=_strategy(raw.get("strategy", "random")),
        resources=_resources(raw.get("resources") or {}),
        max_concurrent_trials=_int(raw, "max_concurrent_trials", 0, minimum=0),
        epochs=_int(raw, "epochs", 10, minimum=1, maximum=MAX_EPOCHS),
        batch_size=_int(raw, "batch_size", 32, minimum=1, maximum=MAX_BATCH_SIZE),
        validation_fraction=_fraction(raw),
        test_fraction=_fraction(raw, "test_fraction", 0.0),
        storage=_storage(raw),
        max_failures=_int(raw, "max_failures", 2, minimum=0),
        retry_out_of_memory=_flag(raw, "retry_out_of_memory"),
        max_consecutive_failures=_int(raw, "max_consecutive_failures", 5, minimum=0),
        max_total_epochs=_int(raw, "max_total_epochs", 0, minimum=0),
        trial_timeout=None if "trial_timeout" not in raw else duration_seconds(
            "trial_timeout", raw["trial_timeout"], SpecError),
        checkpoint_every=_int(raw, "checkpoint_every", 1, minimum=1),
        seed=_int(raw, "seed", 0, minimum=0, maximum=SEED_LIMIT),
        tracking=tracking_from_raw(raw.get("tracking")),
        objectives=objectives,
        constraints=constraints_from_raw(raw.get("constraints")),
        source=copy.deepcopy({**raw, "data": data}),  # a data function's file as the workers find it
    )


def _reject_unknown(raw: Mapping[str, Any], allowed: Sequence[str], prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise SpecError(
                f"{prefix}{key}: unknown key; allowed: {', '.join(allowed)}{did_you_mean(key, allowed)}"
            )


def _type_name(kind: type | tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", dict: "a mapping"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _get(raw: Mapping[str, Any], key: str, kind: type | tuple, default: Any, where: str = "") -> Any:
    if key in raw and raw[key] is None:
        raise SpecError(f"{where}{key}: empty; expected {_type_name(kind)} (leave the key out for the default "
                        f"{shown(default)})")
    value = raw.get(key, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        if not (float in kinds and isinstance(value, int) and not isinstance(value, bool)):
            raise SpecError(f"{where}{key}: expected {_type_name(kind)}, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}{key}: must be a finite number, got {value}")
    return value


def _nonempty(raw: Mapping[str, Any], key: str, default: str = "") -> str:
    value = _get(raw, key, str, default)
    if not value.strip():
        raise SpecError(f"{key}: must not be empty")
    return value


def _name(raw: Mapping[str, Any]) -> str:
    name = _nonempty(raw, "name")
    check_folder_name(name, "name")
    return name


def _data(value: Any) -> str | dict[str, Any]:
    """The `data:` value, its source and options checked (a DataError names `data.KEY`); files are read by prepare.

    A data function's relative `file.py` is made absolute against the current folder here (`--set`, the Python API);
    one in an experiment file already is, against that file's folder (`read_experiment`)."""
    from tunelab.trainables.data import check_data

    check_data(value)
    value = absolute_reference(value, Path.cwd())
    return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value


def _task(raw: Mapping[str, Any]) -> str:
    task = _get(raw, "task", str, "classification")
    if task not in TASKS:
        raise SpecError(f"task: {shown(task)} is not a task; allowed: {', '.join(TASKS)}{did_you_mean(task, TASKS)}")
    return task


def _mode(raw: Mapping[str, Any], metric: str) -> str | None:
    """The mode given, else the metric's known direction (None: unknown; prepare asks for it once it knows the
    metric is reported). Whether the trials report `metric` at all, prepare checks against the model."""
    known = default_mode(metric)
    if "mode" not in raw:
        return known
    mode = _get(raw, "mode", str, known)
    if mode not in ("max", "min"):
        raise SpecError(f"mode: {shown(mode)} is not allowed; use max or min")
    if known is not None and mode != known:
        raise SpecError(f"mode: {mode} contradicts metric {metric}, which is better when "
                        f"{'smaller' if known == 'min' else 'larger'}; write mode: {known}, or leave mode out")
    return mode


def _trainable(raw: Mapping[str, Any]) -> str:
    from tunelab.trainables.models import FAMILIES, resolve_model_function

    value = _nonempty(raw, "trainable")
    if value in FAMILIES:
        return value
    if ":" not in value:
        raise SpecError(
            f"trainable: {shown(value)} is not a model family ({', '.join(FAMILIES)}){did_you_mean(value, FAMILIES)}; "
            "or name your own as package.module:function"
        )
    resolve_model_function(value)  # a TrainableError naming the key if it cannot be imported
    return value


def _storage(raw: Mapping[str, Any]) -> str:
    value = _nonempty(raw, "storage", "~/tunelab_results")
    check_storage_text(value, "storage")
    return value


def check_storage_text(value: str, key: str) -> None:
    """Storage is absolute, ~/..., or a URI: a relative path would depend on where you launch from."""
    if not is_uri(value) and not value.startswith("~") and not Path(value).is_absolute():
        raise SpecError(
            f"{key}: {shown(value)} is relative, which Ray refuses and which would depend on where you launch "
            "from; use an absolute path, ~/..., or a URI such as s3://bucket/results"
        )


def check_folder_name(value: str, key: str) -> None:
    """A run or experiment name becomes one folder: no separators, no `..`, nothing a shell would mangle."""
    if not value or value in (".", "..") or not all(c.isalnum() or c in "-_." for c in value):
        raise SpecError(f"{key}: {shown(value)} must be one folder name of letters, digits, '-', '_' and '.' "
                        "(no '/' and not '..')")


def _int(raw: Mapping[str, Any], key: str, default: int, minimum: int, where: str = "",
         maximum: int | None = None) -> int:
    value = _get(raw, key, int, default, where)
    if value < minimum:
        raise SpecError(f"{where}{key}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SpecError(f"{where}{key}: must be <= {maximum:,}, got {value:,}")
    return value


def _fraction(raw: Mapping[str, Any], key: str = "validation_fraction", default: float = 0.2) -> float:
    """A fraction of the examples, strictly between 0 and 1; `test_fraction` may be 0 (its default: no test part)."""
    value = _get(raw, key, float, default)
    if not 0 < value < 1 and not (value == 0 and default == 0):
        none = "0 (no test part) or " if default == 0 else ""
        raise SpecError(f"{key}: must be {none}between 0 and 1 (exclusive), got {value}")
    return float(value)


def _strategy(raw: Any) -> StrategySpec:
    from tunelab.experiments.strategies import STRATEGIES, check_options

    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise SpecError(f"strategy: expected a name or a mapping with a name, got {shown(raw)}")
    name = raw.get("name")
    if name not in STRATEGIES:
        raise SpecError(
            f"strategy.name: {shown(name)} is not a strategy; allowed: {', '.join(STRATEGIES)}"
            + (did_you_mean(name, STRATEGIES) if isinstance(name, str) else "")
        )
    options = {key: value for key, value in raw.items() if key != "name"}
    return StrategySpec(name, check_options(name, options))


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise SpecError(f"{key}: expected true or false, got {shown(value)}")
    return value


def _resources(raw: Any) -> Resources:
    if not isinstance(raw, Mapping):
        raise SpecError(f"resources: expected a mapping like {{cpu: 1, gpu: 0.5}}, got {shown(raw)}")
    _reject_unknown(raw, ("cpu", "gpu"), "resources.")
    cpu = _get(raw, "cpu", float, 1.0, "resources.")
    gpu = _get(raw, "gpu", float, 0.0, "resources.")
    if not math.isfinite(cpu) or cpu <= 0:
        raise SpecError(f"resources.cpu: must be > 0, got {cpu}")
    if not math.isfinite(gpu) or gpu < 0:
        raise SpecError(f"resources.gpu: must be >= 0, got {gpu}")
    if gpu > 1 and not float(gpu).is_integer():
        raise SpecError(f"resources.gpu: above 1 it must be a whole number of GPUs, got {gpu}")
    return Resources(cpu=float(cpu), gpu=float(gpu))
