"""set_global=True: spans from other OpenTelemetry instrumentations land with the same columns."""

from __future__ import annotations

import pytest
from opentelemetry import trace

import llmobs_nb


@pytest.fixture
def global_obs(tmp_path):
    observer = llmobs_nb.init(db=tmp_path / "g.duckdb", project="g", set_global=True)
    yield observer
    observer.close()


def test_genai_semconv_span_from_another_tracer_is_an_llm_call(global_obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 500,
            }
        )
    row = global_obs.calls().row(0, named=True)
    assert (row["kind"], row["model"], row["response_model"]) == (
        "llm",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 500)
    assert row["cost_usd"] == pytest.approx(0.0075)
    assert row["provider"] == "openai"


def test_openinference_span_is_read_with_its_own_names(global_obs):
    tracer = trace.get_tracer("openinference.instrumentation.anthropic")
    with tracer.start_as_current_span("Messages") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "claude-sonnet-4-5",
                "llm.provider": "anthropic",
                "llm.token_count.prompt": 1200,
                "llm.token_count.completion": 80,
                "llm.token_count.prompt_details.cache_read": 1000,
            }
        )
    row = global_obs.calls().row(0, named=True)
    assert row["model"] == "claude-sonnet-4-5"
    assert (row["input_tokens"], row["cached_input_tokens"]) == (1200, 1000)
    assert row["cost_usd"] is not None


def test_anthropic_sdk_cache_write_attribute_is_read(global_obs):
    tracer = trace.get_tracer("anthropic")
    with tracer.start_as_current_span("chat claude") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "claude-sonnet-4-5",
                "gen_ai.usage.input_tokens": 1300,
                "gen_ai.usage.cache_write.input_tokens": 300,
                "gen_ai.usage.output_tokens": 10,
            }
        )
    spans = global_obs.spans()
    assert spans["cache_write_tokens"][0] == 300
    assert spans["input_tokens"][0] == 1300


def test_third_party_spans_nest_under_ours(global_obs):
    tracer = trace.get_tracer("someone.else")
    with global_obs.span("pipeline") as root, tracer.start_as_current_span("http GET"):
        pass
    spans = {r["name"]: r for r in global_obs.spans().iter_rows(named=True)}
    assert spans["http GET"]["parent_span_id"] == root.span_id
    assert spans["http GET"]["kind"] == "other"


def test_a_rerun_init_takes_over_the_global_provider(tmp_path):
    first = llmobs_nb.init(db=tmp_path / "a.duckdb", set_global=True)
    tracer = trace.get_tracer("early.instrumentation")  # obtained before the re-run
    first.close()
    second = llmobs_nb.init(db=tmp_path / "b.duckdb", set_global=True)
    try:
        with tracer.start_as_current_span("x") as span:
            span.set_attribute("gen_ai.request.model", "gpt-4o")
        assert second.calls().height == 1
    finally:
        second.close()
