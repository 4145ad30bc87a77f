"""Which results to show when none are named (notebooks/analysis.ipynb's default), from any directory.

The notebook used to look for docs/example_results/quickstart under the current directory, so run
from anywhere but the checkout's top or its notebooks/ folder it failed on a path the user never
named. The shipped run is found from where tunelab itself lies instead (an editable install runs
from the checkout); a wheel carries no docs/, and there a small quickstart run is made, and said so.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping

from tunelab.core.run_folder import SPEC_FILE

RESULTS_VARIABLE = "TUNELAB_RESULTS"  # folders to show, separated by os.pathsep
SHIPPED = Path("docs", "example_results", "quickstart")
SMALL_RUN = {"strategy.num_samples": 3, "epochs": 2}  # a minute or so, Ray's start-up included


def shipped_example(cwd: Path | None = None) -> Path | None:
    """The quickstart run shipped in docs/: in the checkout tunelab runs from, else under `cwd` or its
    parent (a checkout installed without -e); None where there is none (tunelab from a wheel)."""
    here = Path.cwd() if cwd is None else cwd
    checkout = Path(__file__).resolve().parents[1]  # analysis/ lies at the top of the checkout
    for root in (checkout, here, here.parent):
        if (root / SHIPPED / SPEC_FILE).is_file():
            return root / SHIPPED
    return None


def example_results(environ: Mapping[str, str] | None = None) -> tuple[list[str], str]:
    """(results folders, where they come from): $TUNELAB_RESULTS, the shipped quickstart run, or a small
    quickstart run made now in a temporary folder (this starts Ray and trains 3 small models)."""
    environ = os.environ if environ is None else environ
    if environ.get(RESULTS_VARIABLE):
        return environ[RESULTS_VARIABLE].split(os.pathsep), f"${RESULTS_VARIABLE}"
    shipped = shipped_example()
    if shipped is not None:
        return [str(shipped)], f"the quickstart run shipped with tunelab ({shipped})"
    import tunelab

    storage = tempfile.mkdtemp(prefix="tunelab-example-")
    folder = tunelab.run("quickstart", overrides=SMALL_RUN, storage=storage).experiments[0].path
    return [str(folder)], (f"a small quickstart run made just now ({SMALL_RUN}), as this tunelab ships no "
                           f"example results; set ${RESULTS_VARIABLE} to show your own")
