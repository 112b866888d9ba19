"""The real anthropic SDK, instrumented, against the local test server."""

from __future__ import annotations

import asyncio
import time

import anthropic
import pytest

import llmobs_nb
from llmobs_nb.local_llm.reply import Usage
from tests.clients.ttft import assert_ttft

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
MODEL = "claude-sonnet-4-6"
CACHED = Usage(input_tokens=2000, output_tokens=50, cached_tokens=1500, cache_creation_tokens=300)


def make_client(server, cls=anthropic.Anthropic, **kwargs):
    return cls(base_url=server.url, api_key="sk-ant-test-000000000000", **kwargs)


def test_cache_tokens_are_normalised_and_priced_with_their_own_rates(obs, server):
    server.usage = CACHED
    client = obs.instrument_anthropic(make_client(server))
    message = client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    # what the caller sees is Anthropic's own split form
    assert message.usage.input_tokens == 200
    assert message.usage.cache_read_input_tokens == 1500
    assert message.usage.cache_creation_input_tokens == 300
    row = obs.spans().row(0, named=True)
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_tokens"]) == (
        2000,
        1500,
        300,
    )
    price = obs.prices.lookup(MODEL, "anthropic")
    expected = (
        200 * price.input_mtok
        + 1500 * price.cached_input_mtok
        + 300 * price.cache_write_mtok
        + 50 * price.output_mtok
    ) / 1e6
    assert row["cost_usd"] == pytest.approx(expected)


def test_streamed_create_records_ttft_and_usage(obs, server):
    server.usage = CACHED
    server.ttft_s = 0.12
    client = obs.instrument_anthropic(make_client(server))
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)  # warm up
    start = time.perf_counter()
    events = []
    first_seen = None
    for event in client.messages.create(
        model=MODEL, max_tokens=100, messages=MESSAGES, stream=True
    ):
        if first_seen is None and event.type == "content_block_delta":
            first_seen = time.perf_counter() - start
        events.append(event)
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    row = obs.calls().row(1, named=True)
    assert_ttft(row["ttft_s"], configured=0.12, seen_by_client=first_seen)
    assert (row["input_tokens"], row["output_tokens"], row["cached_input_tokens"]) == (
        2000,
        50,
        1500,
    )


def test_stream_helper_is_traced_and_returns_the_same_text(obs, server):
    server.ttft_s = 0.05
    client = obs.instrument_anthropic(make_client(server))
    with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == server.reply
    assert final.usage.output_tokens == server.usage.output_tokens
    row = obs.calls().row(0, named=True)
    assert row["input_tokens"] == server.usage.input_tokens
    assert row["ttft_s"] >= 0.05


def test_async_client_and_async_stream_helper(obs, server):
    async def main():
        client = obs.instrument_anthropic(make_client(server, anthropic.AsyncAnthropic))
        message = await client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=MESSAGES) as stream:
            final = await stream.get_final_message()
        return message, final

    message, final = asyncio.run(main())
    assert message.content[0].text == final.content[0].text == server.reply
    calls = obs.calls()
    assert calls.height == 2
    assert calls["ttft_s"][0] is None and calls["ttft_s"][1] is not None


def test_overloaded_error_is_recorded(obs, server):
    client = obs.instrument_anthropic(make_client(server, max_retries=0))
    server.queue_errors([429])
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert obs.calls()["error_type"].to_list() == ["RateLimitError"]


def test_sdk_builtin_tracing_does_not_double_count(tmp_path, server):
    obs = llmobs_nb.init(db=tmp_path / "g.duckdb", set_global=True)
    try:
        client = obs.instrument_anthropic(make_client(server))
        client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
        spans = obs.spans()
        assert obs.calls().height == 1
        sdk_spans = spans.filter(spans["parent_span_id"] == obs.calls()["span_id"][0])
        # the SDK's own span (if its tracing is on) is kept, but not as an LLM call
        assert sdk_spans.height <= 1
        if sdk_spans.height:
            assert sdk_spans["kind"][0] == "other"
            assert "llmobs.duplicate_call" in sdk_spans["attributes"][0]
    finally:
        obs.close()


def test_uninstrument_restores_the_client(obs, server):
    client = make_client(server)
    obs.instrument_anthropic(client)
    obs.uninstrument(client)
    client.messages.create(model=MODEL, max_tokens=100, messages=MESSAGES)
    assert obs.calls().height == 0
