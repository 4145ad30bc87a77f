"""The launch and analyze scripts as a user runs them: subprocesses, exit codes, printed output."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tunelab.cli.run import main

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = str(ROOT / "experiments" / "quickstart.yaml")


def launch(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "launch.py"), *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "analyze.py"), *args], capture_output=True, text=True, timeout=120
    )


def test_help_shows_examples():
    result = launch("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "--address" in result.stdout and "--resume" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.yaml"], "missing.yaml: experiment file does not exist"),
        ([QUICKSTART, "--set", "strategy.num_sample=3"], "did you mean 'num_samples'?"),
        ([QUICKSTART, "--set", "strategy.name=randon"], "strategy.name: 'randon' is not a strategy"),
        ([QUICKSTART, "--set", "epochs=-1"], "epochs: must be >= 1, got -1"),
        ([QUICKSTART, "--set", "data=digitz"], "digitz"),
        ([QUICKSTART, "--set", "data=npz:/nonexistent/file.npz"], "/nonexistent/file.npz"),
        ([QUICKSTART, "--set", "space.units=3"], "--set space.units: space is not a mapping"),
        ([QUICKSTART, "--set", "resources.gpu=1.5"], "resources.gpu: above 1 it must be a whole number"),
        ([QUICKSTART, "--set", "strategy.name=grid", "--set", "strategy.num_samples=null"],
         "strategy.num_samples: not an option of strategy grid"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    """launch.py's `main` in this process (a subprocess each would start Python and import Ray each time)."""
    storage = tmp_path / "results"
    code = main([*args, "--storage", str(storage)], prog="launch.py")
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("launch.py: error: "), err
    assert message in lines[0]
    assert not storage.exists()


def test_bad_input_from_the_shell_exits_2_with_one_line_and_writes_nothing(tmp_path):
    storage = tmp_path / "results"
    result = launch(QUICKSTART, "--set", "data=npz:/nonexistent/file.npz", "--storage", str(storage))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("launch.py: error: data: ") and result.stderr.count("\n") == 1, result.stderr
    assert "/nonexistent/file.npz" in result.stderr and not storage.exists()


def test_dry_run_prints_counts_and_writes_nothing(tmp_path):
    storage = tmp_path / "results"
    result = launch(QUICKSTART, "--dry-run", "--storage", str(storage), "--set", "strategy.num_samples=5")
    assert result.returncode == 0, result.stderr
    assert "trials: at most 5, epochs: at most 40 (8 per trial)" in result.stdout
    assert not storage.exists()


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    storage = tmp_path_factory.mktemp("launch")
    result = launch(QUICKSTART, "--storage", str(storage), "--name", "qs",
                    "--set", "strategy.num_samples=2", "--set", "epochs=2")
    return result, storage / "qs"


def test_quickstart_prints_best_config_results_and_commands(quickstart_run):
    result, path = quickstart_run
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "best val_accuracy: " in out and "best configuration:" in out and '"learning_rate"' in out
    assert f"results: {path}" in out
    assert f"tunelab analyze tensorboard {path}" in out and f"tunelab analyze summary {path}" in out
    assert f"tunelab analyze export-model {path} -o best.keras" in out
    assert "2/2 trials done (2 completed), 0 running; 4/4 epochs" in out  # progress lines
    assert len(list(path.glob("trial_*/result.json"))) == 2


def test_rays_own_messages_go_to_the_run_log_not_the_terminal(quickstart_run):
    result, path = quickstart_run
    for noise in ("Configuration for experiment", "View detailed results here", "tensorboard --logdir",
                  "Token authentication"):
        assert noise not in result.stdout and noise not in result.stderr, noise
    log = (path / "tunelab_driver.log").read_text()
    assert "Configuration for experiment" in log and "tensorboard --logdir" in log


def test_resume_of_a_finished_run_says_so_and_starts_no_ray(quickstart_run):
    _, path = quickstart_run
    log = (path / "tunelab_driver.log").read_text()
    result = launch(QUICKSTART, "--resume", "--storage", str(path.parent), "--name", "qs",
                    "--set", "strategy.num_samples=2", "--set", "epochs=2")
    assert result.returncode == 0, result.stderr
    assert f"{path} is complete: all 2 planned trials finished; nothing to resume." in result.stdout
    assert "trials done" not in result.stdout and (path / "tunelab_driver.log").read_text() == log


def test_resume_of_a_finished_run_replays_it_into_an_mlflow_store_that_missed_it_all(quickstart_run, tmp_path):
    """A store down for the whole run (here: tracking added afterwards, a how-it-runs key a resume may change)
    gets every trial from the real run folder, ended, with every epoch; a second resume changes nothing."""
    mlflow = pytest.importorskip("mlflow")
    _, path = quickstart_run
    store = tmp_path / "mlflow.db"
    args = (QUICKSTART, "--resume", "--storage", str(path.parent), "--name", "qs", "--set", "strategy.num_samples=2",
            "--set", "epochs=2", "--set", f"tracking.mlflow=sqlite:///{store}")
    result = launch(*args)
    assert result.returncode == 0, result.stderr
    assert f"MLflow at sqlite:///{store}: 2 trial run(s) brought in step with the run folder" in result.stdout

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    runs = client.search_runs([client.get_experiment_by_name("qs").experiment_id])
    assert sorted((run.info.status, run.data.tags["stop_reason"]) for run in runs) == [("FINISHED", "completed")] * 2
    for run in runs:
        assert [point.step for point in client.get_metric_history(run.info.run_id, "val_accuracy")] == [1, 2]
        assert set(run.data.params) >= {"learning_rate"}
    again = launch(*args)
    assert f"MLflow at sqlite:///{store} holds every trial of the run" in again.stdout, again.stdout


def test_analyze_summary_and_export(quickstart_run, tmp_path):
    _, path = quickstart_run
    summary = analyze("summary", str(path))
    assert summary.returncode == 0, summary.stderr
    assert "2 trials (2 finished), metric val_accuracy (max)" in summary.stdout
    assert "val_accuracy_best" in summary.stdout and "learning_rate" in summary.stdout
    exported = analyze("export", str(path), "-o", str(tmp_path / "t.csv"), "--history", str(tmp_path / "h.csv"))
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "h.csv").read_text().splitlines()) == 1 + 2 * 2  # header + 2 trials x 2 epochs


def test_analyze_refuses_a_folder_without_trials(tmp_path):
    result = analyze("summary", str(tmp_path))
    assert result.returncode == 2 and "no trial folders" in result.stderr
