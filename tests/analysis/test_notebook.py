"""notebooks/analysis.ipynb runs top to bottom against a fresh tiny experiment, and from any directory
with no results named."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunelab.analysis.examples import SHIPPED, example_results, shipped_example

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "analysis.ipynb"


def execute(cwd: Path) -> list:
    """The notebook run with its kernel in `cwd`; every code cell's outputs, none of them an error."""
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' installs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' installs nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], [o for o in outputs if o.output_type == "error"]
    return outputs


def printed(outputs: list) -> str:
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


def test_notebook_shows_the_frames_and_every_plot(tiny_experiment, tiny_results, monkeypatch):
    monkeypatch.setenv("TUNELAB_RESULTS", str(tiny_experiment))
    outputs = execute(NOTEBOOK.parent)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 6
    tables = "".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    for trial_id in tiny_results.trials["trial_id"]:
        assert trial_id in tables
    assert f"{len(tiny_results.trials)} trials, objective val_accuracy (max)" in printed(outputs)


def test_notebook_run_from_elsewhere_without_results_shows_the_shipped_run(tmp_path, monkeypatch):
    """It used to look for docs/ under the kernel's directory and fail outside the checkout."""
    monkeypatch.delenv("TUNELAB_RESULTS", raising=False)
    text = printed(execute(tmp_path))
    assert f"showing the quickstart run shipped with tunelab ({ROOT / SHIPPED})" in text, text
    assert "12 trials, objective val_accuracy (max)" in text, text


def test_the_default_results_are_named_then_shipped(tmp_path):
    named = {"TUNELAB_RESULTS": os.pathsep.join(["/a/run", "/b/run"])}
    assert example_results(named) == (["/a/run", "/b/run"], "$TUNELAB_RESULTS")
    assert shipped_example(cwd=tmp_path) == ROOT / SHIPPED  # found from tunelab's own place, not the directory
    assert example_results({}) == ([str(ROOT / SHIPPED)], f"the quickstart run shipped with tunelab ({ROOT / SHIPPED})")
