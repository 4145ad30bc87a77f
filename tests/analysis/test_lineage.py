"""PBT lineages read back from the event log: whom each trial took over, and each final model's schedule.

A hand-written run folder of three trials stands for a PBT run: b takes over a at epoch 2, then c
takes over b at epoch 4; a trained on alone, so the lineage of c's final model is a, b, then c.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tunelab.analysis import load
from tunelab.analysis.interactive import lineage_figure
from tunelab.analysis.lineage import copied_from, lineage
from tunelab.analysis.plots import lineage_data, png_bytes, render_lineage
from tunelab.core.run_folder import EVENTS_FILE, HISTORY_FILE, PARAMS_FILE, SPEC_FILE, trial_folder_name

SPACE = {"units_1": 16, "num_layers": 1, "learning_rate": {"type": "float", "low": 1.0e-4, "high": 0.1, "log": True}}
FINAL = {"a": 0.90, "b": 0.95, "c": 0.97}
EXPLOITS = [  # (trial, donor, epoch, old learning rate, new learning rate)
    ("b", "a", 2, 0.001, 0.012),
    ("c", "b", 4, 0.0005, 0.0096),
]


def exploit(trial: str, donor: str, epoch: int, old: float, new: float, time: float) -> dict:
    return {"trial_id": trial, "event": "exploited", "time": time, "epoch": epoch, "donor": donor,
            "old": {"learning_rate": old}, "donor_values": {"learning_rate": new / 1.2},
            "new": {"learning_rate": new}, "explore": {"learning_rate": "*1.2"}}


@pytest.fixture(scope="module")
def pbt_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lineage") / "pbt"
    folder.mkdir()
    (folder / SPEC_FILE).write_text(yaml.safe_dump({
        "name": "pbt", "trainable": "mlp", "data": "digits", "epochs": 6, "space": SPACE,
        "strategy": {"name": "pbt", "population": 3, "perturbation_interval": 2}}))
    last_lr = {"a": 0.01, "b": 0.012, "c": 0.0096}  # params.json holds the configuration a trial ended with
    for trial, lr in last_lr.items():
        trial_folder = folder / trial_folder_name(trial)
        trial_folder.mkdir()
        (trial_folder / PARAMS_FILE).write_text(json.dumps({"units_1": 16, "num_layers": 1, "learning_rate": lr}))
        lines = [{"trial_id": trial, "epoch": epoch, "val_accuracy": FINAL[trial] - 0.1 * (6 - epoch) / 6,
                  "time_total_s": float(epoch), "timestamp": 1000 + epoch} for epoch in range(1, 7)]
        (trial_folder / HISTORY_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))
    events = [{"trial_id": "", "event": "population", "time": 1.0, "perturb": ["learning_rate"],
               "perturbation_interval": 2}]
    events += [exploit(*fields, time=10.0 * number) for number, fields in enumerate(EXPLOITS, start=1)]
    events += [{"trial_id": trial, "event": "completed", "time": 100.0, "epoch": 6} for trial in FINAL]
    (folder / EVENTS_FILE).write_text("".join(json.dumps(event) + "\n" for event in events))
    return folder


def test_the_trials_frame_says_whom_each_trial_took_over(pbt_run):
    trials = load(pbt_run).trials.set_index("trial_id")
    assert trials.loc["b", "copied_from"] == "a at epoch 2" and trials.loc["c", "copied_from"] == "b at epoch 4"
    assert pd.isna(trials.loc["a", "copied_from"])
    assert copied_from([exploit("c", "b", 4, 0.1, 0.2, 1.0), exploit("c", "a", 8, 0.2, 0.3, 2.0)]) == (
        "b at epoch 4; a at epoch 8")


def test_a_final_models_lineage_goes_back_through_every_trial_it_took_over(pbt_run):
    exploits = {trial: [exploit(trial, donor, epoch, old, new, 10.0 * number)]
                for number, (trial, donor, epoch, old, new) in enumerate(EXPLOITS, start=1)}
    initial = {"a": {"learning_rate": 0.01}}
    epochs = lineage("c", 6, exploits, initial)
    assert [epoch.trained_by for epoch in epochs] == ["a", "a", "b", "b", "c", "c"]
    assert [epoch.values["learning_rate"] for epoch in epochs] == [0.01, 0.01, 0.012, 0.012, 0.0096, 0.0096]
    # A trial that took b over before b's own exploit trained on with b's values from before it: its `old` ones.
    early = {**exploits, "d": [exploit("d", "b", 1, 0.05, 0.06, 5.0)]}
    assert [(epoch.trained_by, epoch.values["learning_rate"]) for epoch in lineage("d", 2, early, initial)] == [
        ("b", 0.001), ("d", 0.06)]


def test_lineage_data_draws_every_surviving_trial_and_marks_the_best(pbt_run):
    data = lineage_data(load(pbt_run))
    assert data.message is None and data.params == ["learning_rate"] and data.log_params == {"learning_rate"}
    by_trial = {item.trial_id: item for item in data.lineages}
    assert by_trial["c"].values["learning_rate"] == [0.01, 0.01, 0.012, 0.012, 0.0096, 0.0096]
    assert by_trial["a"].trained_by == ["a"] * 6 and by_trial["c"].final == pytest.approx(0.97)
    assert data.best("pbt").trial_id == "c"
    assert png_bytes(render_lineage(data)).startswith(b"\x89PNG")
    figure = lineage_figure(data)
    assert len([trace for trace in figure.data if trace.mode == "lines"]) == 3
    assert "best final model: c" in figure.layout.annotations[0].text
