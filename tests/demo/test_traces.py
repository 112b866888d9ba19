"""Every trace is well formed: OTel ids, parent links that resolve, stages in time order."""

from __future__ import annotations

import polars as pl


def test_ids_are_lowercase_hex_of_otel_length_and_span_ids_are_unique(sample):
    spans = sample.spans
    assert spans["trace_id"].str.contains(r"^[0-9a-f]{32}$").all()
    assert spans["span_id"].str.contains(r"^[0-9a-f]{16}$").all()
    assert spans["span_id"].n_unique() == spans.height
    assert sample.calls["trace_id"].n_unique() == sample.calls.height  # one LLM call per trace


def test_every_parent_is_a_span_of_the_same_trace(sample):
    spans = sample.spans
    children = spans.filter(pl.col("parent_span_id").is_not_null())
    joined = children.join(
        spans.select("span_id", pl.col("trace_id").alias("parent_trace")),
        left_on="parent_span_id",
        right_on="span_id",
        how="left",
    )
    assert joined["parent_trace"].null_count() == 0
    assert (joined["parent_trace"] == joined["trace_id"]).all()


def test_a_rag_trace_is_a_chain_over_retrieval_then_rerank_then_generation(sample):
    spans = sample.spans
    roots = spans.filter(pl.col("parent_span_id").is_null())
    chains = roots.filter(pl.col("kind") == "chain")
    assert set(roots["kind"]) == {"chain", "llm"}  # RAG pipelines and plain chat calls
    assert set(chains["use_case"]) == {"customer_service", "docs_qa"}

    children = spans.filter(pl.col("parent_span_id").is_not_null())
    stages = (
        children.sort("start_time")
        .group_by("parent_span_id", maintain_order=True)
        .agg(
            pl.col("kind"),
            pl.col("start_time"),
            pl.col("end_time"),
        )
    )
    assert stages.height == chains.height
    assert set(stages["kind"].list.join(">")) == {"retrieval>rerank>llm"}
    # Each stage starts after the previous one ended.
    order = stages.select(
        (pl.col("start_time").list.get(1) >= pl.col("end_time").list.get(0)).alias("rerank"),
        (pl.col("start_time").list.get(2) >= pl.col("end_time").list.get(1)).alias("llm"),
    )
    assert order["rerank"].all() and order["llm"].all()

    # The chain spans its children, and shares their status.
    covered = chains.join(
        children.group_by("parent_span_id").agg(
            pl.col("start_time").min().alias("first"), pl.col("end_time").max().alias("last")
        ),
        left_on="span_id",
        right_on="parent_span_id",
    )
    assert (covered["start_time"] <= covered["first"]).all()
    assert (covered["end_time"] >= covered["last"]).all()
    generation = children.filter(pl.col("kind") == "llm").select(
        "parent_span_id", pl.col("status").alias("llm_status")
    )
    statuses = chains.join(generation, left_on="span_id", right_on="parent_span_id")
    assert (statuses["status"] == statuses["llm_status"]).all()


def test_plain_chat_calls_are_root_llm_spans(sample):
    chats = sample.calls.filter(pl.col("use_case").is_in(["summarization", "code_assist"]))
    assert chats.height > 0
    assert chats["parent_span_id"].null_count() == chats.height


def test_latency_is_end_minus_start_and_ttft_fits_inside_it(sample):
    spans = sample.spans
    measured = (spans["end_time"] - spans["start_time"]).dt.total_microseconds() / 1e6
    assert (measured - spans["latency_s"]).abs().max() < 1e-6
    streamed = sample.calls.filter(pl.col("ttft_s").is_not_null())
    assert (streamed["ttft_s"] > 0).all()
    assert (streamed["ttft_s"] <= streamed["latency_s"]).all()
    # Summaries are not streamed: no first token to time.
    summaries = sample.calls.filter(pl.col("use_case") == "summarization")
    assert summaries["ttft_s"].null_count() == summaries.height


def test_every_trace_starts_inside_the_generated_period_and_spans_carry_the_project(sample):
    spans = sample.spans
    roots = spans.filter(pl.col("parent_span_id").is_null())
    assert roots["start_time"].min() >= sample.start
    assert roots["start_time"].max() < sample.end
    assert set(spans["project"]) == {"demo"}
    assert spans["start_time"].is_sorted()
