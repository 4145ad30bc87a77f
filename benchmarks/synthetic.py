"""A synthetic results directory in the layout Ray and tunelab write, without training anything.

For measuring `analysis.load` at scale (scripts/benchmark.py load: 1,000 trials x 30 epochs)
and for tests of what a tiny real run cannot show quickly: scheduler stops, pauses and
resumes, errors after some epochs, trials still running or pending. Learning curves rise
towards a plateau that peaks at a learning rate of 1e-3, so importance and plots have signal.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

# The size of what Ray pickles per trial into experiment_state-*.json (~20 KB each in real runs).
_STATE_FILLER = "80" * 8_000


@dataclass(frozen=True)
class SyntheticTrial:
    """What the generator decided for one trial, so tests can check the loader against it."""

    trial_id: str
    config: dict
    epochs: int            # epochs reported
    outcome: str           # completed, stopped, errored, paused, running, pending
    val_accuracy: tuple[float, ...]
    pauses: int = 0


def write_synthetic_results(
    path: str | Path, trials: int = 1000, epochs: int = 30, seed: int = 0, workers: int = 4, mixed: bool = True
) -> list[SyntheticTrial]:
    """Writes an experiment folder with `trials` trials of up to `epochs` epochs; returns what it wrote.

    Outcomes cycle deterministically: most trials complete; every 5th is stopped by an
    ASHA-like rung; every 13th is paused; every 17th errors; the last two are still running
    and pending. With `mixed=False` every trial completes all its epochs. Either way some
    trials pause once at half their epochs and resume on another worker.
    """
    from tunelab.searchspaces.catalog.mlp import SPACE

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    configs = SPACE.sample_many(trials, seed=seed)
    spec = {
        "name": "synthetic", "trainable": "mlp", "data": "digits", "space": "mlp", "metric": "val_accuracy",
        "mode": "max", "strategy": {"name": "random", "num_samples": trials, "seed": seed}, "epochs": epochs,
    }
    (folder / "tunelab_experiment.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    clock = [1_800_000_000.0 + w for w in range(workers)]
    written, events, state = [], [], []
    for index, config in enumerate(configs):
        trial_id = f"{index:05d}{rng.randrange(16 ** 3):03x}"
        outcome = _outcome(index, trials) if mixed else "completed"
        reported = {"completed": epochs, "stopped": min(epochs, 3 ** (1 + index % 2)), "errored": max(1, epochs // 3),
                    "paused": max(1, epochs // 2), "running": max(1, epochs // 4), "pending": 0}[outcome]
        paused = index % 11 == 3 and outcome == "completed"
        worker = index % workers
        curve = _curve(config, reported, rng)
        trial_dir = folder / f"trial_{trial_id}"
        if outcome != "pending":
            trial_dir.mkdir(exist_ok=True)
            (trial_dir / "params.json").write_text(json.dumps(config, indent=2))
        lines, total, since, iterations, pid = [], 0.0, 0.0, 0, 10_000 + worker
        start = clock[worker]
        for epoch, accuracy in enumerate(curve, start=1):
            if paused and epoch == epochs // 2 + 1:  # Hyperband-like: paused at a rung, resumed on a new actor
                events.append(_event(trial_id, "paused", clock[worker], epoch=epoch - 1))
                clock[worker] += 5.0
                events.append(_event(trial_id, "resumed", clock[worker], epoch=epoch - 1))
                since, iterations, pid = 0.0, 0, pid + 100
            step = rng.uniform(0.4, 0.6)
            total, since, iterations = total + step, since + step, iterations + 1
            clock[worker] += step
            lines.append(json.dumps(_report(trial_id, config, epoch, accuracy, clock[worker], step, total,
                                            since, iterations, pid)))
        if lines:
            (trial_dir / "result.json").write_text("\n".join(lines) + "\n")
        end = clock[worker]
        if outcome == "stopped":
            events.append(_event(trial_id, "stopped", end, epoch=reported, rung=index % 2, cutoff=0.5))
            events.append(_event(trial_id, "completed", end, epoch=reported))
        elif outcome == "errored":
            (trial_dir / "error.txt").write_text(f"Traceback...\nRuntimeError: synthetic failure in {trial_id}\n")
            events.append(_event(trial_id, "errored", end, epoch=reported))
        elif outcome == "paused":
            events.append(_event(trial_id, "paused", end, epoch=reported))
        elif outcome == "completed":
            events.append(_event(trial_id, "completed", end, epoch=reported))
        status = {"completed": "TERMINATED", "stopped": "TERMINATED", "errored": "ERROR", "paused": "PAUSED",
                  "running": "RUNNING", "pending": "PENDING"}[outcome]
        state.append(_state_entry(trial_id, config, status, start, outcome == "errored"))
        written.append(SyntheticTrial(trial_id, config, reported, outcome, tuple(curve), int(paused)))
    (folder / "tunelab_trial_events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (folder / "experiment_state-2027-01-15_08-00-00.json").write_text(
        json.dumps({"trial_data": state, "runner_data": {}, "stats": {"start_time": 1_800_000_000.0}})
    )
    return written


def _outcome(index: int, trials: int) -> str:
    if index == trials - 1 and trials > 2:
        return "pending"
    if index == trials - 2 and trials > 2:
        return "running"
    if index % 17 == 16:
        return "errored"
    if index % 13 == 12:
        return "paused"
    if index % 5 == 4:
        return "stopped"
    return "completed"


def _curve(config: dict, epochs: int, rng: random.Random) -> list[float]:
    distance = abs(math.log10(config["learning_rate"]) + 3.0)  # 0 at a learning rate of 1e-3
    plateau = max(0.1, 0.97 - 0.25 * distance ** 2 - 0.3 * config.get("dropout", 0.0))
    speed = 0.5 + 0.5 * rng.random()
    return [min(1.0, 0.1 + (plateau - 0.1) * (1 - math.exp(-speed * e)) + rng.gauss(0, 0.01)) for e in
            range(1, epochs + 1)]


def _report(trial_id: str, config: dict, epoch: int, accuracy: float, now: float, step: float, total: float,
            since: float, iterations: int, pid: int) -> dict:
    return {
        "epoch": epoch, "accuracy": min(1.0, accuracy + 0.02), "loss": 2.3 * (1 - accuracy),
        "val_accuracy": accuracy, "val_loss": 2.3 * (1 - accuracy) + 0.05,
        "timestamp": int(now), "checkpoint_dir_name": f"checkpoint_{epoch - 1:06d}", "should_checkpoint": True,
        "done": False, "training_iteration": epoch, "trial_id": trial_id, "date": "2027-01-15_08-00-00",
        "time_this_iter_s": step, "time_total_s": total, "pid": pid, "hostname": "node-1", "node_ip": "10.0.0.1",
        "config": config, "time_since_restore": since, "iterations_since_restore": iterations,
    }


def _event(trial_id: str, event: str, time: float, **details: object) -> dict:
    return {"trial_id": trial_id, "event": event, "time": time, **details}


def _state_entry(trial_id: str, config: dict, status: str, start: float, errored: bool) -> list[str]:
    trial = {"stub": False, "trainable_name": "train", "trial_id": trial_id, "config": config, "status": status,
             "relative_logdir": f"trial_{trial_id}", "storage": {"_type": "CLOUDPICKLE_FALLBACK",
                                                                 "value": _STATE_FILLER}}
    run = {"start_time": start, "num_failures": int(errored), "error_filename": "error.txt" if errored else None,
           "metric_n_steps": {"_type": "CLOUDPICKLE_FALLBACK", "value": _STATE_FILLER}}
    return [json.dumps(trial, indent=2), json.dumps(run, indent=2)]
