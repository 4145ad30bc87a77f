"""notebooks/analysis.ipynb runs top to bottom against a fresh tiny experiment."""
from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analysis.ipynb"


def test_notebook_shows_the_frames_and_every_plot(tiny_experiment, tiny_results, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' installs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' installs nbclient")
    monkeypatch.setenv("TUNELAB_RESULTS", str(tiny_experiment))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 6
    tables = "".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    for trial_id in tiny_results.trials["trial_id"]:
        assert trial_id in tables
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"{len(tiny_results.trials)} trials, objective val_accuracy (max)" in printed
