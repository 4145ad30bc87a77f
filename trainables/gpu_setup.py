"""A trial's GPUs, set up in its worker before TensorFlow touches one.

TensorFlow fixes each card's memory policy when its context first initialises, and by default takes
all of a card's memory: two trials Ray placed on one card with `gpu: 0.5` would both try. So a whole
GPU gets memory growth, and a share of one gets a logical device limited to that share of the card
(less what a CUDA context itself takes), so that trials sharing a card fit by construction. Ray's
`CUDA_VISIBLE_DEVICES` decides which cards a trial sees; nothing here changes it. Several whole
GPUs make the trial build its model under MirroredStrategy over them. The decisions are plain
functions; `configure_gpus` applies them.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

CUDA_CONTEXT_MB = 600  # what a process' CUDA context and cuDNN/cuBLAS handles take outside TensorFlow's limit
NVIDIA_SMI_TIMEOUT_S = 10


@dataclass(frozen=True)
class TrialGpu:
    """One GPU as the trial runs on it."""

    index: int
    """TensorFlow's GPU:index within the trial (0 for a trial's only GPU)."""
    visible_as: str
    """Its entry in CUDA_VISIBLE_DEVICES as Ray assigned it (the card's number or UUID on the node)."""
    name: str
    memory_limit_mb: int | None
    """The trial's share of the card's memory; None: a whole card, whose memory grows as needed."""

    def describe(self) -> str:
        limit = "memory grows" if self.memory_limit_mb is None else f"memory limit {self.memory_limit_mb:,} MB"
        return f"GPU {self.index} (CUDA device {self.visible_as}): {self.name}, {limit}"


def memory_limit_mb(gpus: float, card_mb: int, context_mb: int = CUDA_CONTEXT_MB) -> int | None:
    """The memory a trial reserving `gpus` of a `card_mb` card may use; None for a whole GPU or more.

    Each process sharing a card also holds a CUDA context outside TensorFlow's limit, so a share
    is the fraction of the card less one context: two 0.5 trials together stay within the card.
    """
    if gpus <= 0:
        raise ValueError(f"gpus must be > 0; got {gpus}")
    if gpus >= 1:
        return None
    return max(1, int(gpus * card_mb) - context_mb)


def replicas(gpus: float) -> int:
    """How many devices a trial's model is mirrored over: its whole GPUs when it has several, else 1."""
    return int(gpus) if gpus >= 2 and gpus == int(gpus) else 1


def mirrored_devices(gpus: float, logical_gpus: Sequence[str]) -> list[str] | None:
    """The devices MirroredStrategy spans for a trial reserving `gpus`; None when one device trains it.

    Fewer visible GPUs than reserved means Ray's assignment and TensorFlow disagree (a CUDA build
    of TensorFlow missing, or CUDA_VISIBLE_DEVICES changed by the user's code): an error, not a
    silent single-GPU trial.
    """
    wanted = replicas(gpus)
    if wanted == 1:
        return None
    if len(logical_gpus) < wanted:
        raise RuntimeError(
            f"the trial reserved {wanted} GPUs but TensorFlow sees {len(logical_gpus)} "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r}); "
            f"is TensorFlow's CUDA build installed (pip install 'tunelab[gpu]')?")
    return list(logical_gpus[:wanted])


def visible_ids(count: int) -> list[str]:
    """The CUDA_VISIBLE_DEVICES entries of the first `count` GPUs TensorFlow lists (their order)."""
    listed = [entry.strip() for entry in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if entry.strip()]
    return [listed[k] if k < len(listed) else str(k) for k in range(count)]


def card_memory_mb(visible_as: str) -> int | None:
    """The card's total memory from nvidia-smi; None when it cannot tell (no nvidia-smi, an odd id)."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    try:
        answer = subprocess.run(
            [executable, "--query-gpu=memory.total", "--format=csv,noheader,nounits", f"--id={visible_as}"],
            capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=True)
        return int(answer.stdout.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def configure_gpus(gpus: float) -> list[TrialGpu]:
    """Memory growth on each of a trial's whole GPUs, or its share of the card as a memory limit.

    Must run before the trial's first TensorFlow op. A reused worker whose context an earlier trial
    initialised keeps the earlier policy (Ray reuses a worker only for trials of the same resources).
    """
    import tensorflow as tf

    if gpus == 0:
        return []
    physical = tf.config.list_physical_devices("GPU")
    chosen = []
    for index, (device, visible_as) in enumerate(zip(physical, visible_ids(len(physical)))):
        name = tf.config.experimental.get_device_details(device).get("device_name", device.name)
        card_mb = card_memory_mb(visible_as) if gpus < 1 else None
        limit = memory_limit_mb(gpus, card_mb) if card_mb is not None else None
        try:
            if limit is None:
                if gpus < 1:
                    logger.warning("the size of %s is unknown (no nvidia-smi): its memory grows instead of "
                                   "being limited to the trial's share", name)
                tf.config.experimental.set_memory_growth(device, True)
            else:
                tf.config.set_logical_device_configuration(
                    device, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
        except RuntimeError:
            logger.warning("GPU %s was already initialised in this worker; it keeps its earlier memory policy",
                           name)
        chosen.append(TrialGpu(index, visible_as, name, limit))
    return chosen


def trial_strategy(gpus: float) -> tf.distribute.Strategy:
    """The strategy whose scope a trial builds, compiles and restores its model in: MirroredStrategy over its
    GPUs when it has several, else the one in scope (TensorFlow's default, or one the caller entered)."""
    import tensorflow as tf

    devices = mirrored_devices(gpus, [device.name for device in tf.config.list_logical_devices("GPU")])
    return tf.distribute.get_strategy() if devices is None else mirrored_strategy(devices)


def mirrored_strategy(devices: Sequence[str]) -> tf.distribute.MirroredStrategy:
    """MirroredStrategy over `devices`; all-reduce by NCCL on GPUs, by copies elsewhere (CPUs in tests)."""
    import tensorflow as tf

    on_gpus = all("GPU" in device.upper() for device in devices)
    cross_device = None if on_gpus else tf.distribute.ReductionToOneDevice()
    return tf.distribute.MirroredStrategy(list(devices), cross_device_ops=cross_device)
