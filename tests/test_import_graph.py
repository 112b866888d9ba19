"""The package's module-level imports form no circle (a ratchet for issue #12).

Imports inside functions and under ``if TYPE_CHECKING:`` are left out here: they still close
circles that docs/design.md lists as debt. A module-level circle is a new defect: it makes the
import order matter and hides which room depends on which.
"""

from __future__ import annotations

import ast
from pathlib import Path

import llmobs_nb

ROOT = Path(llmobs_nb.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module, package: str, is_package: bool) -> set[str]:
    """Modules of llmobs_nb imported when the module is imported (not in functions)."""
    found: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                todo.extend(node.body)
            todo.extend(node.orelse)
        elif isinstance(node, ast.Try):
            todo.extend([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                todo.extend(handler.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package if is_package else package.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # "from pkg import x": the submodule pkg.x when there is one, else pkg itself
            # (resolved in _graph, which knows the modules).
            found.update(f"{module}:{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0].split(":")[0] == "llmobs_nb"}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py") if "vendor" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = _top_level_imports(tree, name, path.name == "__init__.py")
        edges = set()
        for target in targets:
            if ":" in target:
                package, attribute = target.split(":")
                target = f"{package}.{attribute}"
                if target not in modules:
                    target = package
            if target in modules and target != name:
                edges.add(target)
            # Importing a.b.c runs a/__init__ and a/b/__init__ first (already running when the
            # importer lives inside that package).
            parts = target.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in modules and parent != name and not name.startswith(parent + "."):
                    edges.add(parent)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_package():
    graph = _graph()
    assert "llmobs_nb.observer" in graph
    assert "llmobs_nb.capture.tracing" in graph["llmobs_nb.observer"]
    assert "llmobs_nb.store.sidecar" in graph["llmobs_nb.capture.tracing"]


def test_a_circle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_level_import_circle():
    assert _cycles(_graph()) == []


def test_star_import_does_not_shadow_builtins():
    import builtins

    assert not set(llmobs_nb.__all__) & set(dir(builtins))
    assert callable(llmobs_nb.open)  # still there under its name
