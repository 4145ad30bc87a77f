"""The test score: after a real run on digits with `test_fraction`, the best checkpoint is scored once on the part the
trials never saw, printed in the closing block, kept in the run folder and shown by analysis; a kept score is not
computed again."""
from __future__ import annotations

import contextlib
import io
import json
import re

import numpy as np
import pytest
import yaml

import tunelab
from tunelab.analysis.summary import held_out_score_line
from tunelab.cli.analyze import main as analyze
from tunelab.cli.run import main as run
from tunelab.core.run_folder import TEST_FILE, read_test_score
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.test_score import score_on_test, without_test
from tunelab.experiments.spec import load_spec
from tunelab.trainables import RunSettings, load_dataset, train

EXPERIMENT = {
    "name": "scored", "trainable": "mlp", "data": "digits", "test_fraction": 0.2, "seed": 3,
    "space": {"num_layers": 1, "units_1": 32, "learning_rate": 0.01},
    "strategy": {"name": "random", "num_samples": 1, "seed": 0}, "epochs": 2, "batch_size": 64,
}
LINE = re.compile(r"^test: accuracy (\S+), loss (\S+) \(trial (\w+), epoch (\d)\)$", re.MULTILINE)


def rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def cli(command, argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = command(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def scored(ray_session, tmp_path_factory):
    """One trial of two epochs, run by `tunelab run` in this process on the shared Ray: its exit status, its output,
    its experiment file and its run folder."""
    folder = tmp_path_factory.mktemp("scored")
    experiment = folder / "scored.yaml"
    experiment.write_text(yaml.safe_dump({**EXPERIMENT, "storage": str(folder / "results")}))
    code, output = cli(run, [str(experiment), "--name", "run"])
    return code, output, experiment, folder / "results" / "run"


def test_the_closing_block_prints_the_score_the_run_folder_keeps(scored):
    code, output, _, path = scored

    assert code == 0, output
    [(accuracy, loss, trial_id, epoch)] = LINE.findall(output)
    kept = json.loads((path / TEST_FILE).read_text())
    results = tunelab.load(path)
    assert kept["trial_id"] == trial_id == results.best_trial()["trial_id"]
    assert kept["epoch"] == int(epoch) == results.best_checkpoint().epoch
    assert float(accuracy) == pytest.approx(kept["metrics"]["accuracy"], abs=1e-4)
    assert float(loss) == pytest.approx(kept["metrics"]["loss"], rel=1e-3)
    assert output.index("\ntest: accuracy") < output.index("\nresults: ")


def test_results_show_the_score_and_the_split_the_trials_used(scored):
    _, _, experiment, path = scored
    results = tunelab.load(path)
    split = results.data()

    assert results.test_metrics == json.loads((path / TEST_FILE).read_text())["metrics"]
    assert (len(split.x_train), len(split.x_val), len(split.x_test)) == (1149, 288, 360)
    assert not rows(split.x_test) & (rows(split.x_train) | rows(split.x_val))
    again = tunelab.data(experiment)  # from the experiment file: the same split, before or after a run
    np.testing.assert_array_equal(again.x_test, split.x_test)
    np.testing.assert_array_equal(tunelab.data(path).x_train, split.x_train)
    code, summary = cli(analyze, ["summary", str(path)])
    assert code == 0 and held_out_score_line(read_test_score(path), "val_accuracy") in summary.splitlines()


def test_the_score_is_the_best_models_on_the_test_arrays(scored):
    import keras

    _, _, _, path = scored
    results = tunelab.load(path)
    split = results.data()
    scores = results.best_model().evaluate(split.x_test, keras.utils.to_categorical(split.y_test, 10), verbose=0,
                                           return_dict=True)
    assert scores["accuracy"] == pytest.approx(results.test_metrics["accuracy"], abs=1e-6)


def test_a_kept_score_is_not_computed_again_and_a_missing_one_is_computed_once(scored):
    _, _, experiment, path = scored
    kept = (path / TEST_FILE).stat().st_mtime_ns

    code, output = cli(run, [str(experiment), "--resume", "--name", "run"])  # complete: nothing runs
    assert code == 0 and "is complete" in output
    scoring = score_on_test(prepare(load_spec(experiment), name="run", resume=True))
    assert scoring(str(path)) is None and (path / TEST_FILE).stat().st_mtime_ns == kept

    metrics = json.loads((path / TEST_FILE).read_text())["metrics"]
    (path / TEST_FILE).unlink()
    assert scoring(str(path)) is None
    assert json.loads((path / TEST_FILE).read_text())["metrics"] == pytest.approx(metrics)


def test_trials_are_handed_the_data_without_its_test_part():
    data = load_dataset("digits", test_fraction=0.2)
    handed = without_test(data)

    assert handed.x_test is None and handed.y_test is None and handed.x_train is data.x_train
    assert without_test(handed).x_test is None and without_test(handed).x_train is data.x_train
    with pytest.raises(ValueError, match="a trial was handed the test part"):
        train({}, data, RunSettings(model="mlp", epochs=1))


def test_the_score_line_puts_the_objective_first_then_keras_order():
    score = {"trial_id": "1a2b3c4d", "epoch": 7, "metrics": {"loss": 0.0912, "mae": 41.3, "accuracy": 0.97222}}

    assert held_out_score_line(score, "val_accuracy") == (
        "test: accuracy 0.9722, loss 0.0912, mae 41.3 (trial 1a2b3c4d, epoch 7)")
    assert held_out_score_line(score, "val_mae").startswith("test: mae 41.3, loss 0.0912, accuracy")


def test_a_damaged_or_partial_score_file_reads_as_none(tmp_path):
    assert read_test_score(tmp_path) is None
    (tmp_path / TEST_FILE).write_text('{"trial_id": "a", "epoch": 1, "metrics": {"loss": "x"}}')
    assert read_test_score(tmp_path) is None
    (tmp_path / TEST_FILE).write_text('{"trial_id": "a", "epoch": 1, "metrics": {"loss": 0.5}')
    assert read_test_score(tmp_path) is None
