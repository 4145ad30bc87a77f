"""analysis.load against what the trials of a real run reported, and on synthetic runs Ray would take long to make."""
from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.synthetic import write_synthetic_results
from tests.analysis.helpers import EPOCHS, FAILING_UNITS, TRIALS, HandMadeRun, reported
from tunelab.analysis import ResultsError, load
from tunelab.analysis.load import HISTORY_COLUMNS, TRIAL_COLUMNS
from tunelab.analysis.results import DamagedResultsWarning
from tunelab.analysis.summary import headline, ranked_trials

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
PARAMS = ("num_layers", "units_1", "units_2", "optimizer", "momentum", "learning_rate", "dropout")


def test_trials_frame_has_one_row_per_trial_with_every_column(tiny_results):
    trials = tiny_results.trials
    assert len(trials) == TRIALS and trials["trial_id"].is_unique
    assert list(trials.columns[: len(TRIAL_COLUMNS)]) == list(TRIAL_COLUMNS)
    assert tiny_results.params == PARAMS  # in the order the space declares them
    assert set(tiny_results.metrics) == set(METRICS)
    for metric in METRICS:
        assert f"{metric}_best" in trials and f"{metric}_last" in trials
    assert (tiny_results.metric, tiny_results.mode, tiny_results.objective) == ("val_accuracy", "max",
                                                                                "val_accuracy_best")
    assert tiny_results.log_params == {"units_1", "units_2", "learning_rate"}
    assert set(trials["experiment"]) == {"tiny"}


def test_trial_values_match_what_each_trial_reported(tiny_experiment, tiny_results):
    trials = tiny_results.trials.set_index("trial_id")
    on_disk = reported(tiny_experiment)
    assert set(on_disk) == set(trials.index)
    for trial_id, (config, reports) in on_disk.items():
        row = trials.loc[trial_id]
        for name in PARAMS:  # every hyperparameter its own column; inactive ones empty
            if name in config:
                assert row[name] == config[name], name
            else:
                assert pd.isna(row[name]), name
        if config["units_1"] == FAILING_UNITS:
            continue
        assert row["epochs"] == EPOCHS == len(reports)
        for metric in METRICS:
            values = [r[metric] for r in reports]
            best = min(values) if "loss" in metric else max(values)
            assert row[f"{metric}_best"] == pytest.approx(best) and row[f"{metric}_last"] == pytest.approx(values[-1])
        assert row["best_epoch"] == 1 + [r["val_accuracy"] for r in reports].index(row["val_accuracy_best"])
        assert row["wall_s"] == pytest.approx(reports[-1]["time_total_s"])
        assert row["start"] < row["end"]
        assert (row["end"] - row["start"]).total_seconds() == pytest.approx(reports[-1]["time_total_s"], abs=1.5)
        assert (row["status"], row["stop_reason"], row["failures"]) == ("TERMINATED", "completed", 0)


def test_conditional_params_are_empty_where_inactive_and_keep_their_type(tiny_results):
    trials = tiny_results.trials
    assert str(trials["units_1"].dtype) == "Int64" and str(trials["num_layers"].dtype) == "Int64"
    assert trials["learning_rate"].dtype == "float64"
    assert (trials["momentum"].isna() == (trials["optimizer"] != "sgd")).all()
    assert (trials["units_2"].isna() == (trials["num_layers"] < 2)).all()
    assert (trials["dropout"] == 0.0).all()  # a fixed parameter is a column too


def test_errored_trial_has_its_error_and_no_epochs(tiny_results):
    errored = tiny_results.trials[tiny_results.trials["units_1"] == FAILING_UNITS].iloc[0]
    assert (errored["status"], errored["stop_reason"], errored["epochs"]) == ("ERROR", "errored", 0)
    assert "refused by this test model" in errored["error"] and errored["error"] == errored["stop_detail"]
    assert math.isnan(errored["val_accuracy_best"])
    assert errored["trial_id"] not in set(tiny_results.history["trial_id"])


def test_history_has_one_row_per_trial_and_epoch_with_every_metric(tiny_experiment, tiny_results):
    history = tiny_results.history
    assert list(history.columns) == [*HISTORY_COLUMNS[:3], *tiny_results.metrics, *HISTORY_COLUMNS[3:]]
    for trial_id, (_, reports) in reported(tiny_experiment).items():
        rows = history[history["trial_id"] == trial_id]
        assert rows["epoch"].tolist() == [r["epoch"] for r in reports]
        for metric in METRICS:
            assert rows[metric].tolist() == pytest.approx([r[metric] for r in reports])
        # Wall-clock epoch ends: within Ray's whole-second timestamps, and in order.
        stamps = [r["timestamp"] for r in reports]
        assert all(s <= t < s + 1 for s, t in zip(stamps, rows["time"])), (stamps, rows["time"].tolist())
        assert rows["time"].is_monotonic_increasing and rows["worker"].str.contains(":").all()
    assert len(history) == (TRIALS - 1) * EPOCHS


