"""LLMTestServer speaks the OpenAI and Anthropic APIs well enough for the real, uninstrumented SDKs.

Every test drives the installed ``openai`` and ``anthropic`` clients against a real server on
127.0.0.1 and checks what a user of those SDKs would see.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

from llmobs_nb.local_llm import LLMTestServer, Usage

CLAUDE = "claude-sonnet-4-6"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
RICH_USAGE = Usage(
    input_tokens=1200, output_tokens=90, cached_tokens=1000, reasoning_tokens=40,
    cache_creation_tokens=150,
)  # fmt: skip


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(usage=RICH_USAGE) as running:
        yield running


def openai_client(server: LLMTestServer, **options: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test-secret", **options)


def anthropic_client(server: LLMTestServer, **options: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test-secret", **options)


# -- OpenAI chat completions ---------------------------------------------------------------


def test_chat_completion_returns_reply_usage_and_request_id(server: LLMTestServer) -> None:
    raw = openai_client(server).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    completion = raw.parse()

    assert completion.choices[0].message.content == "The capital of France is Paris."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion._request_id == raw.headers["x-request-id"] == "req_000000000001"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1200, 90, 1290)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 40


def test_stream_without_include_usage_sends_no_usage(server: LLMTestServer) -> None:
    chunks = list(
        openai_client(server).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
    )

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "The capital of France is Paris."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_with_include_usage_ends_with_a_usage_only_chunk(server: LLMTestServer) -> None:
    server.chunks = 3
    chunks = list(
        openai_client(server).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert deltas == ["The capital ", "of France ", "is Paris."]
    *content_chunks, last = chunks
    assert all(chunk.usage is None for chunk in content_chunks)
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (1200, 90)
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 1000
    assert last.usage.completion_tokens_details is not None
    assert last.usage.completion_tokens_details.reasoning_tokens == 40


def test_async_openai_plain_and_streamed(server: LLMTestServer) -> None:
    async def calls() -> tuple[str | None, str, int | None]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
        plain = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if chunk.usage:
                usage = chunk.usage.completion_tokens
        await client.close()
        return plain.choices[0].message.content, text, usage

    plain_text, streamed_text, streamed_output_tokens = asyncio.run(calls())

    assert plain_text == streamed_text == "The capital of France is Paris."
    assert streamed_output_tokens == 90


def test_response_model_can_differ_from_the_requested_model(server: LLMTestServer) -> None:
    server.response_model = "gpt-4o-mini-2024-07-18"
    completion = openai_client(server).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES
    )

    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert server.requests[-1].body["model"] == "gpt-4o-mini"


# -- OpenAI responses and embeddings -------------------------------------------------------


def test_responses_create_returns_text_and_usage(server: LLMTestServer) -> None:
    response = openai_client(server).responses.create(model="gpt-4.1", input="Capital of France?")

    assert response.output_text == "The capital of France is Paris."
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1200, 90)
    assert response.usage.input_tokens_details.cached_tokens == 1000
    assert response.usage.output_tokens_details.reasoning_tokens == 40


def test_streamed_responses_send_the_documented_event_types(server: LLMTestServer) -> None:
    server.chunks = 2
    events = list(
        openai_client(server).responses.create(model="gpt-4.1", input="Capital?", stream=True)
    )

    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.usage.input_tokens_details.cached_tokens == 1000


def test_responses_stream_helper_accumulates_the_final_response(server: LLMTestServer) -> None:
    with openai_client(server).responses.stream(model="gpt-4.1", input="Capital?") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert "".join(deltas) == final.output_text == "The capital of France is Paris."
    assert final.usage is not None and final.usage.output_tokens == 90


def test_embeddings_are_deterministic_in_base64_and_float_formats(server: LLMTestServer) -> None:
    client = openai_client(server)
    default = client.embeddings.create(model="text-embedding-3-small", input=["cat", "dog"])
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=["cat", "dog"], encoding_format="float"
    )
    wide = client.embeddings.create(model="text-embedding-3-small", input="cat", dimensions=32)

    assert server.requests[0].body["encoding_format"] == "base64"  # the SDK's own default
    cat, dog = (d.embedding for d in floats.data)
    assert default.data[0].embedding == pytest.approx(cat, abs=1e-6)  # float32 round trip
    assert default.data[1].embedding == pytest.approx(dog, abs=1e-6)
    assert len(cat) == 8 and cat != dog
    assert sum(v * v for v in cat) == pytest.approx(1.0)
    assert len(wide.data[0].embedding) == 32
    assert default.usage.prompt_tokens == 1200


def test_raw_base64_embedding_is_little_endian_float32(server: LLMTestServer) -> None:
    raw = openai_client(server).embeddings.create(
        model="text-embedding-3-small", input="cat", encoding_format="base64"
    )
    encoded = raw.data[0].embedding
    assert isinstance(encoded, str)

    vector = struct.unpack("<8f", base64.b64decode(encoded))

    assert sum(v * v for v in vector) == pytest.approx(1.0, abs=1e-5)


# -- Anthropic messages --------------------------------------------------------------------


def test_anthropic_message_reports_cache_reads_and_writes_apart(server: LLMTestServer) -> None:
    raw = anthropic_client(server).messages.with_raw_response.create(
        model=CLAUDE, max_tokens=100, messages=MESSAGES
    )
    message = raw.parse()

    assert message.content[0].type == "text"
    assert message.content[0].text == "The capital of France is Paris."
    assert message.stop_reason == "end_turn"
    assert message._request_id == raw.headers["request-id"]
    # Anthropic's input_tokens excludes cache reads and writes: 1200 - 1000 - 150.
    assert message.usage.input_tokens == 50
    assert message.usage.cache_read_input_tokens == 1000
    assert message.usage.cache_creation_input_tokens == 150
    assert message.usage.output_tokens == 90


def test_anthropic_raw_stream_sends_events_in_documented_order(server: LLMTestServer) -> None:
    server.chunks = 2
    events = list(
        anthropic_client(server).messages.create(
            model=CLAUDE, max_tokens=100, messages=MESSAGES, stream=True
        )
    )

    assert [event.type for event in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start, delta = events[0], events[-2]
    assert start.type == "message_start" and delta.type == "message_delta"
    assert start.message.usage.input_tokens == 50
    assert start.message.usage.cache_read_input_tokens == 1000
    assert start.message.usage.cache_creation_input_tokens == 150
    assert delta.usage.output_tokens == 90


def test_anthropic_stream_helper_gives_text_and_final_usage(server: LLMTestServer) -> None:
    with anthropic_client(server).messages.stream(
        model=CLAUDE, max_tokens=100, messages=MESSAGES
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "The capital of France is Paris."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (50, 90)
    assert final.usage.cache_read_input_tokens == 1000


def test_async_anthropic_plain_and_streamed(server: LLMTestServer) -> None:
    async def calls() -> tuple[str, str, int]:
        client = anthropic.AsyncAnthropic(base_url=server.url, api_key="sk-ant-test")
        plain = await client.messages.create(model=CLAUDE, max_tokens=50, messages=MESSAGES)
        async with client.messages.stream(model=CLAUDE, max_tokens=50, messages=MESSAGES) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
        block = plain.content[0]
        return (block.text if block.type == "text" else ""), text, final.usage.output_tokens

    plain_text, streamed_text, output_tokens = asyncio.run(calls())

    assert plain_text == streamed_text == "The capital of France is Paris."
    assert output_tokens == 90


# -- errors, retries and hangs -------------------------------------------------------------


def test_429_raises_rate_limit_error_with_retry_after(server: LLMTestServer) -> None:
    server.queue_errors([429], retry_after_s=0.25)

    with pytest.raises(openai.RateLimitError) as caught:
        openai_client(server, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )

    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.request_id == "req_000000000001"
    assert caught.value.response.headers["retry-after-ms"] == "250"
    assert caught.value.response.headers["retry-after"] == "1"


def test_openai_retries_through_two_429s(server: LLMTestServer) -> None:
    server.queue_errors([429, 429])

    completion = openai_client(server, max_retries=2).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES
    )

    assert completion.choices[0].message.content == "The capital of France is Paris."
    assert len(server.requests) == 3
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1", "2"]


def test_anthropic_rate_limit_and_retries(server: LLMTestServer) -> None:
    server.queue_errors([429])
    with pytest.raises(anthropic.RateLimitError) as caught:
        anthropic_client(server, max_retries=0).messages.create(
            model=CLAUDE, max_tokens=10, messages=MESSAGES
        )
    assert caught.value.body == {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Number of requests has exceeded your rate limit.",
        },
        "request_id": "req_000000000001",
    }

    server.reset()
    server.queue_errors([429, 429])
    message = anthropic_client(server, max_retries=2).messages.create(
        model=CLAUDE, max_tokens=10, messages=MESSAGES
    )
    assert message.usage.output_tokens == 90
    assert len(server.requests) == 3


def test_500_raises_internal_server_error_in_both_sdks(server: LLMTestServer) -> None:
    server.queue_errors([500, 500])

    with pytest.raises(openai.InternalServerError) as openai_error:
        openai_client(server, max_retries=0).responses.create(model="gpt-4.1", input="hi")
    with pytest.raises(anthropic.InternalServerError) as anthropic_error:
        anthropic_client(server, max_retries=0).messages.create(
            model=CLAUDE, max_tokens=10, messages=MESSAGES
        )

    assert openai_error.value.status_code == anthropic_error.value.status_code == 500
    assert openai_error.value.type == "server_error"
    assert anthropic_error.value.body["error"]["type"] == "api_error"


def test_529_is_anthropics_overloaded_error(server: LLMTestServer) -> None:
    server.queue_errors([529])

    with pytest.raises(anthropic.OverloadedError):
        anthropic_client(server, max_retries=0).messages.create(
            model=CLAUDE, max_tokens=10, messages=MESSAGES
        )


def test_errors_are_used_once_in_order_then_answers_resume(server: LLMTestServer) -> None:
    server.queue_errors([429, 500])
    client = openai_client(server, max_retries=0)

    outcomes = []
    for _ in range(3):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            outcomes.append("ok")
        except openai.APIStatusError as error:
            outcomes.append(error.status_code)

    assert outcomes == [429, 500, "ok"]


def test_hang_makes_a_short_client_timeout_fire(server: LLMTestServer) -> None:
    server.hang_next(10.0)
    began = time.perf_counter()

    with pytest.raises(openai.APITimeoutError):
        openai_client(server, max_retries=0, timeout=0.3).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    with pytest.raises(anthropic.APITimeoutError):
        server.hang_next(10.0)
        anthropic_client(server, max_retries=0, timeout=0.3).messages.create(
            model=CLAUDE, max_tokens=10, messages=MESSAGES
        )

    assert time.perf_counter() - began < 2.0


def test_hang_after_chunks_stalls_a_stream_half_way(server: LLMTestServer) -> None:
    server.hang_next(10.0, after_chunks=2)
    received: list[str] = []

    with pytest.raises(openai.APITimeoutError):
        stream = openai_client(server, max_retries=0, timeout=0.5).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "The capital of "


def test_a_hang_delays_a_stream_once_and_then_it_answers(server: LLMTestServer) -> None:
    server.hang_next(0.3)
    began = time.perf_counter()

    chunks = openai_client(server).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)

    assert text == "The capital of France is Paris."
    assert 0.3 <= time.perf_counter() - began < 0.55


def test_stopping_the_server_releases_a_hanging_request() -> None:
    server = LLMTestServer().start()
    server.hang_next(30.0)
    client = openai_client(server, max_retries=0, timeout=30.0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        except openai.APIError as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    while not server.requests:
        time.sleep(0.01)
    began = time.perf_counter()
    server.stop()
    caller.join(timeout=5)

    assert time.perf_counter() - began < 3.0
    assert not caller.is_alive()
    assert isinstance(errors[0], openai.APIConnectionError)


# -- timing --------------------------------------------------------------------------------


def _openai_ttft_s(server: LLMTestServer) -> float:
    client = openai_client(server)
    began = time.perf_counter()
    for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            return time.perf_counter() - began
    raise AssertionError("the stream had no content")


def _anthropic_ttft_s(server: LLMTestServer) -> float:
    client = anthropic_client(server)
    began = time.perf_counter()
    with client.messages.stream(model=CLAUDE, max_tokens=10, messages=MESSAGES) as stream:
        for _ in stream.text_stream:
            return time.perf_counter() - began
    raise AssertionError("the stream had no text")


@pytest.mark.parametrize(
    "measure", [_openai_ttft_s, _anthropic_ttft_s], ids=["openai", "anthropic"]
)
def test_ttft_seen_by_the_client_matches_the_setting(
    server: LLMTestServer, measure: Callable[[LLMTestServer], float]
) -> None:
    measure(server)  # the first stream pays for the SDK building its models, not the server
    server.ttft_s = 0.15

    ttft_s = statistics.median(measure(server) for _ in range(3))

    assert 0.15 <= ttft_s < 0.15 + 0.02


def test_inter_chunk_delay_spaces_the_deltas(server: LLMTestServer) -> None:
    server.chunks, server.inter_chunk_s = 4, 0.05
    client = openai_client(server)
    list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    arrivals = []
    for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter())

    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 3
    # The median shrugs off one delta that a busy machine hands to the client late.
    assert 0.045 <= statistics.median(gaps) < 0.07, gaps


def test_latency_delays_a_plain_answer(server: LLMTestServer) -> None:
    server.latency_s = 0.2
    began = time.perf_counter()

    openai_client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert 0.2 <= time.perf_counter() - began < 0.5


# -- recording, safety, lifecycle ----------------------------------------------------------


def test_requests_are_recorded_with_secrets_redacted(server: LLMTestServer) -> None:
    openai_client(server).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2
    )
    anthropic_client(server).messages.create(model=CLAUDE, max_tokens=5, messages=MESSAGES)

    chat, message = server.requests
    assert (chat.method, chat.path) == ("POST", "/v1/chat/completions")
    assert chat.body == {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.2}
    assert chat.headers["authorization"] == "[REDACTED]"
    assert message.path == "/v1/messages"
    # anthropic 2.14 sends its key as a bearer token; older versions used x-api-key
    key_headers = {message.headers.get("authorization"), message.headers.get("x-api-key")}
    assert key_headers == {"[REDACTED]", None}
    assert "secret" not in repr(server.requests)


def test_unknown_endpoint_is_a_404_not_found(server: LLMTestServer) -> None:
    with pytest.raises(openai.NotFoundError):
        openai_client(server, max_retries=0).models.list()


def test_concurrent_requests_each_get_their_own_answer(server: LLMTestServer) -> None:
    server.ttft_s = 0.05
    client = openai_client(server)
    texts: list[str] = []

    def stream_one() -> None:
        chunks = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        texts.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))

    threads = [threading.Thread(target=stream_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert texts == ["The capital of France is Paris."] * 8
    assert len(server.requests) == 8


def test_binds_loopback_only_and_frees_the_port_on_exit() -> None:
    with LLMTestServer() as server:
        port = server.port
        assert server.url == f"http://127.0.0.1:{port}"
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        openai_client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_bad_settings_fail_where_they_are_set() -> None:
    with pytest.raises(ValueError, match="ttft_s must be a number of seconds >= 0, got -1"):
        LLMTestServer(ttft_s=-1)
    server = LLMTestServer()
    with pytest.raises(ValueError, match="chunks must be an int >= 1, got 0"):
        server.chunks = 0
    with pytest.raises(ValueError, match=r"error status must be an int in 400..599, got 200"):
        server.queue_errors([200])
    with pytest.raises(ValueError, match=r"cached_tokens \(50\) \+ cache_creation_tokens \(0\)"):
        Usage(input_tokens=10, cached_tokens=50)
    with pytest.raises(ValueError, match=r"reasoning_tokens \(9\) exceed output_tokens \(5\)"):
        Usage(output_tokens=5, reasoning_tokens=9)
