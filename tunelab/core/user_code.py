"""Imports the user's own modules (spaces, model functions): whatever they raise or exit with is one line.

A module that fails on import, or a file that is no module at all (`space: setup.py` runs
setuptools, which exits the program), is a mistake in the experiment, not a tunelab bug: it is
reported as the key that names it, with what the import raised. TensorFlow's C++ log lines, which
a module importing it prints, are kept out of the terminal (`tf_logs`), so that line stands alone.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from tunelab.core.errors import InputError, shorter
from tunelab.core.tf_logs import quiet_tensorflow_logs


def import_module(name: str, key: str, error: type[InputError]) -> ModuleType:
    """`importlib.import_module(name)`; `error` naming `key` if it cannot be imported."""
    try:
        with quiet_tensorflow_logs():  # the module may import TensorFlow: its C++ lines are not the user's news
            return importlib.import_module(name)
    except ImportError as raised:
        raise error(f"{key}: cannot import module {name!r} ({raised})") from None
    except (Exception, SystemExit) as raised:
        raise error(f"{key}: importing {name!r} raised {raised_line(raised)}") from None


def import_file(path: Path, key: str, error: type[InputError]) -> ModuleType:
    """The Python file at `path`, run as a module; `error` naming `key` for whatever it raises."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise error(f"{key}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        with quiet_tensorflow_logs():
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as raised:
        raise error(f"{key}: {path} failed to load: {raised_line(raised)}") from None
    return module


def raised_line(raised: BaseException) -> str:
    """`ValueError: the first line of its message`, cut short: what a user's code raised, for one line naming it."""
    text = str(raised).splitlines()[0] if str(raised) else ""
    return f"{type(raised).__name__}: {shorter(text)}" if text else type(raised).__name__
