"""The package's import graph: no circle anywhere, and no import from a lower layer to a higher one.

Every ``import`` statement counts, those inside functions too: a lazy import still ties the two modules.
The layers are docs/architecture.md's, bottom first; a module belongs to the longest folder prefix listed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPS = ("pipelines", "nodes", "runner")

# Bottom first: a module may import modules of its own layer and of the layers before it, never after it.
# Each layer is one or more folders (or single modules) of the package.
LAYERS = [
    ("pipelines.core",),
    ("pipelines.models",),
    ("pipelines.runtime",),
    ("pipelines.images",),
    ("pipelines.engine",),
    ("pipelines.tracking",),
    ("pipelines.flame",),
    ("pipelines.swap",),
    ("pipelines.privacy",),
    ("pipelines.video",),
    ("pipelines",),
    ("nodes",),
    ("runner.settings", "runner.installation"),
    ("runner.engine",),
    ("runner.server.errors", "runner.server.faults", "runner.server.logs", "runner.server.state",
     "runner.server.route_docs"),
    ("runner.server.storage",),
    ("runner.server.security",),
    ("runner.server.schemas", "runner.server.response_schemas"),
    ("runner.server.webhooks",),
    ("runner.server.jobs",),
    ("runner.server.database_schema",),
    ("runner.server.http",),
    ("runner.server",),
    ("runner.cli",),
    ("runner",),
]


def module_paths() -> dict[str, Path]:
    """Dotted module name (without ``playalter.``) -> its file."""
    modules = {}
    for top in TOPS:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` imports: relative imports resolved, ``from X import y`` counted as
    ``X.y`` when y is a module, else as ``X``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            target = ".".join(base + (node.module.split(".") if node.module else []))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("playalter."):
            target = node.module.removeprefix("playalter.")
        else:
            continue
        for alias in node.names:
            found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    found.discard(name)
    return found & modules.keys()


def import_graph() -> dict[str, set[str]]:
    modules = module_paths()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def layer_of(module: str) -> int:
    """Index in LAYERS of the layer holding the longest listed prefix of ``module``."""
    matches = [(len(prefix), rank) for rank, prefixes in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1]


def test_the_graph_is_read():
    graph = import_graph()
    assert "pipelines.engine.face" in graph["nodes.face_detect"]
    assert sum(map(len, graph.values())) > 300


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_layer():
    assert all(layer_of(module) >= 0 for module in import_graph())


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = sorted(f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
                    for module, targets in import_graph().items() for target in targets
                    if layer_of(target) > layer_of(module))
    assert upward == []
