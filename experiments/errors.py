"""The one error type of experiment definitions, shared by the spec and the strategy registry."""
from __future__ import annotations


class SpecError(ValueError):
    """The experiment definition is invalid; the message is one line fit for a user."""
