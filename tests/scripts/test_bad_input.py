"""Every user mistake: one line naming the key and what is allowed, exit 2, nothing written.

The cases run launch.py's `main` in this process (fast), except those that need a live cluster
check, which run it as a user would, in a subprocess.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tunelab.cli.run import main

ROOT = Path(__file__).resolve().parents[2]

BASE = {
    "name": "bad", "trainable": "mlp", "data": "digits",
    "space": {
        "optimizer": {"type": "choice", "values": ["adam", "sgd"]},
        "momentum": {"type": "float", "low": 0.0, "high": 0.9, "grid": [0.0, 0.9], "when": {"optimizer": "sgd"}},
        "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
    },
    "strategy": {"name": "random", "num_samples": 2},
    "epochs": 2,
}


def set_key(raw: dict, path: str, value) -> dict:
    raw = copy.deepcopy(raw)
    node = raw
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return raw


CASES = [
    # (case, change to the YAML (path, value) or raw text, extra CLI args, expected part of the message)
    ("yaml syntax", "name: bad\nspace: {unclosed\n", [], "invalid YAML at line"),
    ("not a mapping", "- a\n- b\n", [], "must be a mapping of experiment keys"),
    ("unknown key", ("epoch", 3), [], "epoch: unknown key; allowed: name"),
    ("misspelt key", ("stratgy", "grid"), [], "(did you mean 'strategy'?)"),
    ("wrong type", ("epochs", "three"), [], "epochs: expected an integer, got 'three'"),
    ("trial timeout not a duration", ("trial_timeout", "10 min"), [],
     "trial_timeout: expected a positive number of seconds or a duration like 90s, 10m or 1.5h; got '10 min'"),
    ("empty choices", ("space.optimizer.values", []), [], "space.optimizer: Choice: needs at least one value"),
    ("duplicate choices", ("space.optimizer.values", ["adam", "adam"]), [], "values must be unique"),
    ("low >= high", ("space.learning_rate.low", 0.5), [], "space.learning_rate"),
    ("log with low <= 0", ("space.learning_rate.low", 0.0), [], "log=True needs low > 0"),
    ("step larger than range", ("space.momentum", {"type": "float", "low": 0.0, "high": 0.9, "step": 2.0}), [],
     "step 2.0 is larger than the range"),
    ("condition on unknown param", ("space.momentum.when", {"optimiser": "sgd"}), [],
     "condition on 'optimiser', which is not declared before it"),
    ("condition on a later param (and so any cycle)",
     ("space", {"momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sgd"}},
                "optimizer": {"type": "choice", "values": ["adam", "sgd"]}}),
     [], "condition on 'optimizer', which is not declared before it"),
    ("condition that can never hold", ("space.momentum.when", {"optimizer": "sdg"}), [], "can never hold"),
    ("unknown strategy", ("strategy", {"name": "hyperbnd"}), [], "(did you mean 'hyperband'?)"),
    ("unknown scheduler", ("strategy", {"name": "random", "scheduler": "ashaa"}), [],
     "strategy.scheduler.name: 'ashaa' is not a scheduler"),
    ("unknown strategy option", ("strategy", {"name": "random", "num_sample": 3}), [],
     "(did you mean 'num_samples'?)"),
    ("unknown trainable", ("trainable", "cnm"), [], "trainable: 'cnm' is not a model family"),
    ("unimportable trainable", ("trainable", "nowhere:build"), [], "cannot import module 'nowhere'"),
    ("bayes over a space it cannot encode", ("strategy", {"name": "bayes"}), ["--set", "space={learning_rate: 0.1}"],
     "nothing to search"),
    ("tpe over a choice Optuna cannot tell apart", ("strategy", {"name": "tpe"}),
     ["--set", "space.units_1={type: choice, values: [32, 32.0]}", "--set", "space.num_layers=1"],
     "strategy tpe: space.units_1: choice 32, 32.0 holds 32 and 32.0, which tpe (Optuna) cannot tell apart; "
     "allowed: values that differ under =="),
    ("hyperband without a checkpoint at each rung", ("strategy", {"name": "hyperband"}),
     ["--set", "epochs=9", "--set", "checkpoint_every=2"], "checkpoint_every: 2 leaves no checkpoint at epoch"),
    ("grid over a float without grid points", ("strategy", "grid"), [], "learning_rate: "),
    ("missing data file", ("data", "npz:/nonexistent/data.npz"), [], "/nonexistent/data.npz"),
    ("malformed data file", ("data", "npz:{bad_npz}"), [], "bad.npz"),
    ("unknown data set", ("data", "digitz"), [], "(did you mean 'digits'?)"),
    ("data function that raises", ("data", "tests.trainables.data.data_functions:raises"), [],
     "data: tests.trainables.data.data_functions:raises raised ValueError: the data server is down"),
    ("data function of the wrong arity", ("data", "tests.trainables.data.data_functions:four_parts"), [],
     "data: tests.trainables.data.data_functions:four_parts returned a 4-tuple; expected (train, val) or"),
    ("data function of mismatched shapes", ("data", "tests.trainables.data.data_functions:mismatched"), [],
     ":mismatched returned train examples of shape (8, 8, 1) but val examples of shape (7, 8, 1)"),
    ("data function returning batches", ("data", "tests.trainables.data.data_functions:batched"), [],
     "(batched? give it unbatched: tunelab batches with the trial's batch_size)"),
    ("data function file that does not exist", ("data", "nothere.py:load"), [], "nothere.py:load: no such file"),
    ("misspelt data function option", ("data", {"source": "tests.trainables.data.data_functions:arrays",
                                                "num_clases": 10}), [], "(did you mean 'num_classes'?)"),
    ("test_fraction leaving no training examples", ("test_fraction", 0.999), [],
     "test_fraction: 0.999 of the 1797 examples of digits cannot be held out"),
    ("test_fraction leaving too few to validate", ("test_fraction", 0.99), [],
     "what test_fraction=0.99 leaves, with validation_fraction=0.2"),
    ("test_fraction of 1", ("test_fraction", 1), [], "test_fraction: must be 0 (no test part) or between 0 and 1"),
    ("test_fraction beside a test part of its own", ("data", "tests.trainables.data.data_functions:arrays"),
     ["--set", "test_fraction=0.2"], "test_fraction: tests.trainables.data.data_functions:arrays returns its own"),
    ("relative storage", ("storage", "results"), [], "storage: 'results' is relative"),
    ("unwritable storage", ("storage", "/etc/hostname/results"), [],
     "storage: /etc/hostname/results is not a writable directory (nearest existing: /etc/hostname)"),
    ("bad --set", None, ["--set", "epochs"], "--set 'epochs': expected KEY.PATH=VALUE"),
    ("resume without an earlier run", None, ["--resume"], "--resume: no earlier run of 'bad'"),
    ("unreachable cluster", None, ["--address", "127.0.0.1:1"], "--address 127.0.0.1:1: nothing answers there"),
    # --- values that would silently run another experiment -------------------------------------
    ("boolean given as a string", ("space.learning_rate.log", "false"), [], "log must be true or false, got 'false'"),
    ("boolean given as a number", ("space.learning_rate.log", 1), [], "log must be true or false, got 1"),
    ("empty value", lambda: yaml.safe_dump(BASE, sort_keys=False) + "max_failures:\n", [],
     "max_failures: empty; give it a value"),
    ("empty --set value", None, ["--set", "epochs="], "epochs: empty"),
    ("empty strategy option", ("strategy", {"name": "random", "num_samples": None}), [],
     "strategy.num_samples: empty; expected int (leave the key out for the default 10)"),
    ("empty scheduler", ("strategy", {"name": "random", "scheduler": None}), [], "strategy.scheduler: empty"),
    ("empty space entry", ("space.learning_rate", None), [], "space.learning_rate: empty"),
    ("empty nested value", ("resources", {"cpu": None}), [], "resources.cpu: empty; expected a number"),
    ("duplicate key", lambda: yaml.safe_dump(BASE, sort_keys=False) + "epochs: 3\n", [],
     "epochs: given twice (lines"),
    ("duplicate key in the space", lambda: yaml.safe_dump(BASE, sort_keys=False).replace(
        "  learning_rate:", "  optimizer: adam\n  learning_rate:"), [], "optimizer: given twice"),
    ("misspelt hyperparameter of a catalog model", ("space.learnig_rate", 0.01), [],
     "space.learnig_rate: model mlp never reads learnig_rate; it reads num_layers"),
    ("hyperparameter no model reads", ("space.width", {"type": "int", "low": 8, "high": 16}), [],
     "space.width: model mlp never reads width"),
    ("per-layer parameter without per_layer", ("space.units", {"type": "int", "low": 8, "high": 16}), [],
     "it reads units_1, units_2, ... (write `per_layer: num_layers`)"),
    ("layer beyond the layer count", ("space.units_4", 32), [],
     "space.units_4: model mlp reads units_4 only with num_layers >= 4, and num_layers is at most 2"),
    ("parameter of the other family", ("space.padding", "same"), [], "model mlp never reads padding"),
    ("choice the model refuses", ("space.optimizer.values", ["sgd", "adamw"]), [],
     "reaches 'adamw'; model mlp reads optimizer as one of adam, sgd, rmsprop (did you mean 'adam'?)"),
    ("dropout up to 1.5", ("space.dropout", {"type": "float", "low": 0.0, "high": 1.5}), [],
     "space.dropout: float [0, 1.5] reaches 1.5; model mlp reads dropout as a number >= 0 and < 1"),
    ("batch size from 0", ("space.batch_size", {"type": "int", "low": 0, "high": 64}), [],
     "space.batch_size: int [0, 64] reaches 0; model mlp reads batch_size as an integer >= 1"),
    ("fractional layer count", ("space.num_layers", {"type": "float", "low": 1, "high": 3}), [],
     "takes fractional values; model mlp reads num_layers as an integer >= 1"),
    ("learning rate range touching 0", ("space.learning_rate", {"type": "float", "low": 0.0, "high": 0.1}), [],
     "reaches 0.0; model mlp reads learning_rate as a number > 0"),
    ("momentum up to 1", ("space.momentum.high", 1.0), [], "reaches 1.0; model mlp reads momentum"),
    ("fixed value the model refuses", ("space.activation", "relu6"), [],
     "space.activation: 'relu6'; model mlp reads activation as one of"),
    ("unknown loss", ("space.loss", "mse"), [], "model mlp reads loss as one of categorical_crossentropy"),
    ("unknown schedule", ("space.lr_schedule", "linear"), [], "reads lr_schedule as one of constant"),
    ("unknown regularizer", ("space.regularization", {"type": "choice", "values": ["l1", "l3"]}), [],
     "reaches 'l3'"),
    ("negative regularization strength", ("space.regularization_strength", -0.1), [],
     "reads regularization_strength as a number >= 0"),
    ("cnn kernel of size 0", ("trainable", "cnn"), ["--set", "space={kernel_size: 0}"],
     "space.kernel_size: 0; model cnn reads kernel_size as an integer >= 1"),
    ("cnn on tabular data", ("trainable", "cnn"), ["--set", "space={learning_rate: 0.01}", "--set", "data=csv:{rows}"],
     "trainable: model cnn needs image input (height, width, channels); the data has rows of shape (2,)"),
    ("not a model builder", ("trainable", "json:dumps"), [],
     "trainable: json:dumps(config, (8, 8, 1), 10) raised TypeError"),
    ("model function returning no model", ("trainable", "tests.trainables.helpers:not_a_model"), [],
     "must return a keras.Model; got str"),
    ("trainable module raising on import", ("trainable", "tests.scripts.broken_user_code:build"), [],
     "trainable: importing 'tests.scripts.broken_user_code' raised RuntimeError: broken on import"),
    ("space module raising on import", ("space", "tests.scripts.broken_user_code"), [],
     "space: importing 'tests.scripts.broken_user_code' raised RuntimeError: broken on import"),
    ("space file that exits the program", ("space", str(ROOT / "setup.py")), [], "setup.py failed to load: SystemExit"),
    ("published configuration contradicting a pin",
     ("strategy", {"name": "manual", "configs": [{"source": "a paper", "params": {"optimizer": "sgd"}}]}),
     ["--set", "fix={optimizer: adam}"], "strategy.configs[0].params.optimizer: 'sgd' contradicts the pinned value"),
    # --- several objectives and constraints ------------------------------------------------------
    ("metric and mode lists of different lengths", ("metric", ["val_accuracy", "params"]), ["--set", "mode=[max]"],
     "mode: 1 mode for 2 metrics ['val_accuracy', 'params']; give one mode per metric, e.g. mode: [max, min]"),
    ("mode list for one metric", ("mode", ["max"]), [], "mode: a list ['max'] needs metric as a list"),
    ("second mode contradicting its metric", ("metric", ["val_accuracy", "params"]), ["--set", "mode=[max, max]"],
     "mode[1]: max contradicts metric params, which is better when smaller"),
    ("second metric never reported", ("metric", ["val_accuracy", "val_auc"]), [],
     "metric: trials never report 'val_auc'"),
    ("constraint on an unreported metric", ("constraints", {"val_f1": {"min": 0.9}}), [],
     "constraints.val_f1: trials never report 'val_f1'; they report loss, accuracy, val_loss, val_accuracy; add "
     "`metrics: [f1]`"),
    ("constraint bound misspelt", ("constraints", {"params": {"maximum": 5000}}), [],
     "constraints.params.maximum: unknown key; allowed: max, min"),
    ("constraint with min above max", ("constraints", {"params": {"min": 9, "max": 1}}), [],
     "constraints.params: min 9 is above max 1"),
    ("tpe with several objectives under a scheduler", ("metric", ["val_accuracy", "params"]),
     ["--set", "strategy={name: tpe, scheduler: asha}"],
     "strategy.scheduler: asha stops trials by val_accuracy alone, and tpe with several objectives cannot learn"),
    # --- options against each other and against the libraries below ----------------------------
    ("pbt perturbing a choice", ("strategy", {"name": "pbt", "perturbation_interval": 1, "perturb": ["optimizer"]}),
     [], "strategy.perturb: optimizer is choice adam, sgd; PBT perturbs float hyperparameters only"),
    ("pbt interval reaching the last epoch", ("strategy", {"name": "pbt"}), [],
     "strategy.perturbation_interval: 4 is not below epochs (2)"),
    ("pbt population of one", ("strategy", {"name": "pbt", "population": 1}), [],
     "strategy.population: must be >= 2, got 1"),
    ("sha first rung after the last epoch", ("strategy", {"name": "sha", "min_epochs": 5}), [],
     "strategy.min_epochs: 5 is above epochs (2)"),
    ("asha grace period after the last epoch", ("strategy", {"name": "asha", "grace_period": 3}), [],
     "strategy.grace_period: 3 is above epochs (2)"),
    ("scheduler grace period after the last epoch",
     ("strategy", {"name": "random", "scheduler": {"name": "asha", "grace_period": 3}}), [],
     "strategy.scheduler.grace_period: 3 is above epochs (2)"),
    ("NaN option", ("strategy", {"name": "bayes", "kappa": float("nan")}), [], "strategy.kappa: must be a finite number"),
    ("infinite option", ("strategy", {"name": "bayes", "xi": float("inf")}), [], "strategy.xi: must be a finite number"),
    ("NaN fraction", ("validation_fraction", float("nan")), [], "validation_fraction: must be a finite number"),
    ("infinite CPUs", ("resources", {"cpu": float("inf")}), [], "resources.cpu: must be a finite number"),
    ("NaN bound in the space", ("space.learning_rate.low", float("nan")), [], "low must be a finite number"),
    ("fractional epochs", ("epochs", 2.5), [], "epochs: expected an integer, got 2.5"),
    ("infinite epochs", ("epochs", float("inf")), [], "epochs: expected an integer, got inf"),
    ("a batch size no machine holds", ("batch_size", 10**20), [], "batch_size: must be <= 16,777,216, got 1"),
    ("a billion epochs", ("epochs", 10**9), [], "epochs: must be <= 100,000, got 1,000,000,000"),
    ("a batch larger than the training data", ("batch_size", 5000), [],
     "batch_size: 5,000 is more than the 1,437 training examples of digits; allowed: 1 to 1,437"),
    ("a tuned batch size beyond the training data", ("space.batch_size", {"type": "choice", "values": [32, 4096]}), [],
     "space.batch_size: 4,096 is more than the 1,437 training examples of digits"),
    ("a tuned batch size beyond any machine", ("space.batch_size", {"type": "int", "low": 32, "high": 10**20}), [],
     "model mlp reads batch_size as an integer >= 1 and <= 16,777,216"),
    ("seed beyond 32 bits", ("seed", 2**32), [], "seed: must be <= 4,294,967,295, got 4,294,967,296"),
    ("strategy seed beyond 32 bits", ("strategy.seed", 2**32), [], "strategy.seed: must be <= 4,294,967,295"),
    ("mode in capitals", ("mode", "MAX"), [], "mode: 'MAX' is not allowed; use max or min"),
    ("misspelt metric", ("metric", "val_acc"), [],
     "metric: trials never report 'val_acc'; they report loss, accuracy, val_loss, val_accuracy (did you mean"),
    # --- tasks, metrics and the user's compiled model ----------------------------------------------
    ("unknown metric", ("metric", "val_acuracy"), ["--set", "metrics=[auc]"],
     "metric: trials never report 'val_acuracy'; they report loss, accuracy, auc, val_loss, val_accuracy, val_auc "
     "(did you mean 'val_accuracy'?)"),
    ("a metric the experiment does not compile", ("metric", "val_auc"), [],
     "metric: trials never report 'val_auc'; they report loss, accuracy, val_loss, val_accuracy; add `metrics: [auc]`"),
    ("misspelt name in metrics", ("metrics", ["aucc"]), [],
     "metrics: unknown metric 'aucc' for task classification; allowed: accuracy, auc, pr_auc, precision, recall, f1, "
     "top_k_categorical_accuracy (did you mean 'auc'?)"),
    ("val_ name in metrics", ("metrics", ["val_auc"]), [], "metrics: unknown metric 'val_auc' for task classification"),
    ("a regression metric under classification", ("metrics", ["mae"]), [],
     "metrics: mae measures regression, and this experiment's task is classification"),
    ("metric/mode contradiction", ("metric", "val_loss"), ["--set", "mode=max"],
     "mode: max contradicts metric val_loss, which is better when smaller; write mode: min, or leave mode out"),
    ("custom metric without mode", ("trainable", "tests.trainables.compiled_model:regressor"),
     ["--set", "data=diabetes", "--set", "task=regression", "--set", "space={units: {type: choice, values: [8, 16]}}",
      "--set", "metric=val_my_mae"],
     "mode: required for metric val_my_mae, whose direction tunelab does not know; write mode: max"),
    ("misspelt custom metric", ("trainable", "tests.trainables.compiled_model:regressor"),
     ["--set", "data=diabetes", "--set", "task=regression", "--set", "space={units: 8}", "--set", "metric=val_my_mea"],
     "metric: trials never report 'val_my_mea'; they report loss, my_mae, val_loss, val_my_mae (did you mean"),
    ("metrics for a model that compiles its own", ("trainable", "tests.trainables.compiled_model:regressor"),
     ["--set", "data=diabetes", "--set", "task=regression", "--set", "space={units: 8}", "--set", "metrics=[rmse]"],
     "metrics: tests.trainables.compiled_model:regressor returns a compiled model, which reports the metrics of its"),
    ("a compile-time hyperparameter a compiled model ignores",
     ("trainable", "tests.trainables.compiled_model:fixed_optimizer"),
     ["--set", "data=diabetes", "--set", "task=regression"],
     "space.optimizer: tests.trainables.compiled_model:fixed_optimizer returns a compiled model, whose optimizer and "
     "loss are its own, and optimizer never reaches it"),
    ("unknown task", ("task", "regresion"), [], "task: 'regresion' is not a task; allowed: classification, regression "
     "(did you mean 'regression'?)"),
    ("a classification data set under regression", ("task", "regression"), ["--set", "space={learning_rate: 0.01}"],
     "task: regression, but digits is a classification data set; use task: classification"),
    ("continuous target as classification", ("data", "csv:{continuous}"), [],
     "task: classification, but the target of csv:"),
    ("regression loss in a classification space", ("space.loss", {"type": "choice", "values": ["mse", "huber"]}), [],
     "space.loss: choice mse, huber reaches 'mse'; model mlp reads loss as one of categorical_crossentropy, "
     "categorical_focal_crossentropy, categorical_hinge, mean_squared_error under task: classification"),
    ("classification loss in a regression space", ("space.loss", "categorical_crossentropy"),
     ["--set", "task=regression", "--set", "data=diabetes"],
     "space.loss: 'categorical_crossentropy'; model mlp reads loss as one of mse, mae, huber under task: regression"),
    ("csv without its target column", ("data", {"source": "csv:{rows}", "target": "price"}), [],
     "has no 'price' column; columns are ['a', 'b', 'label']"),
    # --- bounded work before the first message ----------------------------------------------------
    ("a trillion samples", ("strategy.num_samples", 10**12), [], "strategy.num_samples: must be <= 10,000"),
    ("a grid limit above the most a plan may hold", ("strategy", {"name": "grid", "max_trials": 2_000_000}), [],
     "strategy.max_trials: must be <= 1,000,000"),
    ("deep nesting", "name: " + "[" * 3000 + "]" * 3000 + "\n", [], "nested more than 50 levels deep"),
    ("alias bomb", "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]) + "\n",
     [], "more than 100,000 values once its aliases (&/*) are expanded"),
    ("file over a megabyte", lambda: "name: bad\ndescription: " + "y" * 1_100_000 + "\n", [],
     "an experiment file may hold at most 1,000,000"),
    ("a long value is quoted short", ("epochs", "x" * 100_000), [], "epochs: expected an integer, got 'xxxx"),
    ("a long value in the space is quoted short", ("space.learning_rate.low", "y" * 100_000), [],
     "space.learning_rate.low: Float('yyyy"),
    # --- files and flags -------------------------------------------------------------------------
    ("not UTF-8", "name: bad\ndescription: caf\xe9\n".encode("latin-1"), [], "bad.yaml: not UTF-8 text (byte 0xe9"),
    ("--set value that is not YAML", None, ["--set", "epochs=[1"], "--set 'epochs=[1': invalid YAML"),
    ("--set with an empty key part", None, ["--set", ".epochs=3"], "'.epochs' has an empty part"),
    ("--set with a doubled dot", None, ["--set", "strategy..num_samples=3"], "'strategy..num_samples' has an empty part"),
    ("relative --storage", None, ["--storage", "relative/results"], "--storage: 'relative/results' is relative"),
    ("--name leaving the storage", None, ["--name", "../elsewhere"], "--name: '../elsewhere' must be one folder name"),
    ("--name with a separator", None, ["--name", "a/b"], "--name: 'a/b' must be one folder name"),
    ("--resume of a run that does not exist", None, ["--resume", "--name", "nothere"], "nothere does not exist"),
    ("NaN in the features", ("data", "tests.trainables.data.data_functions:nan_feature"), [],
     "data: tests.trainables.data.data_functions:nan_feature: train x holds nan at row 7"),
    ("validation label absent from training", ("data", "tests.trainables.data.data_functions:unseen_validation_label"),
     [], ":unseen_validation_label: its val part holds label 99, which the training labels never hold"),
]


def write_case(tmp_path: Path, change) -> Path:
    """The experiment file of a case: YAML text or bytes as given, or BASE with one key changed."""
    path = tmp_path / "bad.yaml"
    np.savez(tmp_path / "bad.npz", images=np.zeros((4, 2)))
    (tmp_path / "rows.csv").write_text("a,b,label\n" + "".join(f"{i},{2 * i},{i % 2}\n" for i in range(40)))
    (tmp_path / "continuous.csv").write_text("a,label\n" + "".join(f"{i},{0.37 * i + 0.1:.2f}\n" for i in range(40)))
    change = change() if callable(change) else change
    if isinstance(change, bytes):
        path.write_bytes(change)
        return path
    if isinstance(change, str):
        path.write_text(change)
        return path
    raw = {**BASE, "storage": str(tmp_path / "results")}
    if change is not None:
        key, value = change
        value = _filled(value, tmp_path)
        raw = set_key(raw, key, value)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _filled(value, tmp_path: Path):
    """A case's value with the files write_case makes named by their paths ({bad_npz}, {rows}, {continuous})."""
    if isinstance(value, dict):
        return {key: _filled(item, tmp_path) for key, item in value.items()}
    if isinstance(value, str):
        return value.format(bad_npz=tmp_path / "bad.npz", rows=tmp_path / "rows.csv",
                            continuous=tmp_path / "continuous.csv")
    return value


