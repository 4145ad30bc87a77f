"""The one base of every user mistake tunelab reports: the commands print it as one line and exit 2.

Anything else that escapes is a bug and keeps its traceback (exit 1). Every layer's own error
type (the spec's, the search space's, the data's, a results folder's) derives from InputError.
"""
from __future__ import annotations

from typing import Any

SHOWN = 80  # characters of a value quoted in a message: a 10 MB value must not become the message


class InputError(ValueError):
    """A mistake in what the user wrote or pointed at; the message is one line naming the key."""


def shown(value: Any) -> str:
    """`repr(value)`, cut to about 80 characters, for quoting what was found in a message."""
    return shorter(repr(value))


def shorter(text: str) -> str:
    """`text` cut to about 80 characters, saying how long it was."""
    return text if len(text) <= SHOWN else f"{text[:SHOWN - 15]}... [{len(text)} chars]"
