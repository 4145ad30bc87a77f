"""Which resume tunelab's record decides, on hand-made run folders (pure file logic; the real runs that
lose Ray's state are in tests/scripts/test_fault_matrix.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ray.tune.schedulers import ASHAScheduler

from tunelab.core.run_folder import EVENTS_FILE
from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.recorded import continue_from_record, recorded_run
from tunelab.experiments.searchers import ConfigSequenceSearcher
from tunelab.experiments.strategies import Plan

CONFIGS = [{"units": 8}, {"units": 16}, {"units": 32}]


def hand_made_run(folder: Path, state: str) -> Path:
    """Trial a completed (params.json lost: its result.json has the config), trial b started, Ray's state `state`."""
    for trial, config, epochs in (("a", CONFIGS[1], 2), ("b", CONFIGS[0], 1)):
        (folder / f"trial_{trial}").mkdir(parents=True)
        (folder / f"trial_{trial}" / "tunelab_history.jsonl").write_text(
            "".join(json.dumps({"epoch": epoch}) + "\n" for epoch in range(1, epochs + 1)))
        (folder / f"trial_{trial}" / "result.json").write_text(json.dumps({"epoch": 1, "config": config}) + "\n")
    (folder / "trial_b" / "params.json").write_text(json.dumps(CONFIGS[0]))
    (folder / EVENTS_FILE).write_text(json.dumps({"trial_id": "a", "event": "completed", "epoch": 2}) + "\n")
    (folder / "experiment_state-2026-12-01_12-00-00.json").write_text(state)
    return folder


def test_a_cut_state_continues_a_sequence_keeping_the_completed_trial(tmp_path):
    run = hand_made_run(tmp_path / "run", '{"trial_data": [["{\\"trial_id')
    plan = Plan(ConfigSequenceSearcher(CONFIGS), None, 3, 6)
    record = recorded_run(str(run), plan, 2)
    assert record.note() == ("Ray's experiment state is damaged (experiment_state-2026-12-01_12-00-00.json is cut "
                             "short or unreadable): 1 completed trial kept from tunelab's record; 1 unfinished "
                             "trial restarts; 2 planned trials run")
    continue_from_record(str(run), record, plan.searcher)
    assert sorted(path.name for path in run.glob("trial_*")) == ["trial_a"]
    assert len(list(run.glob(".unrecorded-unfinished-*/trial_b"))) == 1
    assert not list(run.glob("experiment_state-*"))  # set aside with the damaged snapshots
    assert [plan.searcher.suggest(t) for t in "xyz"] == [CONFIGS[0], CONFIGS[2], "FINISHED"]


def test_a_readable_state_or_no_completed_trial_leaves_the_resume_to_ray(tmp_path):
    plan = Plan(ConfigSequenceSearcher(CONFIGS), None, 3, 6)
    assert recorded_run(str(hand_made_run(tmp_path / "whole", '{"trial_data": []}')), plan, 2) is None
    nothing = hand_made_run(tmp_path / "none", "")
    (nothing / EVENTS_FILE).write_text("")
    assert recorded_run(str(nothing), plan, 3) is None  # no completion logged, and no history holds 3 epochs


def test_all_planned_trials_completed_is_complete_whatever_the_strategy(tmp_path):
    run = hand_made_run(tmp_path / "run", "")
    record = recorded_run(str(run), Plan(ConfigSequenceSearcher(CONFIGS), ASHAScheduler(), 1, 2), 2)
    assert record.complete and record.note().endswith("1 completed trial kept from tunelab's record; "
                                                      "nothing left to run")


def test_a_partly_finished_run_under_a_scheduler_is_refused_naming_what_is_kept(tmp_path):
    run = hand_made_run(tmp_path / "run", "")
    with pytest.raises(SpecError, match=r"^--resume: Ray's experiment state is damaged \(experiment_state-.*\): "
                                        r"1 completed trial kept from tunelab's record; this strategy's searcher "
                                        r"or scheduler state cannot be rebuilt from it, so the 2 trials left cannot run as planned"):
        recorded_run(str(run), Plan(ConfigSequenceSearcher(CONFIGS), ASHAScheduler(), 3, 6), 2)
    assert {"trial_a", "trial_b", "experiment_state-2026-12-01_12-00-00.json"} <= {p.name for p in run.iterdir()}


def test_a_trial_whose_history_holds_every_epoch_completed_though_the_full_disk_kept_its_event_out(tmp_path):
    run = hand_made_run(tmp_path / "run", '{"trial_data": [')
    (run / EVENTS_FILE).write_text("")  # the disk filled before the driver logged the completion
    plan = Plan(ConfigSequenceSearcher(CONFIGS), None, 3, 6)
    assert list(recorded_run(str(run), plan, 2).completed) == ["trial_a"]
