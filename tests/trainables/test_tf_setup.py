"""TensorFlow settings in a worker process that an earlier trial already initialised."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from tests.trainables.helpers import custom_gradients
from tunelab.trainables.tf_setup import configure_tensorflow, hidden_modules, released_custom_gradients


def test_a_reused_worker_keeps_its_thread_pools_and_says_so(monkeypatch, caplog):
    import tensorflow as tf

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    tf.constant(1.0) + 1  # initialises TensorFlow, as a previous trial in this process did
    running = tf.config.threading.get_intra_op_parallelism_threads()

    with caplog.at_level(logging.WARNING, logger="tunelab.trainables.tf_setup"):
        configure_tensorflow(cpus=running + 3, gpus=0)

    assert f"the trial asked for {running + 3}" in caplog.text
    assert tf.config.threading.get_intra_op_parallelism_threads() == running
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""


def test_a_worker_waits_for_a_stopped_trials_last_epoch_before_reuse(monkeypatch):
    # Ray refuses to reuse a worker whose stopped trial is still inside an epoch after
    # TUNE_FUNCTION_THREAD_TIMEOUT_S (2 s by default) and fails the next trial on it.
    monkeypatch.delenv("TUNE_FUNCTION_THREAD_TIMEOUT_S", raising=False)
    configure_tensorflow(cpus=1, gpus=0)
    assert int(os.environ["TUNE_FUNCTION_THREAD_TIMEOUT_S"]) >= 60


def test_training_leaves_no_gradient_registration_behind(digits):
    import keras

    model = keras.Sequential([keras.Input(shape=digits.input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(digits.num_classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = custom_gradients()
    with released_custom_gradients():
        model.fit(digits.x_train[:64], digits.y_train[:64], epochs=1, verbose=0)
        registered = custom_gradients() - before
    # Keras' optimizer registers one per traced train step, each holding the step's graph.
    assert registered
    assert custom_gradients() == before


def test_a_users_own_custom_gradient_stays_registered():
    import tensorflow as tf

    @tf.custom_gradient
    def clipped_identity(x):
        return tf.identity(x), lambda dy: tf.clip_by_value(dy, -1.0, 1.0)

    @tf.function
    def step(x):  # cached across trials: its graph keeps asking for the registration it made
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = clipped_identity(x) * 5.0
        return tape.gradient(y, x)

    before = custom_gradients()
    with released_custom_gradients():
        assert float(step(tf.constant(2.0))) == 1.0
    assert len(custom_gradients() - before) == 1
    assert float(step(tf.constant(3.0))) == 1.0  # the next trial in this worker still runs it


def test_hidden_modules_refuse_to_import_only_inside_the_block():
    assert "tunelab_never_imported" not in sys.modules
    with hidden_modules(("tunelab_never_imported", "os")):
        with pytest.raises(ImportError):
            import tunelab_never_imported  # noqa: F401
        import os as already_there  # a module imported before stays importable

    assert already_there is os
    assert "tunelab_never_imported" not in sys.modules  # afterwards it imports (or fails to) as usual
