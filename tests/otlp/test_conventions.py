"""Derived attributes of both conventions, checked against the installed OpenInference names
and the GenAI v1.41 rules (opt-in, deprecated aliases, messages JSON)."""

from __future__ import annotations

import json

from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import OpenInferenceSpanKindValues, SpanAttributes

from llmobs_nb.capture import semconv as sc
from llmobs_nb.otlp import conventions as cv
from llmobs_nb.otlp.conventions import Conventions, span_attributes

ROW = {
    "kind": "llm",
    "model": "o3-mini",
    "response_model": "o3-mini-2025-01-31",
    "provider": "openai",
    "operation": None,
    "input_tokens": 100,
    "output_tokens": 40,
    "cached_input_tokens": 30,
    "cache_write_tokens": 5,
    "reasoning_tokens": 25,
    "cost_usd": 0.0012,
    "ttft_s": 0.25,
    "use_case": "support",
    "run": "prompt-v2",
    "project": "demo",
    "user_id": "alice",
    "status": "ok",
}


def test_every_kind_maps_to_an_installed_openinference_kind():
    installed = {v.value for v in OpenInferenceSpanKindValues}
    assert set(cv.OPENINFERENCE_KINDS.values()) <= installed
    for kind in sc.SPAN_KINDS:
        assert span_attributes({"kind": kind}, {}, Conventions())[sc.OI_SPAN_KIND] in installed
    assert span_attributes({"kind": "retrieval"}, {}, Conventions())[sc.OI_SPAN_KIND] == (
        "RETRIEVER"
    )
    assert span_attributes({"kind": "other"}, {}, Conventions())[sc.OI_SPAN_KIND] == "UNKNOWN"
    assert span_attributes({"kind": "new-kind"}, {}, Conventions())[sc.OI_SPAN_KIND] == "UNKNOWN"


def test_openinference_names_are_the_installed_ones():
    assert cv.OI_TOKEN_TOTAL == SpanAttributes.LLM_TOKEN_COUNT_TOTAL
    assert cv.OI_COST_TOTAL == SpanAttributes.LLM_COST_TOTAL
    assert cv.OI_RESPONSE_MODEL == SpanAttributes.LLM_RESPONSE_MODEL_NAME
    assert cv.OI_EMBEDDING_MODEL == SpanAttributes.EMBEDDING_MODEL_NAME
    assert cv.OI_METADATA == SpanAttributes.METADATA
    assert cv.OI_INPUT_MIME == SpanAttributes.INPUT_MIME_TYPE
    assert cv.OI_PROJECT == ResourceAttributes.PROJECT_NAME
    assert sc.OI_TOKEN_REASONING == SpanAttributes.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING
    assert sc.OI_TOKEN_CACHE_WRITE == SpanAttributes.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE
    assert sc.USER_ID == SpanAttributes.USER_ID


def test_model_call_in_both_conventions_by_default():
    attrs = span_attributes(ROW, {}, Conventions())
    expected = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "o3-mini",
        "llm.response.model_name": "o3-mini-2025-01-31",
        "llm.provider": "openai",
        "llm.system": "openai",
        "llm.token_count.prompt": 100,
        "llm.token_count.completion": 40,
        "llm.token_count.total": 140,
        "llm.token_count.prompt_details.cache_read": 30,
        "llm.token_count.prompt_details.cache_write": 5,
        "llm.token_count.completion_details.reasoning": 25,
        "llm.cost.total": 0.0012,
        "user.id": "alice",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "o3-mini",
        "gen_ai.response.model": "o3-mini-2025-01-31",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 30,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.usage.cache_write.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 25,
        "gen_ai.response.time_to_first_chunk": 0.25,
        "llmobs.kind": "llm",
        "llmobs.use_case": "support",
        "llmobs.run": "prompt-v2",
        "llmobs.user_id": "alice",
        "llmobs.project": "demo",
    }
    assert {k: attrs[k] for k in expected} == expected
    assert json.loads(attrs["metadata"]) == {
        "use_case": "support",
        "run": "prompt-v2",
        "project": "demo",
        "cost_usd": 0.0012,
        "ttft_s": 0.25,
    }
    # no content on the row: none goes out, in either convention
    assert not {"input.value", "output.value", "gen_ai.input.messages"} & attrs.keys()
    assert "error.type" not in attrs


