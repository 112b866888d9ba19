"""The questions over whole traces — sessions, session turns, tool usage, agent paths, tool
loops, the agent graph, the dashboard's trace lists and a trace — give the same answer on
ClickHouse (chdb, the collector's ``otel_traces``) as on the DuckDB store of the same spans.

Their SQL is written once (``analytics.span_sql``) and its engine-specific parts come from the
reader's dialect (``ClickHouseRenderer``). Tolerance as in ``test_same_answers``: floats
within ``rtol=1e-9, atol=1e-9`` (sums of costs differ in their last bits with the order of
addition; latencies travel as integer ns), everything else exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.panels import trace_lists
from llmobs_nb.view.trace import Trace

GPT4O = Filter(models=("gpt-4o",))
FAILED_GPT4O = Filter(models=("gpt-4o",), statuses=("error",))

QUESTIONS: dict[str, Callable[[Any], pl.DataFrame]] = {
    "sessions": lambda c: analytics.sessions(c),
    "sessions by user, quality": lambda c: analytics.sessions(c, by="user", score="quality"),
    "sessions of gpt-4o calls": lambda c: analytics.sessions(c, where=GPT4O),
    "tool usage": lambda c: analytics.tool_usage(c),
    "tool usage by agent": lambda c: analytics.tool_usage(c, by="agent"),
    "agent paths": lambda c: analytics.agent_paths(c),
    "agent paths of gpt-4o traces": lambda c: analytics.agent_paths(c, where=GPT4O),
    "tool loops": lambda c: analytics.tool_loops(c),
    "tool loops of 2": lambda c: analytics.tool_loops(c, repeats=2, where={"use_case": "agent"}),
    "agent graph nodes": lambda c: analytics.agent_graph(c).nodes,
    "agent graph edges": lambda c: analytics.agent_graph(c).edges,
}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [n for n, t in frame.schema.items() if not t.is_float() and not isinstance(t, pl.List)]
    return frame.sort(keys, nulls_last=True) if keys and frame.height else frame


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_same_answer(sample: Any, name: str) -> None:
    duckdb_answer = QUESTIONS[name](str(sample.store))
    clickhouse = QUESTIONS[name](sample.source)
    assert duckdb_answer.height > 0, name
    assert_frame_equal(_sorted(clickhouse), _sorted(duckdb_answer), rel_tol=1e-9, abs_tol=1e-9)


def _some_sessions(store: Any) -> list[str]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        found = con.sql(
            "SELECT session_id FROM spans WHERE session_id IS NOT NULL "
            "GROUP BY session_id ORDER BY count(*) DESC, session_id LIMIT 3"
        ).pl()
    finally:
        con.close()
    return [*found["session_id"].to_list(), "no-such-session"]


def test_session_turns(sample: Any) -> None:
    for session_id in _some_sessions(sample.store):
        expected = analytics.session_turns(str(sample.store), session_id)
        found = analytics.session_turns(sample.source, session_id)
        assert_frame_equal(found, expected, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("where", [Filter(), FAILED_GPT4O], ids=["all", "failed gpt-4o"])
def test_trace_lists_and_a_trace(sample: Any, where: Filter) -> None:
    expected = trace_lists(DataSource(str(sample.store)).filtered(where), 10)
    found = trace_lists(DataSource(sample.source).filtered(where), 10)
    for name, listed in expected.items():
        assert listed.height == 10, name
        assert_frame_equal(found[name], listed, rel_tol=1e-9, abs_tol=1e-9)
    trace_id = expected["failed"]["trace_id"][0]
    local, remote = Trace.load(str(sample.store), trace_id), Trace.load(sample.source, trace_id)
    columns = ["span_id", "parent_span_id", "name", "kind", "status", "model", "input_text"]
    assert_frame_equal(remote.spans.select(columns), local.spans.select(columns))
    assert remote.scores["name"].to_list() == local.scores["name"].to_list()
