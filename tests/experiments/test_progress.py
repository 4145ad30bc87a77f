"""Progress snapshots from trial events: outcomes, epochs of planned, ETA; and the facade's per-trial line.

Pure logic: Ray's callback hooks are called by hand with stand-in trials (an id and a status).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tunelab.experiments.kt.display import finished_trial_line
from tunelab.experiments.progress import Progress, ProgressCallback


@dataclass
class FakeTrial:
    trial_id: str
    status: str = "RUNNING"


def snapshots(**options):
    seen: list[Progress] = []
    callback = ProgressCallback("val_accuracy", "max", 3, seen.append, interval=1e9, planned_epochs=12,
                                epochs_per_trial=4, **options)
    return callback, seen


def test_outcomes_epochs_and_planned_epochs_shrink_when_a_trial_stops_early():
    callback, seen = snapshots()
    a, b, c = FakeTrial("a"), FakeTrial("b"), FakeTrial("c")
    trials = [a, b, c]
    for epoch in range(1, 5):
        callback.on_trial_result(0, trials, a, {"epoch": epoch, "val_accuracy": 0.5 + epoch / 10})
    callback.on_trial_result(0, trials, a, {"epoch": 4, "val_accuracy": 0.9, "done": True})  # Ray's closing copy
    callback.on_trial_complete(0, trials, a)
    callback.on_trial_result(0, trials, b, {"epoch": 1, "val_accuracy": 0.3})
    callback.on_trial_complete(0, trials, b)   # a scheduler stopped it after 1 of 4 epochs
    callback.on_trial_result(0, trials, c, {"epoch": 1, "val_accuracy": float("nan")})
    callback.on_trial_error(0, trials, c)

    last = seen[-1]
    assert (last.completed, last.stopped, last.errored, last.done) == (1, 1, 1, 3)
    assert last.epochs == 6                       # 4 + 1 + 1, the closing copy not counted twice
    assert last.planned_epochs == 12 - 3 - 3      # b and c will never train their last 3 epochs
    assert last.best == pytest.approx(0.9)
    assert seen[1].event == "trial b stopped at epoch 1"


def test_eta_follows_the_pace_since_the_first_epoch():
    progress = Progress(completed=0, stopped=0, errored=0, running=2, total=4, epochs=11, planned_epochs=41,
                        best=0.5, elapsed=15.0, event="", first_epoch_at=5.0)
    assert progress.eta == pytest.approx(30 * 10.0 / 10)   # 1 s an epoch since the first one
    assert Progress(0, 0, 0, 1, 4, 1, 40, None, 6.0, "", 5.0).eta is None


def test_the_facade_prints_a_line_for_finished_trials_only():
    base = dict(completed=2, stopped=0, errored=1, running=1, total=5, epochs=9, planned_epochs=20, best=0.95,
                elapsed=12.0)
    assert finished_trial_line(Progress(**base, event="trial x epoch 3")) is None
    line = finished_trial_line(Progress(**base, event="trial x finished"))
    assert line == "[   12s] trial x finished: 3/5 trials done, 1 errored; best so far 0.9500"
