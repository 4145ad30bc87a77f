"""Experiment YAML, read strictly and with bounded work: what the user wrote, or one line saying why not.

PyYAML's safe loader lets the last of two equal keys win silently, expands aliases without limit
(a few lines can stand for billions of values), recurses once per nesting level, and decodes
whatever bytes it is given. Each of those would run an experiment other than the one written, or
hang before the first message; here each is a SpecError naming the file or the key.

Numbers are read as YAML 1.2 reads them: PyYAML follows YAML 1.1, where `1e-4` (no dot) is the
string '1e-4', and every ML user writes learning rates that way.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tunelab.experiments.errors import SpecError

MAX_BYTES = 1_000_000    # an experiment file is a few hundred bytes; a megabyte is a mistake
MAX_DEPTH = 50           # mappings and lists inside each other
MAX_VALUES = 100_000     # scalars, lists and mappings once aliases are expanded


# YAML 1.2's core-schema float, which also matches exponents without a dot: 1e-4, 5e3, -2E-3.
_YAML_1_2_FLOAT = re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and deep nesting while it composes the document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        own = [key for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]  # written in this mapping
        self.flatten_mapping(node)  # `<<: *defaults` merges first; a key written here overrides, as YAML says
        seen: dict[Any, int] = {}
        for key_node in own:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                raise _Refused(f"{key}: given twice (lines {seen[key]} and {line}); keep one")
            if isinstance(key, str):
                seen[key] = line
        return super().construct_mapping(node, deep)


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_1_2_FLOAT, list("-+0123456789."))


class _Refused(Exception):
    """Raised inside the loader; becomes a SpecError naming the file or the --set argument."""


def parse_yaml(text: str, where: str) -> Any:
    """The YAML document in `text`; SpecError (prefixed with `where`) for anything refused."""
    try:
        value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as refused:
        raise SpecError(f"{where}: {refused}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(f"{where}: invalid YAML{at}: {problem}") from None
    _check_expanded_size(value, where)
    return value


def read_yaml_file(path: str | Path) -> Any:
    """The parsed file: bounded in size, UTF-8, strict; SpecError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: experiment file does not exist")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SpecError(f"{path}: {size:,} bytes; an experiment file may hold at most {MAX_BYTES:,}")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise SpecError(f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}); "
                        "save it as UTF-8") from None
    return parse_yaml(text, str(path))


def _check_expanded_size(value: Any, where: str) -> None:
    """Counts values as a reader of the document would see them, aliases expanded, up to a budget."""
    pending, count = [value], 0
    while pending:
        item = pending.pop()
        count += 1
        if count > MAX_VALUES:
            raise SpecError(f"{where}: more than {MAX_VALUES:,} values once its aliases (&/*) are expanded")
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
