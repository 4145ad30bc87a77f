"""Real Ray runs on digits: the trials, their configs and per-epoch metrics land on disk."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tunelab.core.run_folder import EVENTS_FILE, HISTORY_FILE, LOCK_FILE, SPEC_FILE
from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict

pytestmark = pytest.mark.slow  # real runs of several trials: left out of `pytest -m "not slow"`

SPACE = {
    "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
    "momentum": {"type": "float", "low": 0.0, "high": 0.9, "grid": [0.0, 0.9], "when": {"optimizer": "sgd"}},
    "units_1": {"type": "int", "low": 8, "high": 32, "log": True},
    "num_layers": 1,
}
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def experiment(tmp_path: Path, strategy: dict, **extra) -> dict:
    return {
        "name": "t", "trainable": "mlp", "data": "digits", "space": SPACE, "strategy": strategy,
        "epochs": 2, "batch_size": 128, "storage": str(tmp_path), "max_concurrent_trials": 2, **extra,
    }


def trials_on_disk(path: str) -> list[tuple[dict, list[dict]]]:
    found = []
    for params in sorted(Path(path).glob("trial_*/params.json")):
        reports = [json.loads(line) for line in (params.parent / "result.json").read_text().splitlines()]
        found.append((json.loads(params.read_text()), reports))
    return found


def assert_epochs_reported(reports: list[dict], epochs: int) -> None:
    assert [r["epoch"] for r in reports] == list(range(1, epochs + 1))
    for report in reports:
        for metric in METRICS:
            assert isinstance(report[metric], float)


def test_grid_runs_exactly_the_enumerated_configurations(tmp_path, ray_session):
    spec = spec_from_dict(experiment(tmp_path, "grid", fix={"units_1": 16}))
    prepared = prepare(spec)
    expected = spec.space.grid()
    assert len(expected) == 3  # adam; sgd with momentum 0.0 and 0.9

    outcome = run(prepared)

    on_disk = trials_on_disk(outcome.path)
    assert sorted(json.dumps(c, sort_keys=True) for c, _ in on_disk) == sorted(
        json.dumps(c, sort_keys=True) for c in expected
    )
    for config, reports in on_disk:
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert_epochs_reported(reports, 2)
    assert (Path(outcome.path) / SPEC_FILE).exists()
    assert outcome.trials == 3 and outcome.errored == 0
    assert outcome.best_config in expected and 0 < outcome.best_value <= 1


@pytest.fixture(scope="module")
def random_run(tmp_path_factory, ray_session):
    """One seeded random run, finished: read by the test of what it ran, resumed by the test of a finished
    run's resume (which asserts it changes nothing)."""
    spec = spec_from_dict(experiment(tmp_path_factory.mktemp("random"), {"name": "random", "num_samples": 3, "seed": 7}))
    return spec, run(prepare(spec))


def test_random_is_seeded_and_runs_sampled_configurations(random_run):
    spec, outcome = random_run

    on_disk = trials_on_disk(outcome.path)
    expected = spec.space.sample_many(3, seed=7)
    assert sorted(json.dumps(c, sort_keys=True) for c, _ in on_disk) == sorted(
        json.dumps(c, sort_keys=True) for c in expected
    )
    for _, reports in on_disk:
        assert_epochs_reported(reports, 2)
        assert any(name.startswith("checkpoint_") for name in
                   (p.name for p in Path(outcome.path).glob("trial_*/*")))
    assert list(Path(outcome.path).glob("trial_*/events.out.tfevents.*")), "TensorBoard files per trial"


def test_resume_of_a_finished_run_trains_nothing_new(random_run):
    spec, first = random_run
    before = trials_on_disk(first.path)
    assert len(before) == 3

    prepared = prepare(spec, resume=True)
    assert prepared.complete  # the command says so and starts no Ray; run() itself changes nothing
    again = run(prepared)

    assert again.path == first.path and again.trials == 3
    assert trials_on_disk(first.path) == before  # no trial re-ran, no epoch was added


