"""No two modules import each other (at the top or inside a function), and the store does not
import the decision engine: each package leans one way, so a module can be read, tested and
changed without the other. Packages count as their ``__init__`` module; imports under
``if TYPE_CHECKING:`` are for annotations and never run, so they do not count."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("hub", "decision", "connectors", "tasks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module NAME is, or the nearest package holding it (``from hub.store import x``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never imported)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        yield from _runtime_nodes(node)


@functools.cache
def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # a submodule by name, else a name defined in the module or package ``base``
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                dep = _resolve(t, modules)
                if dep and dep != mod:
                    graph[mod].add(dep)
    return graph


def _pairs(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps if a in graph.get(b, ())})


def test_no_two_modules_import_each_other():
    pairs = _pairs(import_graph())
    assert not pairs, "import circles (break one direction): " + "; ".join(f"{a} <-> {b}" for a, b in pairs)


def test_the_store_does_not_import_the_decision_engine():
    graph = import_graph()
    leaks = sorted(
        f"{m} -> {d}"
        for m, deps in graph.items()
        if m.startswith("hub.store")
        for d in deps
        if d.startswith("decision")
    )
    assert not leaks, "hub/store imports decision/: " + "; ".join(leaks)


def test_the_graph_sees_imports_inside_functions_and_packages():
    graph = import_graph()  # guards the two tests above against passing on an empty graph
    assert "hub.pipeline.context" in graph["hub.pipeline.push"]
    assert "hub.store" in graph["hub.status"] and len(graph) > 100
