"""The study report's overhead targets, read from the overhead.json beside it, with that file's date.

`benchmark.py overhead` measures them in a run of its own, possibly days before or after the
study, so a study report that quotes them says where each number comes from and when it was
measured: a reader must not take them for the study's own. Older files are read as they are: one
without a date is "undated", a figure it does not have is "not measured".
"""
from __future__ import annotations

import math
from typing import Any

from benchmarks.verdicts import Target

COMMAND = "`benchmark.py overhead`"
TRIVIAL_GOAL_S = 60.0        # 1,000 trivial trials through tunelab
MEMORY_GOAL = 1.05           # host memory after 50 trials within 5 % of after trial 5 (issue 25)
MEMORY_GOAL_TRIALS = 50
SETTLED_TRIAL = 5            # the worker has warmed up by then: imports, caches, the first traces


def overhead_targets(overhead: dict[str, Any] | None, study_machine: dict[str, Any] | None = None) -> list[Target]:
    """The trivial-trials and reused-worker-memory targets; "not measured" rows where a figure is missing.

    `study_machine` (the study's benchmarks.machine record) names the overhead run's machine when
    it is another one.
    """
    if overhead is None:
        missing = f"no overhead.json beside the study; {COMMAND} --out <this folder> writes it"
        return [Target(_trivial_goal(1000), math.nan, TRIVIAL_GOAL_S, True, missing),
                Target(_memory_goal(MEMORY_GOAL_TRIALS), math.nan, MEMORY_GOAL, True, missing)]
    source = overhead_source(overhead, study_machine)
    return [_trivial_target(overhead.get("trivial"), source),
            _memory_target(overhead.get("memory") or {}, source)]


def overhead_source(overhead: dict[str, Any], study_machine: dict[str, Any] | None = None) -> str:
    """'from overhead.json of <date>, `benchmark.py overhead`', and the machine when it is not the study's."""
    machine = overhead.get("machine") or {}
    date = machine.get("date")
    text = f"from overhead.json of {date}" if date else "from an undated overhead.json"
    text += f", {COMMAND}"
    if machine and study_machine and _identity(machine) != _identity(study_machine):
        text += f", on another machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
    return text


def per_thousand(timing: dict[str, float], trials: int) -> float:
    """Wall time for 1,000 trivial trials: as measured, or Ray's start-up plus the fitting time scaled to 1,000."""
    return timing["wall_s"] - timing["fit_s"] + timing["fit_s"] * 1000 / trials


def settled_ratio(memory: dict[str, Any]) -> tuple[float, float, float] | None:
    """(MB after trial 5, MB after the last trial, their ratio), or None when the record has neither.

    Files written before `fifth_mb` and `last_over_fifth` were recorded still hold the RSS after
    each trial, from which the same figures follow (benchmarks.worker_memory.summarize_memory).
    """
    if "last_over_fifth" in memory and "fifth_mb" in memory:
        return memory["fifth_mb"], memory["last_mb"], memory["last_over_fifth"]
    after = memory.get("after_mb") or []
    if len(after) < SETTLED_TRIAL:
        return None
    fifth = after[SETTLED_TRIAL - 1]
    return fifth, after[-1], after[-1] / fifth


def _trivial_target(trivial: dict[str, Any] | None, source: str) -> Target:
    if not trivial:
        return Target(_trivial_goal(1000), math.nan, TRIVIAL_GOAL_S, True, "this overhead.json has no trivial trials",
                      source)
    trials = trivial["trials"]
    return Target(_trivial_goal(trials), per_thousand(trivial["tunelab"], trials), TRIVIAL_GOAL_S, True,
                  f"raw Ray Tune: {per_thousand(trivial['ray'], trials):.1f} s", source)


def _memory_target(memory: dict[str, Any], source: str) -> Target:
    shipped = memory.get("tunelab") or {}
    figures = settled_ratio(shipped)
    trials = shipped.get("trials", MEMORY_GOAL_TRIALS)
    if figures is None:
        return Target(_memory_goal(trials), math.nan, MEMORY_GOAL, True,
                      f"this overhead.json has no memory after trial {SETTLED_TRIAL}", source)
    fifth, last, ratio = figures
    detail = f"{fifth:.0f} → {last:.0f} MB"
    if trials != MEMORY_GOAL_TRIALS:
        detail += f"; over {trials} trials, the goal is stated for {MEMORY_GOAL_TRIALS}"
    no_onednn = settled_ratio(memory.get("no_onednn") or {})
    if no_onednn is not None:
        detail += f"; with oneDNN off: {no_onednn[2]:.3f}"
    return Target(_memory_goal(trials), ratio, MEMORY_GOAL, True, detail, source)


def _trivial_goal(trials: int) -> str:
    goal = "1,000 trivial trials through tunelab, seconds"
    if trials != 1000:
        goal += f" (measured with {trials:.0f}: start-up + fitting time x 1000/{trials:.0f})"
    return goal


def _memory_goal(trials: int) -> str:
    return (f"reused worker's host memory after trial {trials} / after trial {SETTLED_TRIAL} "
            f"(within {(MEMORY_GOAL - 1) * 100:.0f} %)")


def _identity(machine: dict[str, Any]) -> tuple[Any, Any, Any]:
    return machine.get("cpu"), machine.get("cores"), machine.get("memory_gb")
