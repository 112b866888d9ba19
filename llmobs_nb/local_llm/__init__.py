"""Local LLM servers for notebooks, demos and tests: a scripted LLM API and a real small model.

``LLMTestServer`` answers the real OpenAI and Anthropic SDKs with deterministic text, usage,
latency, TTFT, errors and hangs. ``LocalModelServer`` runs SmolLM2-135M-Instruct behind
llama.cpp's OpenAI-compatible server, offline. ``scripted_judge`` is a visible grading rule
for ``LLMTestServer(respond=...)`` that answers ``LLMJudge`` prompts: a stand-in, not a model.
"""

from llmobs_nb.local_llm.llm_server import LLMTestServer, RecordedRequest
from llmobs_nb.local_llm.local_model import (
    LocalModelError,
    LocalModelServer,
    available,
    find_model_file,
)
from llmobs_nb.local_llm.reply import Usage
from llmobs_nb.local_llm.scripted_judge import SCRIPTED_JUDGE_MODEL, scripted_judge

__all__ = [
    "SCRIPTED_JUDGE_MODEL",
    "LLMTestServer",
    "LocalModelError",
    "LocalModelServer",
    "RecordedRequest",
    "Usage",
    "available",
    "find_model_file",
    "scripted_judge",
]
