"""The files of a trial's checkpoint, named once: the trainables write them, resume and analysis read them.

No Keras here, so analysis can find a run's best model without importing TensorFlow.
"""
from __future__ import annotations

MODEL_FILE = "model.keras"   # the compiled model, optimizer state included
STATE_FILE = "state.json"    # {"epoch": finished epochs, "metrics": {...}}; the KerasTuner trainable adds "scores"
BEST_DIR = "best_checkpoint"  # best_checkpoint-epochN/ in the trial folder: a copy of its best-scoring checkpoint


def model_files(executions: int) -> list[str]:
    """One model file per execution of a trial (KerasTuner's executions_per_trial)."""
    return [MODEL_FILE] if executions == 1 else [f"model_{k}.keras" for k in range(executions)]
