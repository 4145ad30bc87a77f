"""The driver and its record: prepare, start Ray and fit (runner), resume, the run folder's lock,
interrupts, progress and Ray's output, the per-epoch history, best checkpoints, tracking in MLflow,
cluster checks, and every use of Ray's private API (ray_internals)."""
