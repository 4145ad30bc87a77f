"""What MLflow tracking costs: the same experiment run with and without `tracking.mlflow`, alternating.

Both runs of a round train the same configurations (the experiment's seed fixes them), each on a
fresh local Ray; the only difference is the tracking callback logging every trial to a real MLflow
server on this machine. Rounds alternate which goes first, so a machine that warms up or slows
down over time does not favour one side.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.mlflow_server import mlflow_server


def run_tracking(experiment: str, rounds: int, work: Path, on_step: Callable[[str], None]) -> dict[str, Any]:
    """Wall seconds of each run, with and without tracking, and their ratio per round."""
    import tunelab
    from mlflow import MlflowClient

    walls: dict[str, list[float]] = {"plain": [], "mlflow": []}
    with mlflow_server(work / "mlflow") as uri:
        for index in range(rounds):
            for kind in (("plain", "mlflow") if index % 2 == 0 else ("mlflow", "plain")):
                overrides = {"tracking.mlflow": uri} if kind == "mlflow" else {}
                name = f"{kind}-{index}"
                started = time.monotonic()
                results = tunelab.run(experiment, overrides, storage=str(work / "results"), name=name)
                walls[kind].append(time.monotonic() - started)
                on_step(f"round {index + 1}/{rounds} {kind}: {len(results.trials)} trials, {walls[kind][-1]:.1f} s")
                if kind == "mlflow":
                    _check_tracked(MlflowClient(uri), name, len(results.trials))
    ratios = [tracked / plain for tracked, plain in zip(walls["mlflow"], walls["plain"])]
    return {"experiment": experiment, "rounds": rounds, "plain_s": walls["plain"], "mlflow_s": walls["mlflow"],
            "ratios": ratios, "median_ratio": statistics.median(ratios)}


def _check_tracked(client: Any, experiment: str, trials: int) -> None:
    """A measurement of tracking that lost runs would measure nothing: every trial must be there."""
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    finished = [run for run in runs if run.info.status == "FINISHED"]
    if len(finished) != trials:
        raise RuntimeError(f"MLflow holds {len(finished)} finished runs of {trials} trials in {experiment}")


def tracking_markdown(result: dict[str, Any]) -> str:
    rows = "\n".join(f"| {index + 1} | {plain:.1f} | {tracked:.1f} | {ratio:.3f} |" for index, (plain, tracked, ratio)
                     in enumerate(zip(result["plain_s"], result["mlflow_s"], result["ratios"])))
    return (f"# MLflow tracking overhead\n\n`python scripts/benchmark.py tracking`: `{result['experiment']}` run "
            f"{result['rounds']} times each way, alternating, with `tracking.mlflow` pointing at a local MLflow "
            f"server (sqlite) and without it.\n\n| round | without (s) | with MLflow (s) | ratio |\n|---|---|---|---|\n"
            f"{rows}\n\nMedian ratio: **{result['median_ratio']:.3f}** (wall time with tracking / without).\n")
