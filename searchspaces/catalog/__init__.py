"""Ready-made spaces, one declarative module each; every module exports SPACE."""
from __future__ import annotations

CATALOG = ("mlp", "cnn")
