"""Decorator attributes are validated once and still reach every OpenTelemetry span intact."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import llmobs_nb
from llmobs_nb.capture.presets import add_valid, preset


def test_observed_spans_carry_the_decorator_attributes_for_other_processors(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "p.duckdb", project="presets")
    exported = InMemorySpanExporter()
    obs.capture.provider.add_span_processor(SimpleSpanProcessor(exported))
    try:

        @obs.observe(model="gpt-4o", provider="openai", tags=["a", "b"], retries=0)
        def ask(q):
            return {"usage": {"prompt_tokens": 3, "completion_tokens": 1}}

        ask("one")
        ask("two")
        calls = obs.calls()
    finally:
        obs.close()
    spans = exported.get_finished_spans()
    assert len(spans) == 2 and calls.height == 2
    for span in spans:
        assert dict(span.attributes) == {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "tags": ("a", "b"),
            "retries": 0,
            "llmobs.kind": "llm",
            "gen_ai.usage.input_tokens": 3,
            "gen_ai.usage.output_tokens": 1,
        }
    assert calls["model"].to_list() == ["gpt-4o", "gpt-4o"]


def test_a_preset_holds_exactly_what_the_sdk_stores_for_the_same_attributes():
    attributes = {"ok": 1.5, "odd": object(), "mixed": [1, "x"], "none": None, "list": [1, 2]}
    span = TracerProvider().get_tracer("t").start_span("s", attributes=attributes)
    assert preset(attributes) == dict(span.attributes)


def test_attributes_a_span_started_with_win_over_the_preset():
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s", attributes={"llmobs.use_case": "per-call"})
    add_valid(span, preset({"llmobs.use_case": "fixed", "app.route": "/ask"}), keep_existing=True)
    span.end()
    assert dict(span.attributes) == {"llmobs.use_case": "per-call", "app.route": "/ask"}


def test_attribute_limits_still_apply_through_the_public_path():
    provider = TracerProvider(span_limits=SpanLimits(max_span_attribute_length=4))
    span = provider.get_tracer("t").start_span("s")
    add_valid(span, preset({"app.route": "/ask/longer"}), keep_existing=True)
    span.end()
    assert dict(span.attributes) == {"app.route": "/ask"}


def test_values_learnt_at_the_end_replace_earlier_ones():
    span = TracerProvider().get_tracer("t").start_span("s", attributes={"gen_ai.response.id": "a"})
    add_valid(span, {"gen_ai.response.id": "b", "n": 3}, keep_existing=False)
    span.end()
    assert dict(span.attributes) == {"gen_ai.response.id": "b", "n": 3}
