"""An out-of-memory trial is named (stop reason out_of_memory, a one-line cause) and not retried unless asked."""
from __future__ import annotations

import pytest

import tunelab
from tunelab.analysis.summary import errored_lines
from tunelab.core.out_of_memory import (
    TrialOutOfMemory, cause_line, is_out_of_memory, named_out_of_memory, out_of_memory_cause,
)
from tunelab.experiments.spec import SpecError, spec_from_dict

SPACE = {"width": {"type": "choice", "values": [16, 4096]}}


def test_the_cause_names_batch_parameters_and_where_it_ran():
    error = MemoryError("OOM when allocating tensor with shape[512,1024,1024]\nmore detail")
    assert cause_line(error, batch_size=512, parameters=2_345_678, devices=[
        "GPU 0 (CUDA device 3): NVIDIA H100 80GB HBM3, memory limit 40,360 MB"]) == (
        "out of memory: batch size 512, 2,345,678 parameters, on GPU 0 (CUDA device 3): NVIDIA H100 80GB HBM3, "
        "memory limit 40,360 MB: OOM when allocating tensor with shape[512,1024,1024]")
    wrapped = MemoryError("Exception encountered when calling AllocationFails.call().\n\n\x1b[1mOOM when allocating "
                          "tensor\x1b[0m\n")  # as Keras wraps a layer's error
    assert cause_line(wrapped, batch_size=1, parameters=1, devices=[]).endswith("(no GPU): OOM when allocating tensor")
    assert cause_line(error, batch_size=None, parameters=None, devices=[]).startswith(
        "out of memory: batch size unknown, model not built yet, on the host (no GPU): OOM when")


def test_only_memory_errors_are_renamed_and_the_driver_finds_them_in_the_error_text():
    import tensorflow as tf

    assert is_out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM")) and is_out_of_memory(MemoryError())
    assert not is_out_of_memory(ValueError("OOM"))
    with pytest.raises(TrialOutOfMemory, match=r"^out of memory: batch size 8, 10 parameters") as raised:
        with named_out_of_memory(batch_size=8, parameters=lambda: 10, devices=[]):
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    with pytest.raises(ValueError):
        with named_out_of_memory(batch_size=8, parameters=lambda: 10, devices=[]):
            raise ValueError("not memory")
    ray_text = f"Failure # 1\nTraceback ...\ntunelab.core.out_of_memory.TrialOutOfMemory: {raised.value}\n"
    assert out_of_memory_cause(ray_text) == str(raised.value)
    assert out_of_memory_cause("ValueError: bad\n") is None and out_of_memory_cause(None) is None


def test_retry_out_of_memory_is_true_or_false():
    base = {"name": "x", "trainable": "mlp", "data": "digits", "space": {"units_1": 8}}
    assert spec_from_dict(base).retry_out_of_memory is False
    assert spec_from_dict({**base, "retry_out_of_memory": True}).retry_out_of_memory is True
    with pytest.raises(SpecError, match=r"^retry_out_of_memory: expected true or false, got 'yes'$"):
        spec_from_dict({**base, "retry_out_of_memory": "yes"})


@pytest.mark.slow
def test_a_trial_out_of_memory_stops_once_named_while_the_others_train(ray_session, tmp_path):
    experiment = {"name": "oom", "trainable": "tests.tunelab.helpers:mlp_out_of_memory_when_wide", "data": "digits",
                  "space": SPACE, "strategy": "grid", "epochs": 2, "batch_size": 64, "max_failures": 2}
    results = tunelab.run(experiment, storage=str(tmp_path), name="run")

    trials = results.trials.set_index("stop_reason")
    assert sorted(trials.index) == ["completed", "out_of_memory"]
    oom = trials.loc["out_of_memory"]
    assert oom["failures"] == 1  # max_failures 2 would have tried it twice more
    assert oom["stop_detail"] == ("out of memory: batch size 64, 307,211 parameters, on the host (no GPU): "
                                  "OOM when allocating tensor with shape[64,4096]")
    assert "TrialOutOfMemory: out of memory" in open(oom["log"]).read()
    assert oom["gpus"] is None  # a CPU trial records no GPU
    [line] = errored_lines(results)
    assert line.startswith(f"out_of_memory: trial {oom['trial_id']}: out of memory: batch size 64")
