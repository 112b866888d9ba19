"""The real openai SDK, instrumented, against the local test server."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest

from llmobs_nb.local_llm.reply import Usage
from tests.clients.ttft import assert_ttft

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
VOLATILE = {"id", "created", "created_at"}


def comparable(obj):
    """A response as a dict without the fields that change per request."""
    data = obj.model_dump() if hasattr(obj, "model_dump") else obj
    if isinstance(data, dict):
        return {k: comparable(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [comparable(v) for v in data]
    return data


def make_client(server, **kwargs):
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test-0000000000000000", **kwargs)


def test_chat_completion_records_tokens_cost_and_leaves_the_result_unchanged(obs, server):
    plain = make_client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client = obs.instrument_openai(make_client(server))
    traced = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0)
    assert type(traced) is type(plain)
    assert comparable(traced) == comparable(plain)
    row = obs.calls().row(0, named=True)
    assert (row["model"], row["provider"], row["operation"]) == ("gpt-4o", "openai", "chat")
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 80)
    assert (row["cached_input_tokens"], row["reasoning_tokens"]) == (1024, 20)
    price = obs.prices.lookup("gpt-4o")
    expected = 176 * price.input_mtok + 1024 * price.cached_input_mtok + 80 * price.output_mtok
    assert row["cost_usd"] == pytest.approx(expected / 1e6)
    assert json.loads(row["attributes"])["gen_ai.response.finish_reasons"] == ["stop"]
    assert json.loads(row["attributes"])["llmobs.request_id"].startswith("req_")


def test_stream_with_usage_records_ttft_within_20ms_and_yields_the_same_chunks(obs, server):
    server.ttft_s = 0.15
    server.inter_chunk_s = 0.01
    kwargs = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    plain = [comparable(c) for c in make_client(server).chat.completions.create(**kwargs)]
    client = obs.instrument_openai(make_client(server))
    list(client.chat.completions.create(**kwargs))  # warm the connection
    start = time.perf_counter()
    traced, first_seen = [], None
    for chunk in client.chat.completions.create(**kwargs):
        if first_seen is None and chunk.choices and chunk.choices[0].delta.content:
            first_seen = time.perf_counter() - start
        traced.append(comparable(chunk))
    assert traced == plain
    assert traced[-1]["choices"] == [] and traced[-1]["usage"]["prompt_tokens"] == 1200
    row = obs.calls().row(1, named=True)
    assert_ttft(row["ttft_s"], configured=0.15, seen_by_client=first_seen)
    assert (row["input_tokens"], row["cached_input_tokens"], row["reasoning_tokens"]) == (
        1200,
        1024,
        20,
    )
    # the model and finish reason the chunks carried
    last_reason = next(c["choices"][0]["finish_reason"] for c in reversed(plain) if c["choices"])
    assert row["response_model"] == plain[0]["model"]
    assert json.loads(row["attributes"])["gen_ai.response.finish_reasons"] == [last_reason]


def test_stream_without_usage_gets_null_tokens_and_a_flag(obs, server):
    client = obs.instrument_openai(make_client(server))
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == server.reply
    row = obs.calls().row(0, named=True)
    assert row["input_tokens"] is None and row["cost_usd"] is None
    assert json.loads(row["attributes"])["llmobs.usage_missing"] is True
    assert row["ttft_s"] is not None


def test_responses_api_plain_and_streamed(obs, server):
    client = obs.instrument_openai(make_client(server))
    reply = client.responses.create(model="gpt-4o", input="hi")
    assert reply.output_text == server.reply
    events = list(client.responses.create(model="gpt-4o", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    calls = obs.calls()
    assert calls["operation"].to_list() == ["responses", "responses"]
    assert calls["input_tokens"].to_list() == [1200, 1200]
    assert calls["reasoning_tokens"].to_list() == [20, 20]
    assert calls["ttft_s"][0] is None and calls["ttft_s"][1] is not None


def test_embeddings_are_embedding_calls(obs, server):
    server.usage = Usage(input_tokens=7, output_tokens=0)
    obs.prices.add("text-embedding-3-small", input_mtok=0.02, output_mtok=0.0)
    client = obs.instrument_openai(make_client(server))
    result = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert len(result.data[0].embedding) == server.embedding_dim
    row = obs.calls().row(0, named=True)
    assert (row["kind"], row["operation"], row["input_tokens"]) == ("embedding", "embeddings", 7)
    assert row["cost_usd"] == pytest.approx(7 * 0.02 / 1e6)


def test_async_client_plain_and_streamed(obs, server):
    async def main():
        client = obs.instrument_openai(
            openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
        )
        first = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        return first, chunks

    first, chunks = asyncio.run(main())
    assert first.choices[0].message.content == server.reply
    assert chunks[-1].usage.prompt_tokens == 1200
    calls = obs.calls()
    assert calls["input_tokens"].to_list() == [1200, 1200]
    assert calls["ttft_s"][0] is None and calls["ttft_s"][1] is not None


def test_rate_limit_error_is_recorded_with_type_and_status(obs, server):
    client = obs.instrument_openai(make_client(server, max_retries=0))
    server.queue_errors([429])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    row = obs.calls().row(0, named=True)
    assert (row["status"], row["error_type"]) == ("error", "RateLimitError")
    assert json.loads(row["attributes"])["http.response.status_code"] == 429


def test_retries_are_counted_and_the_call_succeeds(obs, server):
    client = obs.instrument_openai(make_client(server, max_retries=2))
    server.queue_errors([429, 500])
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    row = obs.calls().row(0, named=True)
    assert row["status"] == "ok"
    assert json.loads(row["attributes"])["http.request.resend_count"] == 2
    assert len(server.requests) == 3


def test_server_error_and_timeout(obs, server):
    client = obs.instrument_openai(make_client(server, max_retries=0, timeout=0.3))
    server.queue_errors([500])
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    server.hang_next(2.0)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert obs.calls()["error_type"].to_list() == ["InternalServerError", "APITimeoutError"]


def test_instrumenting_twice_is_harmless_and_uninstrument_restores(obs, server):
    client = make_client(server)
    original = client.chat.completions.create
    obs.instrument_openai(client)
    obs.instrument_openai(client)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert obs.calls().height == 1
    obs.uninstrument(client)
    assert client.chat.completions.create == original
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert obs.calls().height == 1


def test_wrong_client_type_is_a_clear_error(obs):
    with pytest.raises(TypeError, match=r"needs an openai\.OpenAI"):
        obs.instrument_openai(object())