def test_best_trial_and_its_config(tiny_results):
    best = tiny_results.best_trial()
    assert best["val_accuracy_best"] == tiny_results.trials["val_accuracy_best"].max()
    config = tiny_results.config(best)
    assert set(config) <= set(PARAMS) and "learning_rate" in config
    assert all(not isinstance(v, float) or not math.isnan(v) for v in config.values())
    assert json.dumps(config)  # plain Python values


def test_several_directories_at_once(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "copied" / "tiny")
    results = load([tiny_experiment, copy])
    names = sorted(set(results.trials["experiment"]))
    assert len(names) == 2 and all(name.endswith("/tiny") for name in names)  # same folder name: parent/name
    assert len(results.trials) == 2 * TRIALS and len(results.history) == 2 * (TRIALS - 1) * EPOCHS
    assert [e.name for e in results.experiments] == list(dict.fromkeys(results.trials["experiment"]))


def test_copied_results_without_ray_state_or_events_fall_back_to_files(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "partial")
    for path in [*copy.glob("experiment_state-*.json"), copy / "tunelab_trial_events.jsonl"]:
        path.unlink()
    (copy / "tunelab_experiment.yaml").unlink()
    results = load(copy)
    original = load(tiny_experiment)
    reasons = dict(zip(results.trials["trial_id"], results.trials["stop_reason"]))
    assert reasons == dict(zip(original.trials["trial_id"], original.trials["stop_reason"]))
    assert results.metric is None and results.log_params == frozenset()


def test_a_running_experiment_reads_its_partial_files(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "running")
    state = next(copy.glob("experiment_state-*.json"))
    data = json.loads(state.read_text())
    trial = json.loads(data["trial_data"][0][0])
    trial["status"] = "RUNNING"
    data["trial_data"][0][0] = json.dumps(trial)
    state.write_text(json.dumps(data))
    events = copy / "tunelab_trial_events.jsonl"
    events.write_text("".join(line + "\n" for line in events.read_text().splitlines()
                              if json.loads(line)["trial_id"] != trial["trial_id"]))
    for name in ("tunelab_history.jsonl", "result.json"):  # every record is mid-write while a trial runs
        record = copy / trial["relative_logdir"] / name
        lines = record.read_text().splitlines()
        record.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # a line cut short mid-write
    progress = copy / trial["relative_logdir"] / "progress.csv"
    progress.write_text("\n".join(progress.read_text().splitlines()[:2]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a line being written is no damage
        row = load(copy).trials.set_index("trial_id").loc[trial["trial_id"]]
    assert (row["status"], row["stop_reason"]) == ("RUNNING", "running")
    assert row["epochs"] == 1 and row["damage"] is None


def test_stop_reasons_pauses_and_errors_from_the_events_file(tmp_path):
    written = write_synthetic_results(tmp_path / "synthetic", trials=40, epochs=9, seed=3)
    results = load(tmp_path / "synthetic")
    trials = results.trials.set_index("trial_id")
    assert len(trials) == 40 and set(trials.index) == {t.trial_id for t in written}
    for trial in written:
        row = trials.loc[trial.trial_id]
        assert row["stop_reason"] == trial.outcome, trial
        assert row["epochs"] == trial.epochs and row["pauses"] == trial.pauses + (trial.outcome == "paused")
        if trial.epochs:
            assert row["val_accuracy_best"] == pytest.approx(max(trial.val_accuracy))
            assert row["val_accuracy_last"] == pytest.approx(trial.val_accuracy[-1])
    stopped = trials[trials["stop_reason"] == "stopped"].iloc[0]
    assert stopped["stop_detail"].startswith(f"epoch {stopped['epochs']}, rung ") and "cutoff 0.5" in stopped["stop_detail"]
    errored = trials[trials["stop_reason"] == "errored"].iloc[0]
    assert errored["epochs"] > 0 and "synthetic failure" in errored["error"] and errored["failures"] == 1
    pending = trials[trials["stop_reason"] == "pending"].iloc[0]
    assert pending["epochs"] == 0 and pd.isna(pending["path"])  # listed by Ray's state only
    resumed = trials[trials["resumes"] == 1].iloc[0]
    assert resumed["stop_reason"] == "completed" and resumed["epochs"] == 9
    assert len(results.history) == sum(t.epochs for t in written)


def test_a_trial_rays_state_does_not_list_yet_runs_while_the_run_is_live(tmp_path):
    run = HandMadeRun(tmp_path / "live", epochs=3)
    for trial_id in "abc":
        run.start(trial_id)
    run.report("a", 1, 0.5)
    run.report("b", 1, 0.5)
    run.end("b", "stopped")

    def statuses() -> dict[str, tuple[str, str]]:
        trials = load(run.path).trials
        return {t: (s, r) for t, s, r in zip(trials["trial_id"], trials["status"], trials["stop_reason"])}

    assert load(run.path).experiments[0].live
    assert statuses() == {"a": ("RUNNING", "running"), "b": ("TERMINATED", "stopped"), "c": ("RUNNING", "running")}
    run.finish()  # a driver gone without Ray's last snapshot: the files decide, as for a copied folder
    assert not load(run.path).experiments[0].live
    assert statuses() == {"a": ("TERMINATED", "stopped"), "b": ("TERMINATED", "stopped"), "c": ("PENDING", "pending")}


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "does not exist"),
    (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt", "not a directory"),
    (lambda tmp: tmp, "no trial folders"),
])
def test_bad_paths_raise_results_error(tmp_path, make, message):
    with pytest.raises(ResultsError, match=message):
        load(make(tmp_path))


