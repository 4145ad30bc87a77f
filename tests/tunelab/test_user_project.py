"""tunelab used from a user's own project, whose folders carry the names of tunelab's subpackages.

`analysis.py`, `experiments/` and `trainables/` are the most common names in ML repositories; the
user's must never shadow tunelab's, in the driver or in Ray's workers (which get the driver's
working directory on their path). The user's packages here fail on import, so any stray import
of a bare name fails the run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # real runs of several trials: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
TUNELAB = Path(sys.executable).with_name("tunelab")  # the console script `pip install -e .` installed

EVALUATE_BEST = """
import json, sys
import keras
import tunelab
from tunelab.trainables import load_dataset

results = tunelab.load(sys.argv[1])
spec = results.experiments[0].spec
data = load_dataset(spec["data"], validation_fraction=spec.get("validation_fraction", 0.2), seed=spec.get("seed", 0))
model = results.best_model()
scores = model.evaluate(data.x_val, keras.utils.to_categorical(data.y_val, data.num_classes), verbose=0,
                        return_dict=True)
print(json.dumps({"trials": len(results.trials), "recorded": float(results.best_trial()["val_accuracy_best"]),
                  "evaluated": scores["accuracy"]}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_project")
    (folder / "analysis.py").write_text("WHO = 'the user'\n")
    for package in ("experiments", "trainables"):
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text(f"raise ImportError('the user\\'s {package} was imported')\n")
    return folder


def test_tunelab_run_and_the_python_api_work_from_a_project_with_clashing_names(project, tmp_path):
    assert TUNELAB.exists(), "pip install -e . installs the tunelab command next to this Python"
    storage = tmp_path / "results"
    done = subprocess.run([str(TUNELAB), "run", str(QUICKSTART), "--storage", str(storage), "--name", "qs",
                           "--set", "strategy.num_samples=2", "--set", "epochs=2"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "2/2 trials done (2 completed)" in done.stdout

    api = subprocess.run([sys.executable, "-c", EVALUATE_BEST, str(storage / "qs")], cwd=project,
                         capture_output=True, text=True, timeout=300)
    assert api.returncode == 0, api.stderr[-3000:]
    found = json.loads(api.stdout.strip().splitlines()[-1])
    assert found["trials"] == 2
    assert found["evaluated"] == pytest.approx(found["recorded"], abs=1e-3)


def test_the_users_own_analysis_module_is_the_one_python_finds(project):
    done = subprocess.run([sys.executable, "-c", "import analysis; print(analysis.WHO)"], cwd=project,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "the user"


def test_only_tunelab_is_installed_at_top_level(tmp_path):
    code = ("import importlib.util, importlib.metadata as m; "
            "print(m.distribution('tunelab').read_text('top_level.txt').split(), "
            "[n for n in ('analysis', 'experiments', 'searchspaces', 'trainables', 'benchmarks', 'scripts') "
            "if importlib.util.find_spec(n)])")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['tunelab'] []"
