"""The trace view reads as a person reads it: times and cost in their units, never ``1.802e+04``;
captured content first and open; no empty error column in a trace where nothing failed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl

from llmobs_nb.store.schema import SPANS
from llmobs_nb.view import Trace

T0 = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)
SCIENTIFIC = re.compile(r"\d\.\d+e[+-]\d+")


def spans(*rows: dict) -> pl.DataFrame:
    """Spans of one trace, every store column present (missing ones NULL)."""
    full = [{name: row.get(name) for name in SPANS.names} for row in rows]
    return pl.DataFrame(full, schema=SPANS.polars)


def span(span_id, parent, name, kind, start_s, end_s, **more) -> dict:
    return {
        "trace_id": "ab" * 16,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "kind": kind,
        "start_time": T0 + timedelta(seconds=start_s),
        "end_time": T0 + timedelta(seconds=end_s),
        "latency_s": end_s - start_s,
        **more,
    }


def slow_rag() -> Trace:
    return Trace(
        spans(
            span("r", None, "rag_pipeline", "chain", 0, 61.36),
            span("a", "r", "retrieve", "retrieval", 0.001, 0.084),
            span(
                "b",
                "r",
                "chat gpt-4o",
                "llm",
                0.26,
                61.34,
                model="gpt-4o",
                input_tokens=5907,
                output_tokens=858,
                cost_usd=0.0233475,
                status="ok",
                input_text="What is the refund policy?",
                output_text="Refunds within 30 days <b>only</b>.",
            ),
        )
    )


def test_the_spans_table_gives_start_and_duration_in_units_not_raw_floats():
    trace = slow_rag()
    rows = trace._span_rows()
    assert rows["starts at"].to_list() == ["0.0 ms", "1.0 ms", "260 ms"]
    assert rows["duration"].to_list() == ["61.4 s", "83 ms", "61.1 s"]
    assert rows["cost"].to_list() == ["—", "—", "$0.0233"]
    assert "error_type" not in rows.columns  # nothing failed
    html = trace._repr_html_()
    assert SCIENTIFIC.findall(html) == []
    assert "61.4 s" in html and "$0.0233" in html
    assert trace.span_table()["end_ms"].max() > 60_000  # the data frame keeps the numbers


def test_a_failed_span_keeps_the_error_column():
    trace = Trace(
        spans(
            span("r", None, "qa", "chain", 0, 2.0, status="error", error_type="Timeout"),
            span("c", "r", "chat", "llm", 0.1, 2.0, status="error", error_type="Timeout"),
        )
    )
    assert trace._span_rows()["error_type"].to_list() == ["Timeout", "Timeout"]


def test_span_details_give_times_and_cost_in_units_and_the_content_first():
    trace = slow_rag()
    detail = trace.span_html("b")
    assert SCIENTIFIC.findall(detail) == []
    assert "<td>61.1 s</td>" in detail and "<td>$0.0233</td>" in detail
    assert "<td>260 ms</td>" in detail  # start_ms, since the trace began
    content, fields = detail.index("What is the refund policy?"), detail.index("<th>model</th>")
    assert content < fields
    assert "&lt;b&gt;only&lt;/b&gt;" in detail and "<b>only</b>" not in detail  # escaped
    # A span without content shows its fields straight away, not folded.
    assert "<summary>fields</summary>" not in trace.span_html("a")
    assert "<summary>fields</summary>" in detail


def test_the_details_of_the_spans_with_content_are_open_and_the_others_folded():
    html = slow_rag()._repr_html_()
    assert html.count("<details open>") == 1
    opened = html.index("<details open>")
    assert html.index("What is the refund policy?") > opened
    assert html.index("chat gpt-4o", opened) < html.index("What is the refund policy?")
