"""The one error type of experiment definitions, shared by the spec and the strategy registry."""
from __future__ import annotations

from tunelab.core.errors import InputError


class SpecError(InputError):
    """The experiment definition is invalid; the message is one line fit for a user."""
