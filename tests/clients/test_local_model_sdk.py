"""The real local model (llama.cpp + SmolLM2) through the instrumented OpenAI SDK."""

from __future__ import annotations

import openai
import pytest

from llmobs_nb.local_llm import LocalModelServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    with LocalModelServer() as server:
        yield server


def test_real_calls_record_real_tokens_and_ttft(obs, model):
    client = obs.instrument_openai(openai.OpenAI(base_url=model.base_url, api_key="local"))
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    reply = client.chat.completions.create(
        model=model.model, messages=messages, temperature=0, max_tokens=32
    )
    stream = client.chat.completions.create(
        model=model.model,
        messages=messages,
        temperature=0,
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in reply.choices[0].message.content
    assert streamed == reply.choices[0].message.content  # temperature 0: same answer
    calls = obs.calls()
    assert calls.height == 2
    plain, streamed_row = calls.row(0, named=True), calls.row(1, named=True)
    assert plain["input_tokens"] == reply.usage.prompt_tokens > 10
    assert plain["output_tokens"] == reply.usage.completion_tokens > 0
    assert streamed_row["output_tokens"] == chunks[-1].usage.completion_tokens
    assert plain["ttft_s"] is None
    assert 0 < streamed_row["ttft_s"] < streamed_row["latency_s"]
    assert plain["latency_s"] > 0.01
