"""scripts/analyze.py as a user runs it: subprocesses, printed output, files written, exit codes."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tunelab.analysis.plots import PLOTS
from tests.analysis.helpers import EPOCHS, FAILING_UNITS, TRIALS

ROOT = Path(__file__).resolve().parents[2]


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "analyze.py"), *args], capture_output=True,
                          text=True, timeout=300)


def test_summary_prints_a_ranked_table(tiny_experiment, tiny_results):
    result = analyze("summary", str(tiny_experiment))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{TRIALS} trials ({TRIALS - 1} finished), metric val_accuracy (max)"
    assert lines[1] == f"ended: {TRIALS - 1} completed, 1 errored"
    assert lines[2].split()[:4] == ["trial_id", "stop_reason", "epochs", "val_accuracy_best"]
    assert lines[3].split()[0] == tiny_results.best_trial()["trial_id"]
    assert "<NA>" not in result.stdout
    failed = tiny_results.trials[tiny_results.trials["stop_reason"] == "errored"].iloc[0]
    assert lines[-1] == (f"errored: trial {failed['trial_id']}: {failed['error']}; its output: "
                         f"{tiny_experiment / ('trial_' + failed['trial_id']) / 'trial.log'}")


def test_logs_prints_a_trials_own_output_with_the_traceback_that_ended_it(tiny_experiment, tiny_results):
    assert tiny_results.trials["log"].notna().all()  # every trial wrote one, from its first line on
    failed = tiny_results.trials[tiny_results.trials["stop_reason"] == "errored"].iloc[0]
    result = analyze("logs", str(tiny_experiment), failed["trial_id"][:5])
    assert result.returncode == 0, result.stderr
    assert "Traceback (most recent call last)" in result.stdout
    assert f"ValueError: units_1={FAILING_UNITS} is refused by this test model" in result.stdout
    wrong = analyze("logs", str(tiny_experiment), "zzzz")
    assert wrong.returncode == 2 and "trial 'zzzz' is not a trial of these results" in wrong.stderr


def test_export_model_copies_the_best_epochs_model(tiny_experiment, tiny_results, tmp_path):
    result = analyze("export-model", str(tiny_experiment), "-o", str(tmp_path / "models" / "best.keras"))
    assert result.returncode == 0, result.stderr
    best = tiny_results.best_trial()
    checkpoint = tiny_results.best_checkpoint()
    assert (checkpoint.trial_id, checkpoint.epoch) == (best["trial_id"], best["best_epoch"])
    assert f"trial {best['trial_id']}, epoch {int(best['best_epoch'])}, val_accuracy " in result.stdout
    assert (tmp_path / "models" / "best.keras").read_bytes() == checkpoint.model_file.read_bytes()
    assert "still going" not in result.stdout


def test_export_model_on_a_live_run_says_the_model_is_the_best_so_far(tiny_experiment, tmp_path):
    from tunelab.experiments.run.lock import run_lock

    live = tmp_path / "live"
    shutil.copytree(tiny_experiment, live)
    with run_lock(str(live)):  # a driver holds the run: its trials still train
        result = analyze("export-model", str(live), "-o", str(tmp_path / "best.keras"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (f"note: the run is still going ({live}): this is the best model so "
                                              "far; export again once it ends")


def test_export_writes_csv_and_parquet(tiny_experiment, tmp_path):
    result = analyze("export", str(tiny_experiment), "-o", str(tmp_path / "t.parquet"),
                     "--history", str(tmp_path / "h.csv"))
    assert result.returncode == 0, result.stderr
    trials = pd.read_parquet(tmp_path / "t.parquet")
    assert len(trials) == TRIALS and "learning_rate" in trials and "stop_reason" in trials
    assert len(pd.read_csv(tmp_path / "h.csv")) == (TRIALS - 1) * EPOCHS


def test_plot_writes_every_png(tiny_experiment, tmp_path):
    result = analyze("plot", str(tiny_experiment), "-o", str(tmp_path / "plots"), "--x", "learning_rate",
                     "--y", "momentum")
    assert result.returncode == 0, result.stderr
    for name in PLOTS:
        path = tmp_path / "plots" / f"{name}.png"
        assert path.stat().st_size > 5_000 and str(path) in result.stdout


def test_report_of_two_experiments(tiny_experiment, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_experiment, tmp_path / "second")
    result = analyze("report", str(tiny_experiment), str(copy), "-o", str(tmp_path / "report.html"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "report.html").read_text()
    assert "tunelab report: tiny, second" in text and text.count('class="plotly-graph-div"') == len(PLOTS)


@pytest.mark.parametrize("args, message", [
    (["summary", "/nonexistent/results"], "/nonexistent/results: does not exist"),
    (["summary", "{tmp}"], "no trial folders"),
    (["plot", "{tiny}", "--x", "learning_rat"], "'learning_rat' is not a hyperparameter of these results; "),
    (["plot", "{tiny}", "--x", "learning_rat"], "(did you mean 'learning_rate'?)"),
    (["report", "{tiny}", "--metric", "val_acc"], "(did you mean 'val_accuracy'?)"),
    (["report", "{tiny}", "-o", "report.pdf"], "report.pdf: the report must end in .html"),
    (["export", "{tiny}", "-o", "trials.xlsx"], "trials.xlsx: output must end in .csv or .parquet"),
])
def test_bad_input_exits_2_with_one_line(tiny_experiment, tmp_path, args, message):
    result = analyze(*(a.format(tmp=tmp_path, tiny=tiny_experiment) for a in args))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("analyze.py: error: ") and message in lines[0]


def test_tensorboard_write_only(tiny_experiment, tmp_path):
    result = analyze("tensorboard", str(tiny_experiment), "--logdir", str(tmp_path / "tb"), "--write-only")
    assert result.returncode == 0, result.stderr
    assert f"for {TRIALS} trials" in result.stdout and len(list((tmp_path / "tb").iterdir())) == TRIALS + 1
