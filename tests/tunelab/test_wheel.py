"""A wheel of tunelab, as a plain `pip install .` would build it: one top-level package, all of it inside.

The editable install resolves `tunelab.*` from the checkout, so only a built wheel shows what a
non-editable install would miss (a subpackage left out of setup.py, the experiment YAMLs).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_tunelab_only_and_every_part_of_it(tmp_path):
    # From a copy: setuptools' build/ folder in the checkout could carry files since removed.
    source = shutil.copytree(ROOT, tmp_path / "source", ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "docs", "tests", "notebooks"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                            "--wheel-dir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("tunelab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"tunelab", wheel.name.split("-py")[0] + ".dist-info"}
    for folder in ("analysis", "experiments", "searchspaces", "trainables", "cli"):
        assert f"tunelab/{folder}/__init__.py" in names
    assert {"tunelab/keras_tuner/tuners.py", "tunelab/searchspaces/catalog/mlp.py",
            "tunelab/experiments/quickstart.yaml", "tunelab/keras_tuner/__init__.py", "tunelab/core/run_folder.py",
            "tunelab/experiments/schedulers/sha.py", "tunelab/experiments/searchers/bayes.py",
            "tunelab/analysis/plots/curves.py", "tunelab/experiments/run/runner.py", "tunelab/trainables/data/base.py",
            "tunelab/keras_tuner/trainable.py"} <= set(names)
    assert not [name for name in names if "benchmark" in name or name.startswith("tunelab/tests")]
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "tunelab = tunelab.cli:main" in entry_points
