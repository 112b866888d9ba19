"""A real OpenAI/Anthropic-compatible HTTP server on 127.0.0.1 for the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmobs_nb.local_llm.llm_server import LLMTestServer
from llmobs_nb.local_llm.reply import Usage

USAGE = Usage(
    input_tokens=1200,
    output_tokens=80,
    cached_tokens=1024,
    reasoning_tokens=20,
)


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(usage=USAGE, chunks=4) as srv:
        yield srv
