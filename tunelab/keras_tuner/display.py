"""What `search()` prints by default: one line per finished trial, as KerasTuner shows each trial."""
from __future__ import annotations

from tunelab.experiments.run.progress import Progress

_ENDINGS = (" finished", " errored", " stopped at epoch ")


def finished_trial_line(progress: Progress) -> str | None:
    """The line for a snapshot that ends a trial; None for the periodic ones sent while trials train."""
    if not any(ending in progress.event for ending in _ENDINGS):
        return None
    best = "-" if progress.best is None else f"{progress.best:.4f}"
    errored = f", {progress.errored} errored" if progress.errored else ""
    return (f"[{progress.elapsed:5.0f}s] {progress.event}: {progress.done}/{progress.total} trials done{errored}; "
            f"best so far {best}")


def print_finished_trial(progress: Progress) -> None:
    """search(verbose=1), the default; verbose=0 prints nothing."""
    line = finished_trial_line(progress)
    if line is not None:
        print(line, flush=True)