def test_an_experiment_stopped_early_says_why(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "stopped")
    with (copy / "tunelab_trial_events.jsonl").open("a") as events:
        events.write(json.dumps({"trial_id": "", "event": "experiment_stopped", "time": 0.0,
                                 "reason": "5 trials in a row failed", "bad_input": False}) + "\n")
    (experiment,) = load(copy).experiments
    assert experiment.stopped == "5 trials in a row failed"
    assert load(tiny_experiment).experiments[0].stopped is None


def test_a_path_under_the_home_folder_may_start_with_a_tilde(tiny_experiment, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(tiny_experiment, tmp_path / "tunelab_results" / "tiny")
    assert len(load("~/tunelab_results/tiny").trials) == TRIALS


def finished_trial(copy):
    """A trial of the copied tiny experiment that completed every epoch, and its folder."""
    results = load(copy)
    row = results.trials[results.trials["stop_reason"] == "completed"].iloc[0]
    return row, copy / Path(row["path"]).name


def test_a_cut_history_is_read_from_rays_intact_records_and_named(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "damaged")
    row, folder = finished_trial(copy)
    history = folder / "tunelab_history.jsonl"
    lines = history.read_text().splitlines()
    history.write_text(lines[0] + "\n" + lines[1][:20])  # a crash, then a copy that kept the damage

    with pytest.warns(DamagedResultsWarning, match=rf"trial {row['trial_id']}: tunelab_history.jsonl: "
                                                   r"1 line cut short; 1 epochs; read result.json \(3 epochs\)"):
        damaged = load(copy)
    again = damaged.trials.set_index("trial_id").loc[row["trial_id"]]
    assert again["epochs"] == EPOCHS and again["val_accuracy_best"] == row["val_accuracy_best"]
    assert again["damage"].startswith("tunelab_history.jsonl: 1 line cut short")


def test_without_tunelabs_history_a_truncated_result_json_falls_back_to_progress_csv(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "old")
    row, folder = finished_trial(copy)
    for history in copy.glob("trial_*/tunelab_history.jsonl"):
        history.unlink()  # a run from before tunelab kept its own history
    result = folder / "result.json"
    result.write_text(result.read_text().splitlines()[0] + "\n")

    with pytest.warns(DamagedResultsWarning, match=r"result.json: 1 epochs; read progress.csv \(3 epochs\)"):
        again = load(copy).trials.set_index("trial_id").loc[row["trial_id"]]
    assert again["epochs"] == EPOCHS
    assert again["val_accuracy_best"] == pytest.approx(row["val_accuracy_best"])


def test_a_lost_params_json_keeps_the_history_and_takes_the_config_from_rays_state(tiny_experiment, tmp_path):
    copy = shutil.copytree(tiny_experiment, tmp_path / "lost")
    row, folder = finished_trial(copy)
    (folder / "params.json").unlink()

    with pytest.warns(DamagedResultsWarning, match="params.json: missing or unreadable"):
        results = load(copy)
    again = results.trials.set_index("trial_id").loc[row["trial_id"]]
    assert again["epochs"] == EPOCHS and again["learning_rate"] == row["learning_rate"]
    assert "damaged: 1 trial, read from their intact records" in headline(results)
    assert "damage" in ranked_trials(results).columns


def test_a_lost_params_json_and_a_lost_ray_state_take_the_config_from_result_json_with_a_warning(tmp_path):
    """The shipped quickstart run has no Ray state: a trial without params.json gets its result.json's config."""
    copy = shutil.copytree(Path(__file__).resolve().parents[2] / "docs" / "example_results" / "quickstart",
                           tmp_path / "quickstart")
    folder = sorted(copy.glob("trial_*"))[3]
    config = json.loads((folder / "params.json").read_text())
    (folder / "params.json").unlink()
    trial_id = folder.name.removeprefix("trial_")

    with pytest.warns(DamagedResultsWarning, match=rf"trial {trial_id}: params.json: missing or unreadable; "
                                                   r"the configuration comes from result.json"):
        trials = load(copy).trials.set_index("trial_id")
    assert config and {name: trials.loc[trial_id, name] for name in config} == pytest.approx(config)
