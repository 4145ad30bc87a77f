"""The `tunelab` command: its help answers without importing Ray or TensorFlow, dry runs never start
TensorFlow, and it shares launch.py's and analyze.py's flags, messages and exit codes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
HEAVY = ("ray", "tensorflow", "keras", "pandas")

IMPORTED_AFTER = """
import sys
from tunelab.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("IMPORTED", sorted(m for m in {heavy!r} if m in sys.modules), "EXIT", code)
"""


def imported_after(*args: str, cwd: Path = ROOT) -> tuple[list[str], int, str]:
    """Which heavy libraries `tunelab ARGS` imported, its exit status, and what it printed."""
    done = subprocess.run([sys.executable, "-c", IMPORTED_AFTER.format(heavy=HEAVY), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    line = done.stdout.strip().splitlines()[-1]
    imported, code = line.removeprefix("IMPORTED ").split(" EXIT ")
    return eval(imported), int(code), done.stdout + done.stderr


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["analyze", "--help"],
                                  ["analyze", "export-model", "--help"]])
def test_help_imports_no_heavy_library(args):
    imported, code, out = imported_after(*args)
    assert code == 0 and "usage: tunelab" in out
    assert imported == []


def test_dry_run_plans_without_tensorflow(tmp_path):
    imported, code, out = imported_after("run", str(QUICKSTART), "--dry-run", "--storage", str(tmp_path))
    assert code == 0, out
    assert "trials: at most 12, epochs: at most 96 (8 per trial)" in out
    assert "tensorflow" not in imported and "keras" not in imported
    assert list(tmp_path.iterdir()) == []


def test_a_mistake_is_one_line_and_exit_2_as_in_launch_py(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tunelab", "run", str(QUICKSTART), "--set", "strategy.num_sample=3",
                           "--storage", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tunelab run: error: strategy.num_sample: not an option of strategy random; allowed: num_samples, seed, scheduler "
        "(did you mean 'num_samples'?)"]


def test_export_model_needs_a_keras_file_name(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tunelab", "analyze", "export-model", str(tmp_path), "-o",
                           str(tmp_path / "best.h5")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"tunelab analyze: error: {tmp_path / 'best.h5'}: the model file must end in .keras"


def test_no_module_imports_a_subpackage_by_its_bare_name():
    """`from experiments...` would work inside this checkout and nowhere else."""
    import re

    bare = re.compile(r"^\s*(from|import) (analysis|experiments|searchspaces|trainables)\b", re.MULTILINE)
    folders = ("analysis", "experiments", "searchspaces", "trainables", "tunelab", "scripts", "benchmarks", "tests")
    offenders = [str(path.relative_to(ROOT)) for folder in folders for path in (ROOT / folder).rglob("*.py")
                 if bare.search(path.read_text())]
    assert offenders == []


# --- the dry run's totals and its rungs count the same trials --------------------------------------

DRY_RUNS = [  # every scheduler, as a strategy and as a search's `scheduler:`, with trials that fill part of a plan
    ("digits_sha",), ("digits_sha", "strategy.num_samples=10"),
    ("digits_hyperband",), ("digits_hyperband", "strategy.num_samples=12"),
    ("digits_hyperband", "strategy.num_samples=20"), ("digits_hyperband", "strategy.num_samples=60"),
    ("digits_asha",), ("digits_asha", "strategy.brackets=3"), ("digits_asha", "strategy.grace_period=9"),
    ("digits_bayes_asha",), ("digits_random", "strategy.scheduler=asha"),
    ("digits_random", "strategy.scheduler=hyperband", "max_concurrent_trials=0", "epochs=9"),
    ("digits_grid", "strategy.scheduler={name: sha, reduction_factor: 4}", "max_concurrent_trials=0", "epochs=16"),
    ("digits_manual", "strategy.then={name: sha, num_samples: 9, seed: 0}", "max_concurrent_trials=0", "epochs=27"),
    ("digits_manual", "strategy.then={name: random, num_samples: 9, scheduler: hyperband}",
     "max_concurrent_trials=0", "epochs=9"),
    ("digits_pbt",), ("digits_tpe",), ("digits_tpe", "strategy.scheduler={name: asha, grace_period: 2}"),
]


def trained(line: str) -> tuple[int, int]:
    """(trials, epochs) of a rung line `epoch 1: 9, epoch 3: 3, epoch 9: 1`: each trains to its last rung."""
    import re

    rungs = [(int(epoch), int(count)) for epoch, count in re.findall(r"epoch (\d+): (\d+)", line)]
    epochs = sum(count * (epoch - earlier) for (epoch, count), (earlier, _) in zip(rungs, [(0, 0), *rungs]))
    return rungs[0][1], epochs


@pytest.mark.parametrize("case", DRY_RUNS, ids=[" ".join(case) for case in DRY_RUNS])
def test_the_dry_runs_totals_agree_with_its_rungs_and_brackets(case, tmp_path, capsys):
    """What was wrong: 12 Hyperband trials printed beside its 17-trial band, ASHA printed no rungs,
    and a manual start's scheduler counted only the search that followed it."""
    import re

    from tunelab.cli.run import main

    experiment, *overrides = case
    args = [experiment, "--dry-run", "--storage", str(tmp_path)]
    for override in overrides:
        args += ["--set", override]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    trials, epochs, per_trial = map(int, re.search(
        r"trials: at most (\d+), epochs: at most (\d+) \((\d+) per trial\)", out).groups())
    lines = out.splitlines()
    scheduler = next(line.split(":")[0].strip() for line in lines if re.match(r"  (sha|hyperband|asha|pbt):", line))
    if scheduler == "sha":
        line = next(line for line in lines if line.startswith("  sha:"))
        assert f"sha: {trials} configurations" in line and trained(line.split("at each rung:")[1]) == (trials, epochs)
    elif scheduler == "hyperband":
        assert f"hyperband: {trials} trials in" in out
        counted = [0, 0]
        for line in lines:
            if line.startswith("    ") and "from epoch" in line:  # a bracket: how many and how far its trials train
                bands = re.match(r"    bands 1-(\d+)", line)
                rungs = re.sub(r"^.*?from epoch \d+( \(\d+ of its \d+\))?: ", "", line)
                for k, value in enumerate(trained(rungs)):
                    counted[k] += value * (int(bands.group(1)) if bands else 1)
        assert counted == [trials, epochs], out
    elif scheduler == "asha":
        assert f"asha: {trials} trials" in out and epochs == trials * per_trial, out  # at most: none stopped
        assert re.search(rf"(each trial trains \d+ to|every trial trains all) {per_trial} epochs", out), out
        if "rungs at epochs" in out:  # every rung comes before the last epoch, each bracket's first is the least
            listed = re.sub(r"\(bracket \d+\)", "", out.split("rungs at epochs")[1].split("; a trial")[0])
            rungs = [int(rung) for rung in re.findall(r"\d+", listed)]
            assert rungs and max(rungs) < per_trial and f"trains {min(rungs)} to {per_trial}" in out, out
    else:
        assert f"pbt: population {trials};" in out and epochs == trials * per_trial, out


