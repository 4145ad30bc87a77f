"""benchmarks.overhead_targets on hand-made overhead.json contents, new and old: dated rows, graceful gaps."""
from __future__ import annotations

import math

import pytest

from benchmarks.verdicts import markdown_targets
from benchmarks.overhead_targets import overhead_targets

MACHINE = {"date": "2026-11-27 09:30 UTC", "cpu": "AMD EPYC", "cores": 2, "memory_gb": 23.5}


def memory(after: list[float], new_fields: bool = True) -> dict:
    record = {"trials": len(after), "epochs": 2, "after_mb": after, "first_mb": after[0], "last_mb": after[-1],
              "max_deviation": max(abs(a - after[0]) for a in after) / after[0]}
    if new_fields:
        record.update(fifth_mb=after[4], last_over_fifth=after[-1] / after[4])
    return record


def overhead(machine: dict | None = MACHINE, **memory_variants: dict) -> dict:
    result = {"trivial": {"trials": 1000, "concurrency": 2,
                          "tunelab": {"wall_s": 36.4, "fit_s": 33.0}, "ray": {"wall_s": 38.3, "fit_s": 35.0}},
              "memory": memory_variants}
    if machine is not None:
        result["machine"] = machine
    return result


def rows(found: list) -> dict:
    trivial, worker = found
    assert trivial.goal.startswith("1,000 trivial trials") and worker.goal.startswith("reused worker's host memory")
    return {"trivial": trivial, "memory": worker}


def test_each_row_says_which_run_measured_it_and_when():
    after = [800.0] * 4 + [900.0] * 45 + [927.0]
    found = rows(overhead_targets(overhead(tunelab=memory(after), no_onednn=memory([700.0] * 50)), MACHINE))
    assert found["trivial"].measured == pytest.approx(36.4) and found["trivial"].met is True
    assert found["trivial"].detail == "raw Ray Tune: 38.3 s"
    worker = found["memory"]
    assert worker.goal == "reused worker's host memory after trial 50 / after trial 5 (within 5 %)"
    assert worker.measured == pytest.approx(1.03) and worker.threshold == 1.05 and worker.met is True
    assert worker.detail == "900 → 927 MB; with oneDNN off: 1.000"
    for target in found.values():
        assert target.source == "from overhead.json of 2026-11-27 09:30 UTC, `benchmark.py overhead`"
    table = markdown_targets(list(found.values()))
    assert "| 36.4 (from overhead.json of 2026-11-27 09:30 UTC, `benchmark.py overhead`) | ≤ 60 | yes |" in table
    assert "| 1.03 (from overhead.json of 2026-11-27 09:30 UTC, `benchmark.py overhead`) | ≤ 1.05 | yes |" in table


def test_growth_past_five_percent_after_trial_5_is_not_met_whatever_trial_1_was():
    after = [600.0] + [800.0] * 48 + [850.0]  # +42% from trial 1, +6.25% from trial 5
    worker = rows(overhead_targets(overhead(tunelab=memory(after)), MACHINE))["memory"]
    assert worker.measured == pytest.approx(850 / 800) and worker.met is False


def test_an_undated_file_without_the_new_fields_gives_the_ratio_from_its_rss_list():
    after = [837.0, 840.0, 850.0, 860.0, 870.0] + [900.0] * 44 + [934.0]
    found = rows(overhead_targets(overhead(machine=None, tunelab=memory(after, new_fields=False)), MACHINE))
    assert found["memory"].measured == pytest.approx(934 / 870)
    assert found["memory"].source == "from an undated overhead.json, `benchmark.py overhead`"
    assert "(from an undated overhead.json" in markdown_targets(list(found.values()))


def test_a_file_without_the_memory_after_trial_5_says_not_measured():
    old = memory([837.0, 934.0], new_fields=False)  # fewer than 5 trials: nothing to compare with
    del old["after_mb"]
    for variants in ({"tunelab": old}, {}):
        worker = rows(overhead_targets(overhead(**variants), MACHINE))["memory"]
        assert math.isnan(worker.measured) and worker.met is None
        assert worker.detail == "this overhead.json has no memory after trial 5"
        table = markdown_targets([worker])
        assert "| not measured (from overhead.json of 2026-11-27 09:30 UTC, `benchmark.py overhead`) | ≤ 1.05 | – |" \
            in table


def test_without_overhead_json_both_rows_say_not_measured_and_how_to_measure():
    found = rows(overhead_targets(None, MACHINE))
    for target in found.values():
        assert math.isnan(target.measured) and target.met is None and not target.source
        assert "`benchmark.py overhead` --out" in target.detail
    assert markdown_targets(list(found.values())).count("| not measured |") == 2


def test_another_machine_is_named_and_fewer_trials_are_scaled():
    other = {**MACHINE, "cpu": "Intel Xeon", "cores": 16}
    result = overhead(other, tunelab=memory([800.0] * 20))
    result["trivial"] = {"trials": 200, "tunelab": {"wall_s": 12.0, "fit_s": 8.0}, "ray": {"wall_s": 13.0, "fit_s": 9.0}}
    found = rows(overhead_targets(result, MACHINE))
    assert found["trivial"].source.endswith(", on another machine: Intel Xeon, 16 cores")
    assert found["trivial"].measured == pytest.approx(4.0 + 8.0 * 5)
    assert "(measured with 200: start-up + fitting time x 1000/200)" in found["trivial"].goal
    assert found["memory"].goal.startswith("reused worker's host memory after trial 20 / after trial 5")
    assert "over 20 trials, the goal is stated for 50" in found["memory"].detail
