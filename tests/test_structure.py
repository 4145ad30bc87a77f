"""The shape of the house, checked from the code itself: no import cycles, each concern with one owner.

Imports are read with `ast` from the installed packages' files (the top-level folders are mapped
into tunelab.*), every import counted, those inside functions too: a cycle closed by a lazy
import is still a cycle. Only `if TYPE_CHECKING:` imports, which never run, are left out.
"""
from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = ("tunelab", "tunelab.searchspaces", "tunelab.trainables", "tunelab.experiments", "tunelab.analysis")
LAYERS = ("core", "searchspaces", "trainables", "experiments", "analysis", "keras_tuner", "cli")


def _modules() -> dict[str, Path]:
    """Every module of tunelab, by dotted name -> its file."""
    found = {}
    for package in PACKAGES:
        folder = Path(importlib.util.find_spec(package).submodule_search_locations[0])
        for path in folder.rglob("*.py"):
            parts = [part for part in path.relative_to(folder).with_suffix("").parts if part != "__init__"]
            name = ".".join([package, *parts])
            if not any(name.startswith(f"{other}.") for other in PACKAGES if len(other) > len(package)):
                found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The tunelab modules `path` imports anywhere but under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    named = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                         for alias in node.names)
        elif isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
    return {name for name in named if name in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _layer(module: str) -> str:
    """The package a module belongs to for layering: tunelab.X for X a layer; each entry-point module alone."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[1] in LAYERS else module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_module_reader_sees_the_whole_library():
    assert len(MODULES) > 100
    assert "tunelab.experiments.run.runner" in GRAPH["tunelab.cli.run"] | {
        name for name in GRAPH if "runner" in name}
    assert "tunelab.core.errors" in GRAPH["tunelab.searchspaces.params"]


def test_no_module_imports_itself_back():
    assert _cycles(GRAPH) == []


def test_no_package_imports_itself_back():
    layers: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        layers.setdefault(_layer(module), set()).update(_layer(name) for name in imported if _layer(name) != _layer(module))
    assert _cycles(layers) == []
    assert layers["tunelab.core"] == set()  # the foundation imports nothing above it


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_analysis_imports_nothing_of_the_driver_and_neither_ray_nor_tensorflow():
    for module, imported in GRAPH.items():
        if module.startswith("tunelab.analysis"):
            assert not {name for name in imported if name.startswith(("tunelab.experiments", "tunelab.keras_tuner"))}, module
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, tunelab.analysis; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert not [name for name in loaded if name.split(".")[0] in ("ray", "tensorflow", "keras")]
    assert not [name for name in loaded if name.startswith(("tunelab.experiments", "tunelab.keras_tuner"))]


def test_modules_stay_small_and_experiments_keeps_few_flat_modules():
    assert {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 400} == {}
    flat = [name for name, path in MODULES.items() if name.count(".") == 2 and name.startswith("tunelab.experiments.")
            and path.name != "__init__.py"]
    assert len(flat) <= 12, flat


def _modules_matching(pattern: str) -> list[str]:
    return sorted(name for name, path in MODULES.items() if re.search(pattern, path.read_text()))


@pytest.mark.parametrize("what, pattern, owners", [
    ("Ray's state-file name", r"experiment_state", ["tunelab.core.run_folder"]),
    ("the URI test", r"\"://\" (not )?in", ["tunelab.core.run_folder"]),
    ("Keras models saved or loaded", r"\.save\(Path|load_model\(path|\.load_weights\(",
     ["tunelab.trainables.checkpoints"]),
])
def test_one_owner(what, pattern, owners):
    assert _modules_matching(pattern) == owners, what
