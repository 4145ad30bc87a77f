"""The strategy study's verdicts: the issue's targets and the course's claims, judged on `measure`'s frame.

Kept apart from benchmarks.compare, which computes the numbers: this module judges them and
writes the two verdict tables. benchmarks.overhead_targets adds the targets the overhead run measures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.compare import TOLERANCE, best_value, time_to_target

TUNELAB_TOOL = "tunelab"


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: what was measured against what was aimed for."""

    goal: str
    measured: float       # the ratio or value (median over seeds); inf: never reached; NaN: not measured
    threshold: float
    below: bool           # met when measured <= threshold (else >=)
    detail: str = ""
    source: str = ""      # where a number this study did not measure comes from, and its date

    @property
    def met(self) -> bool | None:
        if not math.isfinite(self.threshold) or math.isnan(self.measured):
            return None
        return self.measured <= self.threshold if self.below else self.measured >= self.threshold


@dataclass(frozen=True)
class Claim:
    """A course claim and what the numbers say: confirmed, not confirmed, or within the spread across seeds."""

    claim: str
    verdict: str
    evidence: str


def _per_seed(measured: pd.DataFrame, name: str, column: str) -> pd.Series:
    rows = measured[measured["name"] == name]
    return pd.Series(rows[column].astype("float64").to_numpy(), index=rows["seed"].to_numpy())


