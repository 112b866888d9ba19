"""Servers for tests, demos and notebooks: a scripted fake LLM API and a real small local model.

``LLMTestServer`` answers the real OpenAI and Anthropic SDKs with deterministic text, usage,
latency, TTFT, errors and hangs. ``LocalModelServer`` runs SmolLM2-135M-Instruct behind
llama.cpp's OpenAI-compatible server, offline.
"""

from llmobs_nb.testing.llm_server import LLMTestServer, RecordedRequest
from llmobs_nb.testing.local_model import (
    LocalModelError,
    LocalModelServer,
    available,
    find_model_file,
)
from llmobs_nb.testing.reply import Usage

__all__ = [
    "LLMTestServer",
    "LocalModelError",
    "LocalModelServer",
    "RecordedRequest",
    "Usage",
    "available",
    "find_model_file",
]
