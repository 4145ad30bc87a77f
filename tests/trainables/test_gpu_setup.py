"""The GPU setup's decisions, as plain functions: a share's memory limit, the devices a model is mirrored on."""
from __future__ import annotations

import pytest

from tunelab.trainables.gpu_setup import (
    CUDA_CONTEXT_MB, TrialGpu, configure_gpus, memory_limit_mb, mirrored_devices, replicas, visible_ids,
)


def test_a_share_of_a_card_is_limited_so_that_the_shares_fit_the_card():
    assert memory_limit_mb(1, 81_559) is None and memory_limit_mb(2, 81_559) is None  # whole cards grow
    half = memory_limit_mb(0.5, 81_559)
    assert half == 40_779 - CUDA_CONTEXT_MB
    assert 2 * (half + CUDA_CONTEXT_MB) <= 81_559  # two 0.5 trials, each with its CUDA context, fit one card
    assert 4 * (memory_limit_mb(0.25, 24_576) + CUDA_CONTEXT_MB) <= 24_576
    assert memory_limit_mb(0.01, 1_000) == 1  # never zero: TensorFlow would read 0 as no device
    with pytest.raises(ValueError):
        memory_limit_mb(0, 1_000)


def test_several_whole_gpus_mirror_the_model_and_fewer_visible_than_reserved_is_an_error(monkeypatch):
    gpus = ["/device:GPU:0", "/device:GPU:1", "/device:GPU:2"]
    assert [replicas(g) for g in (0, 0.5, 1, 2, 4)] == [1, 1, 1, 2, 4]
    assert mirrored_devices(0.5, gpus) is None and mirrored_devices(1, gpus) is None
    assert mirrored_devices(2, gpus) == gpus[:2]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(RuntimeError, match=r"reserved 2 GPUs but TensorFlow sees 1 \(CUDA_VISIBLE_DEVICES='3'\)"):
        mirrored_devices(2, gpus[:1])


def test_the_cards_ray_assigned_are_named_as_ray_named_them(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,GPU-5d2a")
    assert visible_ids(2) == ["3", "GPU-5d2a"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_ids(2) == ["0", "1"]
    assert TrialGpu(0, "3", "NVIDIA H100 80GB HBM3", 40_179).describe() == (
        "GPU 0 (CUDA device 3): NVIDIA H100 80GB HBM3, memory limit 40,179 MB")
    assert TrialGpu(1, "4", "NVIDIA H100 80GB HBM3", None).describe().endswith("memory grows")


def test_a_trial_without_gpus_sets_up_none():
    assert configure_gpus(0) == []
