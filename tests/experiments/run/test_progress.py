"""Progress snapshots from trial events: outcomes, epochs of planned, ETA; and the facade's per-trial line.

Pure logic: Ray's callback hooks are called by hand with stand-in trials (an id and a status).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tunelab.experiments.run.progress import Progress, ProgressCallback, progress_sink
from tunelab.keras_tuner.display import finished_trial_line


@dataclass
class FakeTrial:
    trial_id: str
    status: str = "RUNNING"
    last_result: dict | None = None


def callback() -> ProgressCallback:
    return ProgressCallback("/runs/x", "val_accuracy", "max", 3, interval=1e9, planned_epochs=12, epochs_per_trial=4)


def test_outcomes_epochs_and_planned_epochs_shrink_when_a_trial_stops_early():
    seen: list[Progress] = []
    with progress_sink("/runs/x", seen.append):
        run_three_trials(callback())

    last = seen[-1]
    assert (last.completed, last.stopped, last.errored, last.done) == (1, 1, 1, 3)
    assert last.epochs == 6                       # 4 + 1 + 1
    assert last.planned_epochs == 12 - 3 - 3      # b and c will never train their last 3 epochs
    assert last.best == pytest.approx(0.9)
    assert seen[1].event == "trial b stopped at epoch 1"


def test_a_resumed_run_counts_what_its_restored_trials_did_and_reports_to_the_new_sink():
    first: list[Progress] = []
    with progress_sink("/runs/x", first.append):
        restored = callback()  # as Ray unpickles it on resume, with the old run's state
        restored.on_trial_result(0, [FakeTrial("a")], FakeTrial("a"), {"epoch": 1})
    restored.setup(stop=None, num_samples=3)
    done = FakeTrial("a", "TERMINATED")
    done.last_result = {"epoch": 4, "val_accuracy": 0.8}
    resumed = FakeTrial("b")
    resumed.last_result = {"epoch": 2, "val_accuracy": 0.7}
    seen: list[Progress] = []
    with progress_sink("/runs/x", seen.append):
        restored.on_trial_result(0, [done, resumed], resumed, {"epoch": 3, "val_accuracy": 0.75})
        restored.on_trial_complete(0, [done, resumed], resumed)
    assert (seen[-1].completed, seen[-1].stopped, seen[-1].epochs, seen[-1].best) == (1, 1, 7, 0.8)
    assert first == []  # interval 1e9: the old sink got nothing, and is gone


def run_three_trials(progress: ProgressCallback) -> None:
    a, b, c = FakeTrial("a"), FakeTrial("b"), FakeTrial("c")
    trials = [a, b, c]
    callback = progress
    for epoch in range(1, 5):  # Ray marks the last result done=True when a scheduler or stopper ends the trial
        callback.on_trial_result(0, trials, a, {"epoch": epoch, "val_accuracy": 0.5 + epoch / 10, "done": epoch == 4})
    callback.on_trial_complete(0, trials, a)
    callback.on_trial_result(0, trials, b, {"epoch": 1, "val_accuracy": 0.3})
    callback.on_trial_complete(0, trials, b)   # a scheduler stopped it after 1 of 4 epochs
    callback.on_trial_result(0, trials, c, {"epoch": 1, "val_accuracy": float("nan")})
    callback.on_trial_error(0, trials, c)


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


def test_an_exact_plan_keeps_its_planned_epochs_when_trials_stop_early():
    """sha's bound already counts its halvings (and a max_total_epochs cap does not shrink): nothing to take off."""
    seen: list[Progress] = []
    exact = ProgressCallback("/runs/x", "val_accuracy", "max", 3, interval=1e9, planned_epochs=7, epochs_per_trial=4,
                             exact_plan=True)
    with progress_sink("/runs/x", seen.append):
        run_three_trials(exact)
    assert seen[-1].planned_epochs == 7


def test_the_eta_after_a_resume_counts_only_this_fits_epochs():
    progress = Progress(completed=1, stopped=0, errored=0, running=1, total=3, epochs=14, planned_epochs=24,
                        best=0.9, elapsed=20.0, event="", first_epoch_at=10.0, epochs_before=9)
    assert progress.eta == pytest.approx(10 * (10.0 / 4))  # 4 epochs in 10 s since this fit's first


def test_the_heartbeat_names_a_running_trial_silent_for_ten_median_epochs(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("tunelab.experiments.run.progress.time.monotonic", lambda: clock[0])
    progress = ProgressCallback("/runs/x", "val_accuracy", "max", 2, interval=10.0)
    quiet, busy = FakeTrial("quiet"), FakeTrial("busy")
    seen: list[Progress] = []
    with progress_sink("/runs/x", seen.append):
        for trial in (quiet, busy):
            progress.on_trial_result(0, [quiet, busy], trial, {"epoch": 1, "time_this_iter_s": 2.0})
        clock[0] += 11.0
        progress.on_trial_result(0, [quiet, busy], busy, {"epoch": 2, "time_this_iter_s": 2.0})  # emits: 11 s passed
        clock[0] += 5.0
        progress.on_step_end(0, [quiet, busy])  # 5 s since the last line: no heartbeat yet
        clock[0] += 5.0
        progress.on_step_end(0, [quiet, busy])  # quiet for 21 s, 10 x the median of 2 s is 20 s
    assert [snapshot.event for snapshot in seen] == [
        "trial quiet epoch 1", "trial busy epoch 2", "trial quiet: no epoch for 21 s (median epoch 2.0 s)"]
    clock[0] += 10.0
    busy.status = "TERMINATED"
    with progress_sink("/runs/x", seen.append):
        progress.on_trial_result(0, [quiet, busy], quiet, {"epoch": 2, "time_this_iter_s": 2.0})
        clock[0] += 10.0
        progress.on_step_end(0, [quiet, busy])
    assert seen[-1].event == "training"  # a heartbeat, and nobody silent for long