def test_resume_of_a_run_killed_before_ray_saved_its_state_runs_the_whole_plan(tmp_path, ray_session):
    spec = spec_from_dict(experiment(tmp_path, {"name": "random", "num_samples": 3, "seed": 2}, epochs=1))
    first = run(prepare(spec, name="run"))
    folder = Path(first.path)
    for state in [*folder.glob("experiment_state-*"), *folder.glob("search*state-*")]:
        state.unlink()  # what a kill between Ray's tuner.pkl and its first experiment state leaves
    (folder / EVENTS_FILE).unlink()  # before any trial completed or finished an epoch:
    for history in folder.glob(f"trial_*/{HISTORY_FILE}"):  # tunelab's record keeps none (test_recorded.py)
        history.unlink()
    started = sorted(p.name for p in folder.glob("trial_*"))

    prepared = prepare(spec, name="run", resume=True)
    assert not prepared.complete
    again = run(prepared)

    assert again.trials == 3 and again.errored == 0  # Ray alone would have run a single new trial
    configs = sorted(json.dumps(c, sort_keys=True) for c, _ in trials_on_disk(again.path))
    assert configs == sorted(json.dumps(c, sort_keys=True) for c in spec.space.sample_many(3, seed=2))
    [aside] = folder.glob(".unrecorded-start-*")
    assert sorted(p.name for p in aside.glob("trial_*")) == started  # set aside, not mixed in


def test_existing_name_without_resume_is_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / SPEC_FILE).write_text("name: t\n")  # an earlier run's record
    spec = spec_from_dict(experiment(tmp_path, "grid", fix={"units_1": 16}))
    with pytest.raises(SpecError, match="already exists; use --resume"):
        prepare(spec, name="taken")


def test_resume_without_an_earlier_run_is_refused(tmp_path):
    spec = spec_from_dict(experiment(tmp_path, "grid", fix={"units_1": 16}))
    with pytest.raises(SpecError, match="no earlier run of 't'"):
        prepare(spec, resume=True)



def test_resume_without_a_name_finds_the_experiments_own_runs_only(tmp_path):
    """`t` resumes `t-20261201-120000`, never `t-big-20261202-120000` (another experiment's run), however new."""
    raw = experiment(tmp_path, "grid", fix={"units_1": 16})
    for name in ("t-20261201-120000", "t-big-20261202-120000", "t-20261203-1200"):
        (tmp_path / name).mkdir()
        (tmp_path / name / SPEC_FILE).write_text(yaml.safe_dump(raw, sort_keys=False))
    spec = spec_from_dict(raw)
    assert prepare(spec, resume=True).name == "t-20261201-120000"


@pytest.mark.parametrize("resume", [False, True])
def test_a_folder_killed_before_it_held_an_experiment_is_started_afresh_by_either_command(tmp_path, resume):
    """Killed before anything but the lock was written, neither a launch ("already exists") nor a resume ("holds no
    experiment") used to run it: the user had to delete it by hand."""
    spec = spec_from_dict(experiment(tmp_path, "grid", fix={"units_1": 16}))
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / LOCK_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1, "heartbeat": 0}))
    prepared = prepare(spec, name="killed", resume=resume)
    assert prepared.afresh and not prepared.resume and prepared.name == "killed"
    (tmp_path / "killed" / "notes.txt").write_text("the user's own file")  # a folder of anything else stays refused
    with pytest.raises(SpecError, match="already exists|holds no experiment"):
        prepare(spec, name="killed", resume=resume)


def test_a_resume_given_another_experiment_is_refused_naming_each_change(tmp_path):
    """Other epochs, space bounds or another model used to be mixed silently into the run being resumed."""
    raw = experiment(tmp_path, "grid", fix={"units_1": 16})
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / SPEC_FILE).write_text(yaml.safe_dump(raw, sort_keys=False))  # as the runner writes it
    assert prepare(spec_from_dict({**raw, "max_failures": 5, "description": "more retries"}), name="run",
                   resume=True).resume  # how it runs may change
    with pytest.raises(SpecError) as refused:
        prepare(spec_from_dict({**raw, "epochs": raw["epochs"] + 2, "fix": {"units_1": 32}}), name="run", resume=True)
    message = str(refused.value)
    assert message.startswith(f"--resume: {tmp_path / 'run'} was started with another experiment (")
    assert f"epochs: {raw['epochs']} -> {raw['epochs'] + 2}" in message and "space.units_1: " in message
    assert "resume it as it was, or start a new run without --resume" in message
    with pytest.raises(SpecError, match="trainable: 'mlp' -> 'cnn'"):
        prepare(spec_from_dict({**raw, "trainable": "cnn", "space": {"filters_1": 8}, "fix": {}}), name="run", resume=True)
