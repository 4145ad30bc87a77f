"""TensorFlow settings in a worker process that an earlier trial already initialised."""

from __future__ import annotations

import logging
import os

from trainables.tf_setup import configure_tensorflow


def test_a_reused_worker_keeps_its_thread_pools_and_says_so(monkeypatch, caplog):
    import tensorflow as tf

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    tf.constant(1.0) + 1  # initialises TensorFlow, as a previous trial in this process did
    running = tf.config.threading.get_intra_op_parallelism_threads()

    with caplog.at_level(logging.WARNING, logger="trainables.tf_setup"):
        configure_tensorflow(cpus=running + 3, gpus=0)

    assert f"the trial asked for {running + 3}" in caplog.text
    assert tf.config.threading.get_intra_op_parallelism_threads() == running
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
