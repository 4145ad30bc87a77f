"""tunelab installed as a user installs it: `pip install -e .`, then an extra over it, with a new venv's own pip.

Without a pyproject.toml build system, pip 23 (what `python -m venv` brings on Python 3.11) installs
the second command with the legacy `setup.py develop`, which cannot map the top-level folders into
tunelab.*, and `tunelab.experiments` stops importing. The venv sees this environment's packages
(a path file), so nothing is downloaded; pip builds without isolation for the same reason.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_an_extra_installed_over_the_editable_install_keeps_tunelab_runnable(tmp_path):
    venv = tmp_path / "venv"
    made = _run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path)
    # this environment's packages, with those it sees through a path file of its own
    dependencies = [path for path in sys.path if path.endswith("site-packages")]
    (Path(site.stdout.strip()) / "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    importing = [str(python), "-c", "import tunelab.experiments, tunelab.analysis; print(tunelab.experiments.__file__)"]
    assert _run(importing, elsewhere).returncode != 0, "tunelab importable before it was installed: the test proves nothing"

    for target in (".", ".[mlflow]"):
        install = _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "-e", target], ROOT)
        assert install.returncode == 0, install.stderr[-2000:]

    imported = _run(importing, elsewhere)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert Path(imported.stdout.strip()) == ROOT / "experiments" / "__init__.py"
    dry_run = _run([str(venv / "bin" / "tunelab"), "run", "quickstart", "--dry-run"], elsewhere)
    assert dry_run.returncode == 0, dry_run.stderr[-2000:]
    assert "experiment quickstart: strategy random" in dry_run.stdout
