"""The driver's HistoryLog: a trial's params.json as soon as it starts, its history line per report."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from tunelab.core.run_folder import HISTORY_FILE, PARAMS_FILE
from tunelab.experiments.run.history import HistoryLog


def test_a_starting_trial_gets_its_params_json_in_rays_format(tmp_path):
    config = {"units_1": np.int64(32), "optimizer": "adam", "learning_rate": 0.01}
    trial = SimpleNamespace(trial_id="0a1b2c3d", config=config)
    HistoryLog(str(tmp_path)).on_trial_start(1, [trial], trial)
    params = tmp_path / "trial_0a1b2c3d" / PARAMS_FILE
    assert params.read_text() == json.dumps({"learning_rate": 0.01, "optimizer": "adam", "units_1": 32},
                                            indent=2, sort_keys=True)
    assert [p.name for p in params.parent.iterdir()] == [PARAMS_FILE]  # no temporary file left


def test_an_existing_params_json_is_kept_and_uri_storage_is_left_alone(tmp_path):
    trial = SimpleNamespace(trial_id="0a1b2c3d", config={"units_1": 8})
    params = tmp_path / "trial_0a1b2c3d" / PARAMS_FILE
    params.parent.mkdir()
    params.write_text('{"units_1": 16}')  # Ray's copy, or ours from the trial's first start
    HistoryLog(str(tmp_path)).on_trial_start(1, [trial], trial)
    assert params.read_text() == '{"units_1": 16}'
    HistoryLog("s3://bucket/run").on_trial_start(1, [trial], trial)  # writes nothing anywhere, raises nothing


def test_each_report_is_appended_without_its_config(tmp_path):
    trial = SimpleNamespace(trial_id="0a1b2c3d", config={"units_1": 8})
    log = HistoryLog(str(tmp_path))
    for epoch in (1, 2):
        log.on_trial_result(epoch, [trial], trial, {"epoch": epoch, "val_accuracy": 0.5, "config": {"units_1": 8}})
    lines = (tmp_path / "trial_0a1b2c3d" / HISTORY_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"epoch": epoch, "val_accuracy": 0.5} for epoch in (1, 2)]


def test_a_trial_folder_made_as_the_run_ended_gets_its_params_json_and_no_folder_is_made(tmp_path):
    """ASHA under an epoch budget: Ray starts a last trial whose worker writes its log as the budget
    runs out; the driver never saw it start. A trial that never got a folder gets none."""
    started = SimpleNamespace(trial_id="0a1b2c3d", config={"units_1": 8})
    never = SimpleNamespace(trial_id="4e5f6a7b", config={"units_1": 16})
    (tmp_path / "trial_0a1b2c3d").mkdir()
    (tmp_path / "trial_0a1b2c3d" / "trial.log").write_text("")
    HistoryLog(str(tmp_path)).on_experiment_end([started, never])
    assert json.loads((tmp_path / "trial_0a1b2c3d" / PARAMS_FILE).read_text()) == {"units_1": 8}
    assert not (tmp_path / "trial_4e5f6a7b").exists()
    HistoryLog("s3://bucket/run").on_experiment_end([started])  # writes nothing anywhere, raises nothing
