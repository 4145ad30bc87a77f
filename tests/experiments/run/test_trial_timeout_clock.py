"""How `trial_timeout` counts a trial's time: RUNNING stretches only (a pause excluded), the training
time before a resume included. Pure logic: Ray's loop is stood in for by a controller object whose
`stop_trial` records the call; the real stop of a hung trial is in test_trial_timeout.py."""
from __future__ import annotations

import json
from dataclasses import dataclass

from tunelab.core.run_folder import EVENTS_FILE
from tunelab.experiments.run.trial_timeout import TrialTimeout, trial_time_limit
from tunelab.experiments.trial_events import TrialEventLog


@dataclass(eq=False)  # hashable by identity, as Ray's trials are
class FakeTrial:
    trial_id: str
    status: str = "RUNNING"
    last_result: dict | None = None


def controller_calling(callback: TrialTimeout, stopped: list):
    """A TuneController (its type is what the callback looks for on the stack) whose step calls `callback`."""
    from ray.tune.execution.tune_controller import TuneController

    controller = TuneController.__new__(TuneController)
    controller._trial_to_actor, controller._stopping_actors, controller._reuse_actors = {}, {}, True

    def stop_trial(trial):
        stopped.append((trial.trial_id, controller._reuse_actors))
        trial.status = "TERMINATED"
    controller.stop_trial = stop_trial

    def step(self, trials):
        callback.on_step_end(0, trials)
    return lambda trials: step(controller, trials)


def test_a_pause_does_not_count_and_the_time_before_a_resume_does(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("tunelab.experiments.run.trial_timeout.time.monotonic", lambda: clock[0])
    events = TrialEventLog()
    events.attach(str(tmp_path))
    callback, stopped = TrialTimeout(str(tmp_path), events), []
    step = controller_calling(callback, stopped)
    paused = FakeTrial("paused")
    resumed = FakeTrial("resumed", last_result={"epoch": 3, "time_total_s": 55.0})  # trained 55 s before a resume

    with trial_time_limit(str(tmp_path), 60.0):
        for seconds, status in ((0, "RUNNING"), (30, "PAUSED"), (500, "RUNNING"), (506, "RUNNING")):
            clock[0] = seconds
            paused.status = status
            step([paused, resumed] if seconds >= 500 else [paused])
        assert stopped == [("resumed", False)]  # 55 s + 6 s; its worker is not kept for reuse
        clock[0] = 531.0
        step([paused, resumed])
    assert stopped == [("resumed", False), ("paused", False)]  # 30 s + 31 s: the pause did not count
    recorded = [json.loads(line) for line in (tmp_path / EVENTS_FILE).read_text().splitlines()]
    assert [(e["trial_id"], e["event"], e["epoch"], e["limit"]) for e in recorded] == [
        ("resumed", "timed_out", 3, 60.0), ("paused", "timed_out", 0, 60.0)]

    clock[0] = 10_000.0  # no limit outside the run: nothing is stopped
    step([FakeTrial("later")])
    clock[0] = 20_000.0
    step([FakeTrial("later")])
    assert len(stopped) == 2
