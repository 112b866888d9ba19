"""Third-party spans read completely: the model of a failed OpenInference call, TTFT from a
first-token event, GenAI messages (attributes or the operation-details event) as readable text."""

from __future__ import annotations

import json
import time

import pytest
from opentelemetry import trace

import llmobs_nb


@pytest.fixture
def global_obs(tmp_path):
    observer = llmobs_nb.init(
        db=tmp_path / "g.duckdb", project="g", set_global=True, capture_content=True
    )
    yield observer
    observer.close()


def _span_row(obs: llmobs_nb.Observer) -> dict:
    obs.flush()
    spans = obs.spans()
    assert spans.height == 1
    return spans.row(0, named=True)


def test_failed_openinference_call_keeps_the_model_of_its_invocation_parameters(global_obs):
    tracer = trace.get_tracer("openinference.instrumentation.openai")
    with pytest.raises(RuntimeError), tracer.start_as_current_span("ChatCompletion") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.provider": "openai",
                "llm.invocation_parameters": json.dumps({"model": "gpt-4o", "temperature": 0}),
            }
        )
        raise RuntimeError("rate limited")
    row = _span_row(global_obs)
    assert (row["kind"], row["model"], row["status"]) == ("llm", "gpt-4o", "error")


def test_invocation_parameters_that_are_not_json_cost_only_the_model(global_obs):
    tracer = trace.get_tracer("openinference.instrumentation.openai")
    with tracer.start_as_current_span("ChatCompletion") as span:
        span.set_attributes(
            {"openinference.span.kind": "LLM", "llm.invocation_parameters": '{"model": '}
        )
    row = _span_row(global_obs)
    assert (row["kind"], row["model"], row["status"]) == ("llm", None, "ok")


def test_ttft_is_read_from_openinferences_first_token_event(global_obs):
    tracer = trace.get_tracer("openinference.instrumentation.openai")
    start = time.time_ns()
    span = tracer.start_span("ChatCompletion", start_time=start)
    span.set_attributes({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"})
    span.add_event("First Token Stream Event", timestamp=start + 250_000_000)
    span.add_event("First Token Stream Event", timestamp=start + 400_000_000)  # first wins
    span.end(end_time=start + 10**9)
    row = _span_row(global_obs)
    assert row["ttft_s"] == pytest.approx(0.25)
    assert row["latency_s"] == pytest.approx(1.0)


def test_a_first_token_event_before_the_start_costs_only_ttft(global_obs):
    tracer = trace.get_tracer("openinference.instrumentation.openai")
    start = time.time_ns()
    span = tracer.start_span("ChatCompletion", start_time=start)
    span.set_attributes({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"})
    span.add_event("First Token Stream Event", timestamp=start - 5_000_000)
    span.end(end_time=start + 10**9)
    row = _span_row(global_obs)
    assert row["ttft_s"] is None
    assert row["model"] == "gpt-4o"
    assert "time to first chunk" in json.loads(row["attributes"])["llmobs.attribute_error"]


def test_genai_time_to_first_chunk_attribute_wins_over_the_event(global_obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    start = time.time_ns()
    span = tracer.start_span("chat gpt-4o", start_time=start)
    span.set_attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.time_to_first_chunk": 0.125,
        }
    )
    span.add_event("First Token Stream Event", timestamp=start + 500_000_000)
    span.end(end_time=start + 10**9)
    assert _span_row(global_obs)["ttft_s"] == pytest.approx(0.125)


INPUT = [{"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}]
OUTPUT = [
    {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "Paris."},
            {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"q": "France"}},
        ],
        "finish_reason": "stop",
    }
]
SYSTEM = [{"type": "text", "content": "Answer briefly."}]


def test_genai_messages_attributes_become_readable_text(global_obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": json.dumps(INPUT),
                "gen_ai.output.messages": json.dumps(OUTPUT),
                "gen_ai.system_instructions": json.dumps(SYSTEM),
            }
        )
    row = _span_row(global_obs)
    assert row["input_text"] == "system: Answer briefly.\nuser: What is the capital of France?"
    assert row["output_text"] == 'assistant: Paris. [tool_call lookup({"q": "France"})]'


def test_the_operation_details_event_gives_the_messages(global_obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
        span.add_event(
            "gen_ai.client.inference.operation.details",
            {
                "gen_ai.input.messages": json.dumps(INPUT),
                "gen_ai.output.messages": json.dumps(OUTPUT[:1]),
            },
        )
    row = _span_row(global_obs)
    assert row["input_text"] == "user: What is the capital of France?"
    assert row["output_text"].startswith("assistant: Paris.")


def test_messages_that_are_not_json_are_kept_as_text_with_the_problem_named(global_obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": "plain [not json",
            }
        )
    row = _span_row(global_obs)
    assert row["input_text"] == "plain [not json"
    assert row["model"] == "gpt-4o"
    assert "gen_ai.input.messages" in json.loads(row["attributes"])["llmobs.attribute_error"]


def test_openinference_flattened_messages_without_input_value(global_obs):
    tracer = trace.get_tracer("openinference.instrumentation.anthropic")
    with tracer.start_as_current_span("Messages") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "claude-sonnet-4-5",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "Capital of France?",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "Be brief.",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.contents.0.message_content.text": "Paris",
            }
        )
    row = _span_row(global_obs)
    assert row["input_text"] == "system: Be brief.\nuser: Capital of France?"
    assert row["output_text"] == "assistant: Paris"


def test_secrets_in_genai_messages_are_redacted(global_obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.openai_v2")
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    message = [{"role": "user", "parts": [{"type": "text", "content": f"my key is {key}"}]}]
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(message)}
        )
    row = _span_row(global_obs)
    assert row["input_text"].startswith("user: my key is ")
    assert key not in row["input_text"]
    assert key not in row["attributes"]
