"""Ready-made spaces, one declarative module each; every module exports SPACES (one per task) and SPACE
(the classification one)."""
from __future__ import annotations

CATALOG = ("mlp", "cnn")
