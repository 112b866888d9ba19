"""The package's imports form no circle, and nothing below the Observer imports it (issue #12).

The rule: EVERY import of an ``llmobs_nb`` module counts — at the top of a file, inside a
function, under ``if TYPE_CHECKING:`` — and together they must form no circle (Tarjan's
strongly connected components over an ``ast`` walk of every module). A deferred or
type-checking import hides a circle from the interpreter, not from the reader: it still means
two rooms each depend on the other. Importing ``a.b.c`` counts as importing ``a`` and ``a.b``
too (their ``__init__`` runs first).

The Observer (``llmobs_nb.observer``) is the top room: it may import the rooms below it
(``clients``, ``evals``, ``view``, ``metrics``…), even inside functions, but no module below it
imports ``llmobs_nb.observer``. Only the package root, ``magic`` and ``demo`` (rooms above the
Observer) may.
"""

from __future__ import annotations

import ast
from pathlib import Path

import llmobs_nb

ROOT = Path(llmobs_nb.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, package: str, is_package: bool) -> set[str]:
    """Modules of llmobs_nb imported anywhere in the module: top level, functions, classes,
    ``if TYPE_CHECKING:`` blocks (every Import node of the tree)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
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
        targets = _imports(tree, name, path.name == "__init__.py")
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


# Rooms above the Observer (with their submodules, but for the root itself): they may import it.
ABOVE_THE_OBSERVER = ("llmobs_nb.magic", "llmobs_nb.demo")


def _is_above_the_observer(name: str) -> bool:
    return name == "llmobs_nb" or any(
        name == room or name.startswith(room + ".") for room in ABOVE_THE_OBSERVER
    )


def _importers_of_the_observer(graph: dict[str, set[str]]) -> set[str]:
    return {
        name
        for name, edges in graph.items()
        if "llmobs_nb.observer" in edges and not _is_above_the_observer(name)
    }


def test_deferred_and_type_checking_imports_count():
    graph = _graph()
    # inside a function: the observer imports the SDK instrumentation on demand
    assert "llmobs_nb.clients" in graph["llmobs_nb.observer"]
    # under TYPE_CHECKING only: scope names the Capture it is given
    assert "llmobs_nb.capture.tracing" in graph["llmobs_nb.capture.scope"]


def test_no_import_circle():
    assert _cycles(_graph()) == []


def test_nothing_below_the_observer_imports_it():
    assert _importers_of_the_observer(_graph()) == set()


def test_the_observer_check_finds_an_importer():
    graph = {"llmobs_nb.clients.openai": {"llmobs_nb.observer"}, "llmobs_nb.magic": set()}
    graph["llmobs_nb.demo.writing"] = {"llmobs_nb.observer"}
    assert _importers_of_the_observer(graph) == {"llmobs_nb.clients.openai"}


def test_star_import_does_not_shadow_builtins():
    import builtins

    assert not set(llmobs_nb.__all__) & set(dir(builtins))
    assert callable(llmobs_nb.open)  # still there under its name
