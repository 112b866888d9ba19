"""llmobs_nb.registry: one live observer per store file; forking never imports the observer."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb import registry
from llmobs_nb.capture import forking


def test_init_twice_is_one_observer_and_close_forgets_it(db_path):
    first = llmobs_nb.init(db=db_path, project="p")
    assert llmobs_nb.init(db=db_path, project="p") is first
    assert registry.observer_for_path(str(db_path.resolve())) is first
    assert registry.live_for(db_path, "p") is first
    with pytest.raises(ValueError, match="already open in this process for project 'p'"):
        llmobs_nb.init(db=db_path, project="other")
    first.close()
    assert registry.live_for(db_path, "p") is None
    assert first not in registry.live_observers()


def test_memory_stores_are_one_per_project():
    a = llmobs_nb.init(project="a")
    b = llmobs_nb.init(project="b")
    try:
        assert a is not b
        assert registry.live_for(":memory:", "a") is a
    finally:
        a.close()
        b.close()


def test_the_old_names_in_observer_warn_and_still_work(obs):
    import llmobs_nb.observer as old

    with pytest.warns(DeprecationWarning, match="llmobs_nb.registry.live_observers"):
        assert obs in old.live_observers()
    with pytest.warns(DeprecationWarning, match="llmobs_nb.registry.observer_for_path"):
        assert old.observer_for_path(obs.db_path) is obs
    with pytest.raises(AttributeError):
        _ = old.no_such_name


def test_port_holder_names_the_observer_serving_a_port(obs, tmp_path):
    server = obs.serve_metrics(port=0)
    other = llmobs_nb.init(db=tmp_path / "other.duckdb")
    try:
        assert registry.port_holder(server.port, but=other) is not None
        assert str(obs.db_path) in registry.port_holder(server.port, but=other)
        assert registry.port_holder(server.port, but=obs) is None
    finally:
        other.close()


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # every import, in functions too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_forking_and_the_registry_import_no_observer():
    assert not {m for m in _imports(Path(forking.__file__)) if "observer" in m}
    assert not {m for m in _imports(Path(registry.__file__)) if m.startswith("llmobs_nb")}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_free_registry_lock():
    with registry._REGISTRY_LOCK:  # held by the parent at the fork
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os._exit(0 if registry._REGISTRY_LOCK.acquire(timeout=5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
