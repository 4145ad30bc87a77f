"""The test score: once a run has ended, the best trial's best checkpoint is evaluated, once, on the data's test part.

The search tunes on validation; the test part is data it never saw, so its score is the run's honest
estimate. Trials never get it: the runner hands them the data `without_test`, and the trainable
refuses a Dataset that still holds it. The evaluation is a Ray task with a trial's resources, so the
driver never imports TensorFlow: a Dataset's test arrays go through the object store once (the
train and validation arrays stay out of it), a streamed source's description goes as it does to
the trials and the task reads the test part itself. The score is kept in the run folder
(TEST_FILE); a resume that finds it does not evaluate again.
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from tunelab.core.run_folder import TEST_FILE, is_uri, read_test_score
from tunelab.experiments.run.interrupts import stop_signal
from tunelab.trainables.data import Dataset, StreamedData

if TYPE_CHECKING:
    from tunelab.experiments.run.prepare import Prepared


def without_test(data: Dataset | StreamedData) -> Dataset | StreamedData:
    """The data as the trials get it: a Dataset without its test arrays (a streamed one reads only train and val)."""
    return dataclasses.replace(data, x_test=None, y_test=None) if isinstance(data, Dataset) else data


def score_on_test(prepared: Prepared) -> ScoreOnTest | None:
    """What scores `prepared`'s run on its test part at the end; None when the data has no test part."""
    data = prepared.data
    if not (data.has_test if isinstance(data, StreamedData) else data.x_test is not None):
        return None
    spec = prepared.spec
    return ScoreOnTest(data, spec.trainable, spec.batch_size, spec.resources.cpu, spec.resources.gpu)


@dataclass(frozen=True)
class ScoreOnTest:
    """The run's one evaluation on the test part: called by the runner with Ray up, once the fit has returned."""

    data: Dataset | StreamedData
    trainable: str
    batch_size: int  # the experiment's; a trial that tuned `batch_size` evaluates with its own
    cpus: float
    gpus: float

    def __call__(self, run_path: str) -> str | None:
        """Scores the run's best checkpoint unless the run was interrupted, no trial reported the metric, or a score
        is kept already; a line for the closing block when it cannot."""
        import ray

        from tunelab.analysis.load import load
        from tunelab.analysis.results import ResultsError
        from tunelab.trainables.evaluate import evaluate_checkpoint

        if is_uri(run_path):
            return "test: not scored: the run folder is a URI; load the best model and evaluate it (Results.data())"
        folder = Path(run_path)
        if stop_signal(run_path) is not None or read_test_score(folder) is not None:
            return None
        with warnings.catch_warnings():  # a damaged trial is the summary's news, not this step's
            warnings.simplefilter("ignore")
            results = load(folder)
        trial = results.best_trial()
        if trial is None:
            return None
        try:
            checkpoint = results.best_checkpoint()
        except ResultsError as error:
            return f"test: not scored: {error}"
        batch_size = results.config(trial).get("batch_size", self.batch_size)
        task = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_calls=1)(evaluate_checkpoint)
        try:
            metrics = ray.get(task.remote(str(checkpoint.model_file), self.trainable, _test_part(self.data),
                                          batch_size, self.cpus, self.gpus))
        except ray.exceptions.RayError as error:
            cause = getattr(error, "cause", None) or error
            return f"test: not scored: evaluating {checkpoint.model_file} raised {type(cause).__name__}: " \
                   f"{str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"
        _write(folder, {"trial_id": checkpoint.trial_id, "epoch": checkpoint.epoch, "metrics": metrics})
        return None


def _test_part(data: Dataset | StreamedData) -> Dataset | StreamedData:
    """What the task needs: a Dataset's test arrays alone, so the train and validation arrays are not put again."""
    if isinstance(data, StreamedData):
        return data
    empty = data.x_test[:0], data.y_test[:0]
    return dataclasses.replace(data, x_train=empty[0], y_train=empty[1], x_val=empty[0], y_val=empty[1])


def _write(folder: Path, score: Mapping[str, Any]) -> None:
    """Written whole or not at all: a reader never sees half a score."""
    partial = folder / f".{TEST_FILE}.partial"
    partial.write_text(json.dumps(score, indent=2) + "\n")
    os.replace(partial, folder / TEST_FILE)
