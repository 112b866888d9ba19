"""The DuckDB store: one writer per file, migrations, persistence at exit, re-run safety."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest

import llmobs_nb
from llmobs_nb.store import SchemaTooNewError, Store
from llmobs_nb.store.migrations import MIGRATIONS

LLM_CALLS_COLUMNS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time",
    "end_time",
    "latency_s",
    "ttft_s",
    "provider",
    "model",
    "operation",
    "use_case",
    "user_id",
    "run",
    "response_model",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost_usd",
    "attributes",
    "session_id",
    "agent_name",
]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_llm_calls_view_has_exactly_the_contract_columns(obs):
    assert obs.calls().columns == LLM_CALLS_COLUMNS
    types = dict(obs.sql("describe llm_calls").select("column_name", "column_type").iter_rows())
    assert types["start_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["input_tokens"] == "BIGINT"
    assert types["attributes"] == "JSON"
    assert set(obs.sql("show tables")["name"]) >= {"spans", "scores", "runs", "prices"}


def test_a_second_process_opening_the_file_for_writing_gets_a_clear_error(obs, db_path):
    result = run_python(
        f"""
        import llmobs_nb
        try:
            llmobs_nb.init(db={str(db_path)!r})
        except llmobs_nb.StoreLockedError as e:
            print("LOCKED:", e)
        """
    )
    assert "LOCKED:" in result.stdout, result.stderr
    message = result.stdout
    assert str(db_path) in message
    assert "another.duckdb" in message and "obs.close()" in message
    assert "Traceback" not in result.stderr
    # the writer is unharmed and keeps writing
    with obs.span("after", kind="llm", model="gpt-4o"):
        pass
    assert obs.calls().height == 1


def test_every_row_captured_before_a_normal_exit_is_in_the_file(db_path):
    result = run_python(
        f"""
        import llmobs_nb
        obs = llmobs_nb.init(db={str(db_path)!r}, project="exit", flush_interval_s=60)
        @obs.observe(model="gpt-4o")
        def ask(i):
            return {{"usage": {{"prompt_tokens": i, "completion_tokens": 1}}}}
        with obs.span("first") as first:
            pass
        obs.score(trace_id=first.trace_id, name="quality", value=0.5)  # flushes "first" only
        for i in range(5000):
            ask(i)
        # no flush, no close: interpreter exit must persist everything
        """
    )
    assert result.returncode == 0, result.stderr
    old = llmobs_nb.open(db_path)
    assert old.sql("select count(*) n, sum(input_tokens) s from llm_calls").row(0) == (
        5000,
        sum(range(5000)),
    )
    assert old.scores().height == 1


def test_rerunning_init_returns_the_same_observer_without_duplicates(db_path):
    before = threading.active_count()
    first = llmobs_nb.init(db=db_path, project="p")
    threads_after_first = threading.active_count()
    second = llmobs_nb.init(db=db_path, project="p")
    try:
        assert second is first
        assert threading.active_count() == threads_after_first == before + 1

        @second.observe(model="gpt-4o")
        def ask():
            return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

        ask()
        assert second.calls().height == 1
        assert second.metrics_text().count("llm_request_duration_seconds_count{") == 1
    finally:
        first.close()
    third = llmobs_nb.init(db=db_path, project="p")
    try:
        assert third is not first
        assert third.calls().height == 1
    finally:
        third.close()


def test_same_file_for_another_project_in_one_process_is_refused(obs, db_path):
    with pytest.raises(ValueError, match="already open in this process for project 'tests'"):
        llmobs_nb.init(db=db_path, project="other")


def test_file_from_a_newer_version_is_refused_and_left_unchanged(db_path):
    Store(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO _migrations VALUES (999, 'm999_from_the_future', now())")
    con.close()
    size = db_path.stat().st_size
    with pytest.raises(SchemaTooNewError, match="newer"):
        Store(db_path)
    with pytest.raises(SchemaTooNewError, match="upgrade"):
        Store(db_path, read_only=True)
    assert db_path.stat().st_size == size


def test_migrations_are_recorded_by_name(db_path):
    store = Store(db_path)
    names = store.query("select name from _migrations order by seq")["name"].to_list()
    assert names == [name for name, _ in MIGRATIONS]
    store.close()
    # reopening applies nothing twice
    store = Store(db_path)
    assert store.query("select count(*) n from _migrations")["n"][0] == len(MIGRATIONS)
    store.close()


def test_open_reads_an_existing_file_read_only(obs, db_path):
    with obs.span("call", kind="llm", model="gpt-4o"):
        pass
    obs.close()
    old = llmobs_nb.open(db_path)
    assert old.calls().height == 1
    with pytest.raises(PermissionError, match="read-only"):
        old.observe(model="gpt-4o")(lambda: None)()
    # a reader never keeps the writer out: init works while `old` exists
    again = llmobs_nb.init(db=db_path, project="tests")
    try:
        assert again.calls().height == 1
    finally:
        again.close()


def test_open_in_the_writing_kernel_sees_live_data(obs, db_path):
    with obs.span("call", kind="llm", model="gpt-4o"):
        pass
    view = llmobs_nb.open(db_path)
    assert view.calls().height == 1


def test_open_of_a_missing_or_foreign_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no store at"):
        llmobs_nb.open(tmp_path / "missing.duckdb")
    foreign = tmp_path / "foreign.duckdb"
    duckdb.connect(str(foreign)).execute("create table t(a int)").close()
    with pytest.raises(llmobs_nb.StoreError, match="holds no llmobs_nb data"):
        llmobs_nb.open(foreign)


def test_a_failing_store_write_loses_no_span(obs, monkeypatch):
    @obs.observe(model="gpt-4o")
    def ask():
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    real_write = obs.store.write_spans
    failures = {"left": 1}

    def flaky(table):
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")
        real_write(table)

    monkeypatch.setattr(obs.store, "write_spans", flaky)
    for _ in range(10):
        ask()
    try:
        obs.capture.processor.drain()
    except OSError as exc:  # the failure surfaces on whichever flush hit it
        assert "disk full" in str(exc)
    assert failures["left"] == 0
    for _ in range(5):
        ask()
    assert obs.calls().height == 15


def test_memory_store_works_and_is_not_shared_between_projects():
    a = llmobs_nb.init(db=":memory:", project="a")
    b = llmobs_nb.init(db=":memory:", project="b")
    try:
        with a.span("x", kind="llm", model="gpt-4o"):
            pass
        assert a.calls().height == 1
        assert b.calls().height == 0
        assert a.calls()["model"][0] == "gpt-4o"
        assert a.spans()["project"][0] == "a"
    finally:
        a.close()
        b.close()
