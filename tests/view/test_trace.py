"""A trace displays as a waterfall with each span's attributes, content and scores."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.view import Trace


def rag_trace_id(sample: demo.SampleData) -> str:
    scored = set(sample.scores["trace_id"].to_list())
    rag = sample.spans.filter((pl.col("kind") == "retrieval") & pl.col("trace_id").is_in(scored))
    return rag["trace_id"][0]


def test_a_rag_trace_loads_from_a_store_file_in_tree_order(store_file: Path, sample):
    trace = Trace.load(store_file, rag_trace_id(sample))
    assert trace.spans["kind"].to_list() == ["chain", "retrieval", "rerank", "llm"]
    assert trace.spans["depth"].to_list() == [0, 1, 1, 1]
    assert trace.scores.height >= 1


def test_the_trace_html_holds_the_waterfall_spans_and_scores(store_file: Path, sample):
    trace = Trace.load(store_file, rag_trace_id(sample))
    html = trace._repr_html_()
    assert "llmobs-vis" in html and "retrieval" in html and "rerank" in html
    score = trace.scores.row(0, named=True)
    assert score["name"] in html


def test_span_details_show_captured_content(live_obs: llmobs_nb.Observer):
    row = live_obs.sql("SELECT trace_id, span_id FROM spans WHERE model = ?", ["o'brien"]).row(0)
    live_obs.score(span_id=row[1], name="quality", value=0.25, comment="too short")
    trace = Trace.load(live_obs, row[0])
    detail = trace.span_html(row[1])
    assert "o&#x27;brien" in detail  # escaped, not raw HTML
    assert "<pre>" in detail and "fine" in detail
    assert "too short" in detail and "0.25" in detail


def test_unknown_or_malformed_trace_ids_are_refused(store_file: Path):
    with pytest.raises(ValueError, match="32 lowercase hex"):
        Trace.load(store_file, "not-a-trace")
    with pytest.raises(KeyError, match="no trace"):
        Trace.load(store_file, "0" * 32)


def test_a_trace_holds_one_trace_only(sample):
    with pytest.raises(ValueError, match="one trace"):
        Trace(sample.spans.head(50))
