"""OpenInference's openai instrumentor in a fresh process (it patches the SDK globally).

Usage: python -m tests.capture.oi_openai_run BASE_URL DB_WITH_CONTENT DB_WITHOUT_CONTENT
For each store (an observer capturing content, then one that does not): a call that fails
(nothing listens on port 1), a plain call and a stream.
"""

from __future__ import annotations

import contextlib
import sys

import openai

import llmobs_nb

PROMPT = "PROMPT-7f3a What is the capital of France?"
MESSAGES = [
    {"role": "system", "content": "SYSTEM-91c2 answer briefly"},
    {"role": "user", "content": PROMPT},
]


def main(url: str, with_content: str, without_content: str) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()
    for db, capture in ((with_content, True), (without_content, False)):
        calls(url, llmobs_nb.init(db=db, project="oi", set_global=True, capture_content=capture))


def calls(url: str, obs: llmobs_nb.Observer) -> None:
    nowhere = openai.OpenAI(base_url="http://127.0.0.1:1/v1", api_key="sk-test", max_retries=0)
    # The failed call: its span keeps the model in llm.invocation_parameters only.
    with contextlib.suppress(openai.APIConnectionError):
        nowhere.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    list(stream)
    obs.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