def test_an_interrupted_runs_closing_block_says_so_with_the_trials_finished_of_those_planned(capsys):
    """It used to read "6 trials in 84s (0 errored)" and "best configuration", as if done, with 4 of 12 finished."""
    import signal
    from types import SimpleNamespace

    from tunelab.cli.run import print_outcome
    from tunelab.experiments.run.runner import Outcome

    prepared = SimpleNamespace(spec=SimpleNamespace(metric="val_accuracy", objectives=(), constraints=(),
                                                     tracking=SimpleNamespace(mlflow=None)),
                               name="qs")
    outcome = Outcome("/r/qs", 6, 0, "trial_ab", 0.95, {"units": 8}, 84.2, stop_signal=signal.SIGTERM, finished=4,
                      planned=12)
    print_outcome(outcome, prepared)
    out = capsys.readouterr().out
    assert out.splitlines()[1] == ("interrupted (SIGTERM) after 84s: 4 of 12 trials finished (0 errored); Ray saved "
                                   "the run, and the command below continues it")
    assert "best val_accuracy so far: 0.9500 (trial_ab)" in out and "best configuration so far:" in out
    assert "6 trials in" not in out


@pytest.mark.parametrize("errored, ended_well, status, message", [
    ((), 3, 0, None),
    (("trial_b",), 2, 1, "1 of 3 trials errored past their retries; what they printed and the traceback that ended "
                         "them:\n  RUN/trial_b/trial.log"),
    ((), 0, 1, "no trial completed (of 3 planned)"),
])
def test_the_exit_status_tells_whether_every_planned_trial_ended_well(tmp_path, capsys, errored, ended_well, status,
                                                                      message):
    """A run whose trials errored past their retries, or where none completed, is no success: exit 1, naming them."""
    import argparse

    from tunelab.cli.run import finish
    from tunelab.experiments.run.prepare import prepare
    from tunelab.experiments.run.runner import Outcome
    from tunelab.experiments.spec import spec_from_dict

    prepared = prepare(spec_from_dict({"name": "x", "trainable": "mlp", "data": "digits", "space": {"units_1": 8},
                                       "storage": str(tmp_path)}))
    outcome = Outcome("RUN", 3, len(errored), None, None, None, 9.0, planned=3, finished=3, ended_well=ended_well,
                      errored_trials=errored)
    args = argparse.Namespace(experiment="x.yaml", storage=None, address=None, overrides=[])
    assert finish(outcome, prepared, args, "tunelab run") == status
    err = capsys.readouterr().err
    assert (f"tunelab run: error: {message}" in err) if message else err == ""