@pytest.mark.parametrize("case, change, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, change, args, message, tmp_path, capsys):
    experiment = write_case(tmp_path, change)

    code = main([str(experiment), *(arg.replace("{rows}", str(tmp_path / "rows.csv")) for arg in args)], prog="launch.py")

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("launch.py: error: "), err
    assert message in err[0]
    assert len(err[0]) < 480  # values are quoted short (the longest line lists the 27 top-level keys)
    assert not (tmp_path / "results").exists() and not (ROOT / "results").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz", "bad.yaml", "continuous.csv", "rows.csv"]


def test_the_table_covers_at_least_80_mistakes():
    assert len(CASES) >= 80 and len({case for case, *_ in CASES}) == len(CASES)


def test_a_name_that_is_neither_a_file_nor_a_shipped_experiment(capsys):
    assert main(["quikstart"], prog="launch.py") == 2
    assert capsys.readouterr().err.strip() == (
        "launch.py: error: quikstart: experiment file does not exist; shipped experiments: breast_cancer_auc, "
        "diabetes_regression, digits_asha, "
        "digits_bayes, digits_bayes_asha, digits_grid, digits_hyperband, digits_manual, digits_ofat, digits_pareto, digits_pbt, "
        "digits_random, digits_sha, digits_tpe, quickstart")


def test_a_model_module_importing_tensorflow_leaves_tunelabs_line_alone_on_stderr(tmp_path):
    """TensorFlow's C++ lines (oneDNN, cuda drivers, cuInit, cpu_feature_guard) used to come first. A new
    user's shell sets no TF_CPP_MIN_LOG_LEVEL (tests/conftest.py does, for this process): none here."""
    experiment = write_case(tmp_path, ("trainable", "tests.scripts.tensorflow_user_code:build"))
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "launch.py"), str(experiment)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "launch.py: error: trainable: tests.scripts.tensorflow_user_code:build(config, (8, 8, 1), 10) raised "
        "ValueError: this model refuses every configuration"], done.stderr


@pytest.mark.slow
def test_resources_no_node_can_hold_fail_fast_from_the_command_line(tmp_path):
    experiment = write_case(tmp_path, ("resources", {"cpu": 1, "gpu": 1}))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "launch.py"), str(experiment)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()  # Ray's token warning and start-up lines stay out of it
    assert len(lines) == 1 and lines[0].startswith(
        "launch.py: error: resources: a trial needs 1 CPU and 1 GPU, but no node"), lines
    assert not (tmp_path / "results").exists()