def _median(values: pd.Series) -> float:
    values = values.dropna()
    return float(np.median(values)) if not values.empty else math.nan


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Per-seed ratio; inf where the numerator never happened (a target not reached)."""
    joined = pd.concat([numerator.rename("a"), denominator.rename("b")], axis=1, join="inner")
    return joined["a"] / joined["b"]


def targets(measured: pd.DataFrame) -> list[Target]:
    """The issue's targets this study measures, each the median over seeds of a per-seed ratio (the
    KerasTuner one: the worst seed of the best strategy, as its goal holds on every seed).

    The overhead ones come from another run (benchmarks.overhead_targets), so they carry its date.
    """
    found = []
    names = list(dict.fromkeys(measured["name"]))
    tunelab = [n for n in names if measured.loc[measured["name"] == n, "tool"].iloc[0] == TUNELAB_TOOL]
    if "kt_random" in names and tunelab:
        # The goal holds for a strategy on every seed: each is judged by its worst seed.
        walls = _per_seed(measured, "kt_random", "wall_s")
        per_seed = {name: _ratio(_per_seed(measured, name, "time_to_target_s"), walls) for name in tunelab}
        worst = {name: float(ratios.max()) if not ratios.dropna().empty else math.nan
                 for name, ratios in per_seed.items()}
        best = min(worst, key=lambda n: worst[n] if not math.isnan(worst[n]) else math.inf)
        others = ", ".join(f"{n} {' / '.join(_fmt_ratio(r) for r in per_seed[n])}" for n in tunelab)
        found.append(Target("time for tunelab's fastest strategy to reach KerasTuner RandomSearch's best "
                            "/ KerasTuner RandomSearch's wall time, on its worst seed", worst[best], 0.33, True,
                            f"fastest: {best}; per seed ({', '.join(map(str, walls.index))}): {others}"))
    if "random" in names and "ray_random" in names:
        ratio = _median(_ratio(_per_seed(measured, "random", "wall_s"), _per_seed(measured, "ray_random", "wall_s")))
        found.append(Target("tunelab random / raw Ray Tune on the same trials, wall time", ratio, 1.05, True))
    if "random" in names:
        trial_s = _median(_per_seed(measured, "random", "trial_s"))
        found.append(Target("efficiency of tunelab random, Σ trial time / (wall × concurrency)",
                            _median(_per_seed(measured, "random", "efficiency")), 0.9, False,
                            f"trials of {trial_s:.1f} s (median); from the first trial's start to the last epoch "
                            f"(no Ray start-up): {_median(_per_seed(measured, 'random', 'busy_efficiency')):.2f}"))
    if "grid" in names:
        grid_epochs = _per_seed(measured, "grid", "epochs")
        for name in ("hyperband", "asha"):
            if name in names:
                ratio = _median(_ratio(_per_seed(measured, name, "epochs_to_grid"), grid_epochs))
                gap = _median(_per_seed(measured, "grid", "best") - _per_seed(measured, name, "best"))
                found.append(Target(f"{name}: epochs to come within {TOLERANCE * 100:.1f} points of grid's best "
                                    "/ grid's epochs", ratio, 0.10, True,
                                    f"grid's best minus {name}'s best: {gap * 100:+.2f} points (median)"))
    return found


def claims(measured: pd.DataFrame, history: pd.DataFrame, metric: str = "val_accuracy",
           mode: str = "max") -> list[Claim]:
    """The course's four claims, and two of tunelab's own (tpe, tpe+hyperband), judged on the tunelab
    strategies of this study.

    - grid is wasteful: confirmed when another strategy comes within TOLERANCE of grid's best
      with at most half of grid's epochs (median over seeds of the per-seed ratio);
    - random helps, bayes and tpe beat grid and random, tpe+hyperband beats hyperband: compared
      on the median best; confirmed or not when the margin exceeds half the largest min-max spread
      across seeds, else inconclusive;
    - Hyperband 10-20x faster than bayes: per seed, bayes' time over Hyperband's time to the lower
      of their two bests (less TOLERANCE); confirmed at a median of 10x or more.
    """
    names = set(measured["name"])
    found = []

    def best(name: str) -> pd.Series:
        return _per_seed(measured, name, "best")

    def spread(*series: pd.Series) -> float:
        return max(float(s.max() - s.min()) for s in series)

    if "grid" in names:
        grid_epochs = _per_seed(measured, "grid", "epochs")
        cheaper = {}
        for name in ("random", "bayes", "tpe", "sha", "hyperband", "asha", "tpe+hyperband", "bayes+asha", "pbt"):
            if name in names:
                cheaper[name] = _median(_ratio(_per_seed(measured, name, "epochs_to_grid"), grid_epochs))
        fastest = min(cheaper, key=lambda n: cheaper[n]) if cheaper else None
        ratio = cheaper.get(fastest, math.inf) if fastest else math.nan
        verdict = "confirmed" if ratio <= 0.5 else "not confirmed"
        found.append(Claim(
            "Grid search is exhaustive but wasteful", verdict,
            f"grid trained {_median(grid_epochs):.0f} epochs for a best {metric} of {_median(best('grid')):.4f}; "
            + (f"{fastest} came within {TOLERANCE * 100:.1f} points of it after {ratio:.2f}x grid's epochs"
               if fastest and math.isfinite(ratio) else
               f"no other strategy came within {TOLERANCE * 100:.1f} points of it" if fastest else
               "no other strategy ran")))
    for claim, name, rivals in (
        ("Random search helps in large spaces", "random", ("grid",)),
        ("Bayesian optimization beats grid and random", "bayes", ("grid", "random")),
        ("TPE beats grid and random", "tpe", ("grid", "random")),
        ("Model-based Hyperband (TPE learning from every rung) beats Hyperband", "tpe+hyperband", ("hyperband",)),
    ):
        if name not in names or not set(rivals) <= names:
            continue
        mine = _median(best(name))
        theirs = {rival: _median(best(rival)) for rival in rivals}
        noise = spread(best(name), *(best(r) for r in rivals))
        margin = min(mine - value for value in theirs.values())
        if margin > 0 and margin > noise / 2:
            verdict = "confirmed"
        elif margin < 0 and -margin > noise / 2:
            verdict = "not confirmed"
        else:
            verdict = "inconclusive (within the spread across seeds)"
        versus = ", ".join(f"{rival} {value:.4f}" for rival, value in theirs.items())
        found.append(Claim(claim, verdict, f"median best {metric}: {name} {mine:.4f} vs {versus}; "
                                           f"largest spread across seeds {noise * 100:.2f} points"))
    if {"bayes", "hyperband"} <= names:
        ratios = []
        for seed in sorted(set(measured["seed"])):
            bayes_s, hyperband_s = _time_to_common_best(history, ("bayes", "hyperband"), seed, metric, mode)
            ratios.append(bayes_s / hyperband_s if hyperband_s else math.nan)
        speedup = _median(pd.Series(ratios, dtype="float64"))
        verdict = "confirmed" if speedup >= 10 else "not confirmed"
        found.append(Claim(
            "Hyperband can be 10-20x faster than Bayesian optimization", verdict,
            f"time to reach the lower of the two bests (less {TOLERANCE * 100:.1f} points), bayes / hyperband: "
            f"{speedup:.2f}x (median over seeds); wall time at equal epoch budgets, bayes / hyperband: "
            f"{_median(_ratio(_per_seed(measured, 'bayes', 'wall_s'), _per_seed(measured, 'hyperband', 'wall_s'))):.2f}"
            "x"))
    return found


def _time_to_common_best(history: pd.DataFrame, names: tuple[str, str], seed: int, metric: str,
                         mode: str) -> tuple[float, float]:
    """Each run's seconds to the lower of the two runs' bests (less TOLERANCE), for one seed."""
    rows = [history[(history["name"] == name) & (history["seed"] == seed)] for name in names]
    if any(r.empty for r in rows):
        return math.nan, math.nan
    bests = [best_value(r[metric], mode) for r in rows]
    target = max(bests) + TOLERANCE if mode == "min" else min(bests) - TOLERANCE
    first, second = (time_to_target(r, metric, mode, target)[0] for r in rows)
    return first, second


# --- markdown -----------------------------------------------------------------------------------


def markdown_targets(found: list[Target]) -> str:
    lines = ["| target | measured | aimed for | met | notes |", "|---|---|---|---|---|"]
    for target in found:
        met = {True: "yes", False: "**no**", None: "–"}[target.met]
        aim = f"{'≤' if target.below else '≥'} {target.threshold:g}"
        measured = "not measured" if _unknown(target.measured) else _fmt_ratio(target.measured)
        measured += f" ({target.source})" if target.source else ""
        lines.append(f"| {target.goal} | {measured} | {aim} | {met} | {target.detail} |")
    return "\n".join(lines)


def markdown_claims(found: list[Claim]) -> str:
    lines = ["| course claim | verdict | evidence |", "|---|---|---|"]
    lines += [f"| {c.claim} | {c.verdict} | {c.evidence} |" for c in found]
    return "\n".join(lines)


def _unknown(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt_ratio(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.3g}"
