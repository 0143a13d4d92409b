"""The import graph keeps the shape the README draws: no cycles, and no core module outside the contracts.

The graph is built with grimp (import-linter's engine) over the installed layout, which the repository
does not have on disk: ``adapters/``, ``training/`` and ``console/`` install as ``botkit.adapters``,
``botkit.training`` and ``botkit.console`` (setup.py). The test lays that tree out with links in a tmp dir,
as ``make tree`` does, and builds the graph in a child process, because this process already imported
``botkit`` through the editable install and grimp would find that one instead. Imports under
``if TYPE_CHECKING:`` count: a type-only cycle is still a cycle for the reader.
"""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs in the laid-out tree: prints {module: {imported: [line, ...]}} for every module under botkit.
GRAPH_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import grimp
graph = grimp.build_graph("botkit", exclude_type_checking_imports=False, cache_dir=None)
imports = {}
for importer in graph.modules:
    imports[importer] = {}
    for imported in graph.find_modules_directly_imported_by(importer):
        details = graph.get_import_details(importer=importer, imported=imported)
        imports[importer][imported] = sorted(d["line_number"] for d in details)
print(json.dumps(imports))
"""

Graph = dict[str, dict[str, list[int]]]


def _package_folders() -> dict[str, Path]:
    """Import name -> repository folder, read from setup.py's ROOTS (the one place that says it)."""
    for node in ast.walk(ast.parse((ROOT / "setup.py").read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ROOTS" for t in node.targets):
            return {name: ROOT / folder for name, folder in ast.literal_eval(node.value).items()}
    raise AssertionError("setup.py has no ROOTS mapping")


def _lay_out_tree(where: Path) -> Path:
    """botkit/* linked one by one, then the other roots linked where they install (as ``make tree``)."""
    folders = _package_folders()
    package = where / "botkit"
    package.mkdir()
    for entry in folders.pop("botkit").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in folders.items():
        (where / Path(*name.split("."))).symlink_to(folder, target_is_directory=True)
    return where


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _lay_out_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def graph(tree: Path) -> Graph:
    done = subprocess.run(
        [sys.executable, "-c", GRAPH_SCRIPT, str(tree)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: Graph = json.loads(done.stdout)
    return loaded


def _strongly_connected(graph: Graph) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative (the graph is deep enough to worry the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, {})))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    yield sorted(component)


def _a_cycle(graph: Graph, component: list[str]) -> str:
    """One concrete cycle through the component's first module, with the line of each import."""
    members, first = set(component), component[0]
    came_from: dict[str, str] = {}
    frontier = [first]
    while frontier and first not in came_from:
        following = []
        for node in frontier:
            for successor in sorted(graph[node]):
                if successor in members and successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    path = [first]
    while len(path) == 1 or path[-1] != first:
        path.append(came_from[path[-1]])
    path.reverse()
    steps = [f"{a} (line {', '.join(map(str, graph[a][b]))})" for a, b in itertools.pairwise(path)]
    return " -> ".join([*steps, first])


def _area(module: str) -> str:
    for area in ("botkit.adapters", "botkit.training", "botkit.console"):
        if module == area or module.startswith(area + "."):
            return area
    return "botkit"


@pytest.mark.parametrize("area", ["botkit", "botkit.adapters", "botkit.training", "botkit.console"])
def test_no_import_cycles(graph: Graph, area: str) -> None:
    cycles = [
        _a_cycle(graph, component)
        for component in _strongly_connected(graph)
        if len(component) > 1 and any(_area(module) == area for module in component)
    ]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_graph_sees_every_module_that_imports_botkit(tree: Path, graph: Graph) -> None:
    """A folder without ``__init__.py`` is invisible to grimp and to import-linter: its cycles would hide."""
    unseen = []
    for path in sorted((tree / "botkit").rglob("*.py")):
        relative = path.relative_to(tree).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        if ".".join(parts) not in graph and "botkit" in path.read_text(encoding="utf-8"):
            unseen.append(str(relative))
    assert not unseen, f"modules outside the import graph (add the missing __init__.py): {unseen}"


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _core_children(graph: Graph) -> set[str]:
    children = {module for module in graph if module.count(".") == 1}
    return children - {"botkit.adapters", "botkit.training", "botkit.console"}


def test_every_core_module_is_in_the_core_contract(graph: Graph) -> None:
    core = next(
        c
        for c in _contracts()
        if c["type"] == "forbidden"
        and {"botkit.adapters", "botkit.training", "botkit.console"} <= set(c["forbidden_modules"])
    )
    missing = _core_children(graph) - set(core["source_modules"])
    assert not missing, f"name these in {core['name']!r} (pyproject.toml): {sorted(missing)}"


def test_every_core_module_has_a_layer(graph: Graph) -> None:
    layers = next(c for c in _contracts() if c["type"] == "layers")
    named = {module.strip() for layer in layers["layers"] for module in layer.replace("|", ":").split(":")}
    missing = _core_children(graph) - named
    assert not missing, f"give these a layer in {layers['name']!r} (pyproject.toml): {sorted(missing)}"
