"""``clickhouse://`` for real: clickhouse-connect over HTTP to the ClickHouse engine.

No ClickHouse server can be installed here, so the server is ``http_front``: the real
ClickHouse engine (chdb) behind a small HTTP front written for these tests, in its own process
on 127.0.0.1 (read its docstring for what it is and is not). A small demo sample (the demo
generator's ~6,000 spans with agent sessions) is written to it by ``export.clickhouse`` over
``clickhouse://`` (DDL, materialized columns, Arrow inserts), and to the process's chdb by the
same export; then ``llmobs_nb.open("clickhouse://reader:…@127.0.0.1:PORT/obs?…")`` must give
the chdb:// answers and the DuckDB store's (floats within ``rel_tol=1e-9, abs_tol=1e-9``, as
in ``test_same_answers``), draw the dashboard, keep filter values inert, send every query
with ``readonly=1`` (the front records what it received) and never show the password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics, export
from llmobs_nb.analytics import Filter
from llmobs_nb.clickhouse import ClickHouseError, ClickHouseSource
from llmobs_nb.demo.generate import generate
from llmobs_nb.export.clickhouse import ExportedSpans
from llmobs_nb.view import Dashboard
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.panels import trace_lists
from llmobs_nb.view.trace import Trace
from tests.clickhouse.conftest import START
from tests.clickhouse.http_front import FrontProcess
from tests.clickhouse.test_safety import ATTEMPTS
from tests.clickhouse.test_same_answers import QUESTIONS as PLAN_QUESTIONS
from tests.clickhouse.test_spans_questions import QUESTIONS as SPAN_QUESTIONS

CALLS = 2_000
READER, READER_PASSWORD = "reader", "r3ad-0nly-s3cret"
WRITER, WRITER_PASSWORD = "writer", "wr1te-s3cret"
HANDSHAKE = (
    "SELECT version(), timezone()",
    "SELECT name, value, readonly FROM system.settings LIMIT 10000\n FORMAT Native",
    "SELECT 1 AS check\n FORMAT Native",
)
"""clickhouse-connect's own queries when a client connects: sent before the client's
settings (``readonly=1``) apply; the only ones of the reader without them."""


@dataclass(frozen=True)
class Served:
    front: FrontProcess
    store: Path
    url: str
    source: ClickHouseSource
    chdb: ClickHouseSource
    spans: int
    scores: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, chdb_folder: Path) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("server_path")
    began = time.perf_counter()
    with FrontProcess(folder, {READER: READER_PASSWORD, WRITER: WRITER_PASSWORD}) as front:
        store = folder / "sample.duckdb"
        generate(CALLS, days=14, seed=11, start=START, agents=True, store=store)
        where = f"127.0.0.1:{front.port}/obs?table=otel_traces&logs=otel_logs"
        # export.clickhouse connects *in* the URL's database, which a server refuses while it
        # does not exist (see test_export_into_a_new_database): it is made first.
        admin = clickhouse_connect.get_client(
            host="127.0.0.1", port=front.port, username=WRITER, password=WRITER_PASSWORD
        )
        admin.command("CREATE DATABASE obs")
        admin.close()
        written = export.clickhouse(store, f"clickhouse://{WRITER}:{WRITER_PASSWORD}@{where}")
        # The same spans in the process's chdb (at the path the other chdb tests use).
        local = f"chdb://{chdb_folder / 'chdb'}?table=front_traces&logs=front_logs"
        assert export.clickhouse(store, local) == ExportedSpans(
            written.spans, written.scores, "front_traces", "front_logs"
        )
        source = llmobs_nb.open(f"clickhouse://{READER}:{READER_PASSWORD}@{where}")
        chdb = llmobs_nb.open(local)
        assert isinstance(source, ClickHouseSource) and isinstance(chdb, ClickHouseSource)
        took = time.perf_counter() - began
        print(f"\nfront on {front.port}: {written.spans:,} spans in {took:.1f} s")
        yield Served(front, store, where, source, chdb, written.spans, written.scores)
        assert front.running, front.stderr()  # it stayed up through every test
    assert not front.running


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [n for n, t in frame.schema.items() if not t.is_float() and not isinstance(t, pl.List)]
    return frame.sort(keys, nulls_last=True) if keys and frame.height else frame


def _same(found: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(_sorted(found), _sorted(expected), rel_tol=1e-9, abs_tol=1e-9)


def test_the_export_went_through_the_front(served: Served) -> None:
    con = duckdb.connect(str(served.store), read_only=True)
    try:
        counts = "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM scores)"
        spans, scores = con.execute(counts).fetchall()[0]
    finally:
        con.close()
    assert (served.spans, served.scores) == (spans, scores) and spans > 4_000
    found = served.source.sql("SELECT count() AS n FROM spans")
    assert found["n"][0] == spans
    assert served.source.materialized() == served.chdb.materialized() != []
    writes = [r for r in served.front.requests() if r.get("user") == WRITER]
    inserts = [r for r in writes if r["query"].startswith("INSERT INTO `obs`.`otel_traces`")]
    assert inserts and all(r["status"] == 200 for r in writes)


def test_export_into_a_new_database(served: Served) -> None:
    url = f"clickhouse://{WRITER}:{WRITER_PASSWORD}@127.0.0.1:{served.front.port}/fresh"
    written = export.clickhouse(served.store, f"{url}?table=otel_traces", materialize=False)
    assert written.spans == served.spans


@pytest.mark.parametrize("name", list(PLAN_QUESTIONS))
def test_same_answers(served: Served, name: str) -> None:
    question = PLAN_QUESTIONS[name]
    found = question(served.source)
    expected = question(str(served.store))
    assert isinstance(found, pl.DataFrame) and expected.height > 0, name
    _same(found, question(served.chdb))
    _same(found, expected)


@pytest.mark.parametrize("name", list(SPAN_QUESTIONS))
def test_same_span_answers(served: Served, name: str) -> None:
    question = SPAN_QUESTIONS[name]
    found = question(served.source)
    expected = question(str(served.store))
    assert expected.height > 0, name
    _same(found, question(served.chdb))
    _same(found, expected)


def test_trace_lists_and_a_trace(served: Served) -> None:
    where = Filter(models=("gpt-4o",), statuses=("error",))
    expected = trace_lists(DataSource(str(served.store)).filtered(where), 5)
    found = trace_lists(DataSource(served.source).filtered(where), 5)
    for name, listed in expected.items():
        assert_frame_equal(found[name], listed, rel_tol=1e-9, abs_tol=1e-9)
    trace_id = expected["slowest"]["trace_id"][0]
    local, remote = Trace.load(str(served.store), trace_id), Trace.load(served.source, trace_id)
    columns = ["span_id", "parent_span_id", "name", "kind", "status", "model", "input_text"]
    assert_frame_equal(remote.spans.select(columns), local.spans.select(columns))


def test_dashboard_draws(served: Served) -> None:
    dash = Dashboard(served.source)
    try:
        expected = analytics.summary(str(served.store))
        assert dash.headline["calls"] == expected["calls"][0]
        assert abs(dash.headline["cost_usd"] - expected["cost_usd"][0]) < 1e-9
        assert {"latency", "ttft", "tokens", "cost", "errors", "top_users"} <= set(dash.charts)
        assert dash.by_model.height == 5
        dash.wait()
        assert dash._status["pending"] == ""
        assert dash.slow["drift"].height > 0  # the background pass ran, through the front
        lists = trace_lists(DataSource(str(served.store)).filtered(Filter()), 20)
        for name, listed in lists.items():
            assert_frame_equal(dash.explorer.lists[name], listed, rel_tol=1e-9, abs_tol=1e-9)
        dash.apply_filters(models=("gpt-4o",))
        only = analytics.summary(str(served.store), where=Filter(models=("gpt-4o",)))
        assert dash.headline["calls"] == only["calls"][0]
        dash.wait()
    finally:
        dash.close()


def _ask(served: Served, value: str) -> list[dict[str, Any]]:
    """The filter questions with ``value``, checked against DuckDB; what the front received."""
    sent = len(served.front.requests())
    for where in (Filter(models=(value,)), Filter(users=(value, "user-001")), {"run": value}):
        found = analytics.summary(served.source, where=where)
        expected = analytics.summary(str(served.store), where=where)
        assert found["calls"].to_list() == expected["calls"].to_list()
    assert analytics.sessions(served.source, where=Filter(users=(value,))).height == 0
    return served.front.requests()[sent:]


@pytest.fixture(scope="module")
def harmless(served: Served) -> list[dict[str, Any]]:
    _ask(served, "warm-up")  # the source's one-off questions (prices, columns) asked first
    return _ask(served, "harmless")


def test_questions_at_once(served: Served) -> None:
    # The dashboard asks from its background worker while a filter change asks from the
    # kernel: one source, queries at the same time (clickhouse-connect refuses that within
    # one HTTP session, so the source opens none).
    expected = analytics.cost_breakdown(str(served.store))
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: analytics.cost_breakdown(served.source), range(6)))
    for found in answers:
        _same(found, expected)
    reader = [r for r in served.front.requests() if r.get("user") == READER]
    assert all(r.get("session_id", "") == "" for r in reader)


@pytest.mark.parametrize("value", ATTEMPTS)
def test_injection_is_inert(served: Served, harmless: list[dict[str, Any]], value: str) -> None:
    received = _ask(served, value)
    assert analytics.summary(served.source)["calls"][0] > 0  # the table is still there
    assert received and all(r["status"] == 200 for r in received)
    # The SQL the front received is the same text as for a harmless value: the value only
    # changed the parameters the engine binds.
    assert [r["query"] for r in received] == [r["query"] for r in harmless]
    assert [sorted(r["params"]) for r in received] == [sorted(r["params"]) for r in harmless]
    assert [r["params"] for r in received] != [r["params"] for r in harmless]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO otel_traces (TraceId) VALUES ('x')",
        "DROP TABLE otel_traces",
        "CREATE TABLE evil (x UInt8) ENGINE = Memory",
        "SELECT 1; DROP TABLE otel_traces",
    ],
)
def test_reads_are_read_only(served: Served, statement: str) -> None:
    with pytest.raises(ClickHouseError, match=r"READONLY|SYNTAX_ERROR") as raised:
        served.source.sql(statement)
    assert raised.value.__cause__ is None
    assert analytics.summary(served.source)["calls"][0] > 0


def test_every_query_arrives_read_only(served: Served) -> None:
    analytics.summary(served.source)
    received = [r for r in served.front.requests() if r.get("user") == READER]
    assert len(received) > 50
    without = [r["query"] for r in received if r["settings"].get("readonly") != "1"]
    assert set(without) <= set(HANDSHAKE), without
    assert len(without) <= len(HANDSHAKE)  # one client, one handshake


def test_credentials(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    shown = [repr(served.source), str(served.source), served.source.label]
    shown.append(repr(served.source.target))
    wrong = llmobs_nb.open(f"clickhouse://{READER}:not-{READER_PASSWORD}@{served.url}")
    with caplog.at_level(logging.DEBUG), pytest.raises(ClickHouseError) as raised:
        analytics.summary(wrong)
    text = str(raised.value)
    assert "516" in text and "Authentication failed" in text, text
    assert raised.value.__cause__ is None
    shown += [text, repr(raised.value), repr(wrong), caplog.text]
    shown += [served.front.log_path.read_text(), served.front.stderr()]
    for secret in (READER_PASSWORD, WRITER_PASSWORD):
        for item in shown:
            assert secret not in item
    assert served.front.requests()[-1]["status"] == 403
