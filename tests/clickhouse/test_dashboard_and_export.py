"""The dashboard opens on ClickHouse and draws its panels; the export and the rollup views'
DDL run on chdb; the mapping reads what the capture reads."""

from __future__ import annotations

from typing import Any

from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics, export
from llmobs_nb.capture import rows
from llmobs_nb.clickhouse import mapping
from llmobs_nb.clickhouse.connect import _Chdb
from llmobs_nb.view import Dashboard, panels
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.trace import Trace


def test_dashboard_opens_and_draws(sample: Any) -> None:
    dash = Dashboard(sample.source)
    expected = analytics.summary(str(sample.store))
    assert dash.headline["calls"] == expected["calls"][0]
    assert abs(dash.headline["cost_usd"] - expected["cost_usd"][0]) < 1e-9
    assert {"latency", "ttft", "tokens", "cost", "errors", "top_users"} <= set(dash.charts)
    assert dash.by_model.height == 5
    dash.wait()
    drift = analytics.quality_drift(str(sample.store), by=["model"], score_name="quality")
    assert dash.slow["drift"].height == drift.height > 0  # the background pass ran
    assert dash._status["pending"] == ""
    lists = panels.trace_lists(DataSource(str(sample.store)).filtered(analytics.Filter()), 20)
    for name, listed in lists.items():  # the explorer's lists, from ClickHouse
        assert_frame_equal(dash.explorer.lists[name], listed, rel_tol=1e-9, abs_tol=1e-9)
    trace_id = lists["slowest"]["trace_id"][0]
    shown = dash.explorer.select(trace_id)
    assert shown.spans.height == Trace.load(str(sample.store), trace_id).spans.height > 0
    dash.apply_filters(models=("gpt-4o",))
    only = analytics.Filter(models=("gpt-4o",))
    assert dash.headline["calls"] == analytics.summary(str(sample.store), where=only)["calls"][0]


def test_mapping_reads_the_keys_capture_reads() -> None:
    assert mapping.INPUT_KEYS == rows._INPUT_KEYS
    assert mapping.OUTPUT_KEYS == rows._OUTPUT_KEYS
    assert mapping.CACHED_KEYS == rows._CACHED_KEYS
    assert mapping.WRITTEN_KEYS == rows._WRITTEN_KEYS
    assert mapping.REASONING_KEYS == rows._REASONING_KEYS
    assert mapping.PROVIDER_KEYS == rows._PROVIDER_KEYS
    assert mapping.SESSION_KEYS == rows._SESSION_KEYS
    assert mapping.AGENT_KEYS == rows._AGENT_KEYS
    assert mapping.TOOL_KEYS == rows._TOOL_KEYS


def test_kind_rule_matches_capture(sample: Any) -> None:
    # Third-party spans (OpenInference or GenAI only, no llmobs.kind) get capture's kind.
    cases = [
        {"openinference.span.kind": "LLM", "llm.model_name": "m"},
        {"openinference.span.kind": "retriever"},
        {"gen_ai.operation.name": "embeddings"},
        {"gen_ai.operation.name": "chat"},
        {"gen_ai.operation.name": "execute_tool"},
        {"gen_ai.operation.name": "invoke_agent"},
        {"gen_ai.request.model": "m"},
        {"other": "x"},
    ]
    session = _Chdb.open(None)
    for attrs in cases:
        pairs = ", ".join(
            f"{mapping.sql_string(k)}, {mapping.sql_string(v)}" for k, v in attrs.items()
        )
        row = f"(SELECT map({pairs}) AS SpanAttributes)"
        sql = f"SELECT {mapping.kind_expression()} AS kind FROM {row}"
        found = session.query(sql, "CSV").bytes().decode().strip().strip('"')
        assert found == rows.span_kind("", attrs), attrs


def test_export_and_rollup_views(small: Any) -> None:
    url = f"{small.url.split('?')[0]}?table=exported_twice"
    written = export.clickhouse(
        str(small.store), url, logs="exported_twice_logs", materialize=False
    )
    assert written.spans == small.spans
    plain = llmobs_nb.open(f"{url}&logs=exported_twice_logs")  # no materialized columns
    assert plain.materialized() == [] and len(small.source.materialized()) > 10
    for question in (analytics.summary, analytics.cost_breakdown, analytics.quality_drift):
        assert_frame_equal(question(plain), question(str(small.store)), rel_tol=1e-9)
    session = _Chdb.open(None)
    for statement in export.clickhouse_rollups("exported_twice", target="rollups_test"):
        session.query(statement)
    export.clickhouse(str(small.store), url, logs="exported_twice_logs", create=False)
    sql = "SELECT sum(calls) AS calls, sum(input_tokens_sum) AS tokens FROM rollups_test"
    found = session.query(sql, "CSV").bytes().decode().strip().split(",")
    expected = analytics.summary(str(small.store))
    usage = analytics.token_usage(str(small.store), by=())
    assert int(found[0]) == expected["calls"][0]  # the view saw the second export only
    assert int(found[1]) == usage["input_tokens"][0]
