"""One KerasTuner script, run under keras_tuner and under tunelab: wall time and best val_accuracy.

    python scripts/compare_kerastuner.py                      # RandomSearch, 8 trials, 5 epochs, digits
    python scripts/compare_kerastuner.py --tuner hyperband --epochs 9 --concurrency 4

The script below `run_script` is KerasTuner code; the two runs differ only in the module passed
as `kt` (keras_tuner, or tunelab.keras_tuner). keras_tuner trains its trials one
after another in this process; tunelab runs them on Ray, `--concurrency` at a time.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_model(hp):
    """The issue's build_model, for 8x8 digits, with a conditional scope and a per-layer loop."""
    import keras

    model = keras.Sequential()
    model.add(keras.Input(shape=(8, 8, 1)))
    model.add(keras.layers.Conv2D(hp.Int("filters", min_value=10, max_value=100, step=10), (3, 3),
                                  activation="relu", padding="same"))
    model.add(keras.layers.MaxPooling2D())
    model.add(keras.layers.Flatten())
    head = hp.Choice("head", ["dense", "linear"])
    with hp.conditional_scope("head", ["dense"]):
        if head == "dense":
            for i in range(hp.Int("num_layers", 1, 3)):
                model.add(keras.layers.Dense(hp.Int(f"units_{i}", 32, 128, step=32), activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_script(kt, args, data, directory: str, **ray_options):
    """The user's script; returns the best val_accuracy of the best model."""
    x_train, y_train, x_test, y_test = data
    if args.tuner == "hyperband":
        tuner = kt.tuners.Hyperband(build_model, objective="val_accuracy", max_epochs=args.epochs, factor=3,
                                    seed=args.seed, directory=directory, project_name="digits", **ray_options)
    else:
        tuner_class = {"random": kt.tuners.RandomSearch, "bayes": kt.tuners.BayesianOptimization}[args.tuner]
        tuner = tuner_class(build_model, objective="val_accuracy", max_trials=args.max_trials, seed=args.seed,
                            directory=directory, project_name="digits", **ray_options)
    tuner.search(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
                 batch_size=args.batch_size, verbose=0)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best_model = tuner.get_best_models(1)[0]
    _, accuracy = best_model.evaluate(x_test, y_test, verbose=0)
    return accuracy, best_hp.values


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    return x[:1400], data.target[:1400], x[1400:], data.target[1400:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuner", choices=("random", "bayes", "hyperband"), default="random")
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (hyperband: max_epochs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=0, help="tunelab trials at once (0: one per CPU)")
    parser.add_argument("--address", default=None, help="a Ray cluster for tunelab (default: a local Ray)")
    parser.add_argument("--only", choices=("both", "keras_tuner", "tunelab"), default="both")
    args = parser.parse_args(argv)

    data = digits()
    rows = []
    workdir = tempfile.mkdtemp(prefix="compare-kerastuner-")
    try:
        if args.only in ("both", "keras_tuner"):
            import keras_tuner

            started = time.monotonic()
            accuracy, values = run_script(keras_tuner, args, data, f"{workdir}/keras_tuner")
            rows.append(("keras_tuner", time.monotonic() - started, accuracy, values))
        if args.only in ("both", "tunelab"):
            import tunelab.keras_tuner as tunelab_kt

            started = time.monotonic()
            accuracy, values = run_script(tunelab_kt, args, data, f"{workdir}/tunelab",
                                          max_concurrent_trials=args.concurrency, address=args.address)
            rows.append(("tunelab (Ray)", time.monotonic() - started, accuracy, values))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    budget = f"{args.max_trials} trials x {args.epochs} epochs"
    if args.tuner == "hyperband":
        budget = f"max_epochs {args.epochs}"
    print(f"\n{args.tuner} search on digits, {budget}, batch {args.batch_size}, {os.cpu_count()} CPUs")
    print(f"{'library':<16}{'wall s':>9}{'best val_accuracy':>19}  best hyperparameters")
    for library, wall, accuracy, values in rows:
        print(f"{library:<16}{wall:>9.1f}{accuracy:>19.4f}  {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
