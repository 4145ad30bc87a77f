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
