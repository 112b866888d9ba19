"""Store constructors: Store(path), Store.read_view(live) and Store.attach_many(paths)."""

from __future__ import annotations

import duckdb
import pytest

import llmobs_nb
from llmobs_nb.store import NotAStoreError, Store


def _one_call(obs: llmobs_nb.Observer, model: str) -> None:
    with obs.span("answer", kind="llm", model=model) as span:
        span.set_usage({"input_tokens": 3, "output_tokens": 1})
    obs.flush()


def test_a_read_view_reads_the_live_store_and_refuses_every_write(obs):
    _one_call(obs, "gpt-4o")
    view = Store.read_view(obs.store)
    assert view.read_only and view.path == obs.store.path
    assert view.query("select model from llm_calls")["model"].to_list() == ["gpt-4o"]
    _one_call(obs, "gpt-4o-mini")  # written later: the view sees it (same database)
    assert view.query("select count(*) n from llm_calls")["n"][0] == 2
    with pytest.raises(PermissionError, match="read-only"):
        view.write_scores(obs.store.query("select * from scores").to_arrow())
    with pytest.raises(PermissionError, match="read-only"):
        view.execute("DELETE FROM spans")
    view.close()  # closes nothing: the writer goes on
    assert not view.closed and not obs.store.closed
    _one_call(obs, "gpt-4o")
    assert obs.calls().height == 3
    obs.close()
    assert view.closed  # follows the live store


def test_open_in_the_writing_kernel_is_an_observer_over_a_read_view(obs, db_path):
    _one_call(obs, "gpt-4o")
    reader = llmobs_nb.open(db_path)
    assert reader.read_only and reader.project == "tests"
    assert reader.calls()["model"].to_list() == ["gpt-4o"]
    with pytest.raises(PermissionError):
        reader.store.execute("DELETE FROM spans")


def test_open_elsewhere_names_the_stored_project(tmp_path):
    path = tmp_path / "done.duckdb"
    writer = llmobs_nb.init(db=path, project="support-bot")
    _one_call(writer, "gpt-4o")
    writer.close()
    assert llmobs_nb.open(path).project == "support-bot"
    empty = tmp_path / "empty.duckdb"
    llmobs_nb.init(db=empty).close()
    assert llmobs_nb.open(empty).project == "default"
    assert Store(empty, read_only=True).first_project() is None


def test_attach_many_reads_the_union_of_its_files(tmp_path):
    paths = []
    for i, model in enumerate(["gpt-4o", "claude-3-5-sonnet"]):
        path = tmp_path / f"worker-{i}.duckdb"
        writer = llmobs_nb.init(db=path, project=f"w{i}")
        _one_call(writer, model)
        writer.close()
        paths.append(path)
    both = Store.attach_many(paths)
    assert both.read_only and both.path == ":memory:"
    assert both.paths == [str(p.resolve()) for p in paths]
    models = both.query("select model from llm_calls order by model")["model"].to_list()
    assert models == ["claude-3-5-sonnet", "gpt-4o"]
    assert both.query("select count(distinct project) n from spans")["n"][0] == 2
    with pytest.raises(PermissionError):
        both.execute("DELETE FROM spans")
    both.close()
    assert llmobs_nb.open_many(paths).calls().height == 2


def test_attach_many_refuses_no_file_and_a_foreign_one(tmp_path):
    with pytest.raises(ValueError, match="at least one store file"):
        Store.attach_many([])
    foreign = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE orders (id INTEGER)")
    con.close()
    with pytest.raises(NotAStoreError, match=r"tables of its own \(orders\)"):
        Store.attach_many([foreign])
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(NotAStoreError, match="holds no llmobs_nb data"):
        Store.attach_many([empty])


def test_multistore_still_works_with_a_deprecation_warning(tmp_path):
    from llmobs_nb.store.multi import MultiStore

    path = tmp_path / "one.duckdb"
    llmobs_nb.init(db=path).close()
    with pytest.warns(DeprecationWarning, match="Store.attach_many"):
        store = MultiStore([path])
    assert isinstance(store, Store)
    assert store.query("select count(*) n from spans")["n"][0] == 0
