"""The course's manual methods, made reproducible: published configurations and one factor at a time.

Both produce a fixed list of labelled configurations. The labels (where a configuration was
published; which factor a run varies) are written to the trial events file when Ray asks for
the configuration (`searchers.LabelledSequenceSearcher`), so analysis can show them next to each trial.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.searchspaces import Config, Fixed, Space, SpaceError


def published_configs(space: Space, entries: Any, where: str = "strategy.configs") -> tuple[list[Config], list[dict]]:
    """Validates `[{source: ..., params: {...}}, ...]`; returns configs and their labels.

    A published configuration may leave parameters out (the model's defaults apply) but may
    not set one whose condition does not hold in it.
    """
    if not isinstance(entries, list) or not entries:
        raise SpaceError(f"{where}: needs a list of {{source: ..., params: {{...}}}} entries")
    configs, labels = [], []
    for index, entry in enumerate(entries):
        path = f"{where}[{index}]"
        if not isinstance(entry, Mapping) or set(entry) - {"source", "params"} or "params" not in entry:
            raise SpaceError(f"{path}: expected {{source: 'where it was published', params: {{name: value}}}}")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise SpaceError(f"{path}.source: say where this configuration comes from (a paper, a tutorial, ...)")
        configs.append(_checked_partial(space, entry["params"], f"{path}.params"))
        labels.append({"source": source})
    return configs, labels


def _checked_partial(space: Space, params: Any, where: str) -> Config:
    if not isinstance(params, Mapping) or not params:
        raise SpaceError(f"{where}: must map parameter names to values")
    _check_values(space, params, where)
    config: Config = {}
    for name, param in space.items():
        if name in params:
            known_parents = all(parent in config for parent, _ in param.conditions)
            if known_parents and not space.is_active(name, config):
                raise SpaceError(f"{where}.{name}: set, but its condition does not hold in this configuration")
            config[name] = params[name]
        elif isinstance(param, Fixed) and space.is_active(name, config):
            config[name] = param.value  # `fix:` pins and Fixed values hold for published configurations too
    return config


def one_factor_at_a_time(
    space: Space, baseline: Any, factors: Sequence[str] | None, where: str = "strategy"
) -> tuple[list[Config], list[dict]]:
    """The baseline, then each factor over its grid values with everything else held at the baseline.

    The baseline names a value for every parameter a varied factor can switch on (units_3 when
    num_layers goes to 3), so each run differs from the baseline in one decision only.
    """
    if not isinstance(baseline, Mapping) or not baseline:
        raise SpaceError(f"{where}.baseline: needs a value for each parameter of the space")
    _check_values(space, baseline, f"{where}.baseline")
    searchable = [name for name, param in space.items() if not isinstance(param, Fixed)]
    base = _resolve(space, dict(baseline), {}, f"{where}.baseline")
    if factors is None:  # every parameter the baseline uses
        factors = [name for name in searchable if name in base]
    for factor in factors:
        if factor not in searchable:
            raise SpaceError(
                f"{where}.factors: {shown(factor)} is not a searchable parameter{did_you_mean(factor, searchable)}"
            )
    configs, labels = [base], [{"factor": "baseline"}]
    for factor in factors:
        if factor not in base:
            raise SpaceError(f"{where}.factors: {factor} is inactive in the baseline, so varying it changes nothing")
        try:
            values = space[factor].grid_values()
        except SpaceError as error:
            raise SpaceError(f"{where}.factors: {factor}: {error}") from None
        for value in values:
            config = _resolve(space, dict(baseline), {factor: value}, f"{where}.baseline")
            if config not in configs:
                configs.append(config)
                labels.append({"factor": factor, "value": value})
    return configs, labels


def _check_values(space: Space, values: Mapping[str, Any], where: str) -> None:
    for name, value in values.items():
        if name not in space:
            raise SpaceError(f"{where}.{name}: not a parameter of the space{did_you_mean(name, space)}")
        if isinstance(space[name], Fixed) and not space[name].contains(value):
            raise SpaceError(f"{where}.{name}: {shown(value)} contradicts the pinned value {shown(space[name].value)} "
                             "(fix: or a fixed value in the space)")
        if not space[name].contains(value):
            raise SpaceError(f"{where}.{name}: {shown(value)} is outside {space[name].describe()}")


def _resolve(space: Space, baseline: dict, change: dict, where: str) -> Config:
    values = {**baseline, **change}
    config: Config = {}
    for name, param in space.items():
        if not space.is_active(name, config):
            continue
        if isinstance(param, Fixed):
            config[name] = param.value
        elif name in values:
            config[name] = values[name]
        else:
            trigger = f" (needed when {', '.join(f'{k} = {v!r}' for k, v in change.items())})" if change else ""
            raise SpaceError(f"{where}.{name}: missing{trigger}; give every parameter a baseline value")
    return config