def test_latest_opt_in_drops_deprecated_aliases_and_adds_messages():
    row = {**ROW, "input_text": '[{"role": "user", "content": "hi"}]', "output_text": "Hello!"}
    default = span_attributes(row, {}, Conventions())
    latest = span_attributes(row, {}, Conventions.from_env({cv.OPT_IN_VARIABLE: cv.LATEST_GENAI}))
    assert "gen_ai.system" in default and "gen_ai.system" not in latest
    assert "gen_ai.usage.cache_write.input_tokens" not in latest
    assert latest["gen_ai.usage.cache_creation.input_tokens"] == 5
    assert "gen_ai.input.messages" not in default
    assert json.loads(latest["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    assert json.loads(latest["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello!"}],
            "finish_reason": "stop",
        }
    ]
    for attrs in (default, latest):
        assert attrs["input.value"] == row["input_text"]
        assert attrs["input.mime_type"] == "application/json"
        assert (attrs["output.value"], attrs["output.mime_type"]) == ("Hello!", "text/plain")


def test_opt_in_is_one_of_a_comma_separated_list():
    assert Conventions.from_env({cv.OPT_IN_VARIABLE: " http , gen_ai_latest_experimental"}).latest
    assert not Conventions.from_env({cv.OPT_IN_VARIABLE: "gen_ai_latest_experimental_x"}).latest


def test_failed_output_message_finishes_with_error_and_finish_reason_comes_from_the_row():
    latest = Conventions(latest=True)
    failed = span_attributes({**ROW, "status": "error", "output_text": "x"}, {}, latest)
    assert json.loads(failed["gen_ai.output.messages"])[0]["finish_reason"] == "error"
    own = {"gen_ai.response.finish_reasons": ["length"]}
    cut = span_attributes({**ROW, "output_text": "x"}, own, latest)
    assert json.loads(cut["gen_ai.output.messages"])[0]["finish_reason"] == "length"


def test_error_type_is_the_rows_or_the_specs_fallback():
    assert (
        span_attributes(
            {**ROW, "status": "error", "error_type": "RateLimitError"}, {}, Conventions()
        )["error.type"]
        == "RateLimitError"
    )
    assert span_attributes({**ROW, "status": "error"}, {}, Conventions())["error.type"] == "_OTHER"


def test_attributes_on_the_row_win_over_derived_ones():
    own = {"llm.model_name": "theirs", "gen_ai.input.messages": "[]", "metadata": "{}"}
    attrs = span_attributes({**ROW, "input_text": "hi"}, own, Conventions(latest=True))
    assert attrs["llm.model_name"] == "theirs"
    assert attrs["gen_ai.input.messages"] == "[]"
    assert attrs["metadata"] == "{}"


def test_operations_by_kind_and_evaluator_rule():
    ops = {
        kind: span_attributes({"kind": kind}, {}, Conventions()).get("gen_ai.operation.name")
        for kind in ("embedding", "retrieval", "tool", "agent", "chain", "rerank", "other")
    }
    assert ops == {
        "embedding": "embeddings",
        "retrieval": "retrieval",
        "tool": "execute_tool",
        "agent": "invoke_agent",
        "chain": "invoke_workflow",
        "rerank": None,
        "other": None,
    }
    assert cv.operation_name("evaluator", "gpt-4o", None) == "chat"
    assert cv.operation_name("evaluator", None, None) is None
    assert cv.operation_name("llm", "m", "text_completion") == "text_completion"
    emb = span_attributes({"kind": "embedding", "model": "e-3"}, {}, Conventions())
    assert emb["embedding.model_name"] == emb["llm.model_name"] == "e-3"


def test_messages_from_chat_shapes():
    anthropic_blocks = '[{"role": "user", "content": [{"type": "text", "text": "a"}, {"x": 1}]}]'
    assert json.loads(cv.input_messages(anthropic_blocks)) == [
        {
            "role": "user",
            "parts": [{"type": "text", "content": "a"}, {"type": "text", "content": '{"x": 1}'}],
        }
    ]
    spec = '[{"role": "assistant", "parts": [], "finish_reason": "tool_call"}]'
    assert json.loads(cv.output_messages(spec))[0]["finish_reason"] == "tool_call"
    assert json.loads(cv.input_messages('{"messages": [{"role": "system", "content": "s"}]}')) == [
        {"role": "system", "parts": [{"type": "text", "content": "s"}]}
    ]
    for text in ('{"q": 1}', "[1, 2]", "[", "plain"):
        assert json.loads(cv.input_messages(text)) == [
            {"role": "user", "parts": [{"type": "text", "content": text}]}
        ]


def test_resource_attributes_name_the_project_for_phoenix(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    attrs = cv.resource_attributes("support-bot")
    assert attrs["service.name"] == "support-bot"
    assert attrs["openinference.project.name"] == "support-bot"
    assert attrs["telemetry.sdk.name"] == "opentelemetry"
    assert attrs["telemetry.sdk.version"][0].isdigit()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc")
    assert cv.resource_attributes(None)["service.name"] == "svc"
    assert "openinference.project.name" not in cv.resource_attributes(None)
