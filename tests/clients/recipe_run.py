"""Run one third-party instrumentation recipe in a fresh process (instrumentors patch globally).

Usage: python -m tests.clients.recipe_run RECIPE BASE_URL DB
"""

from __future__ import annotations

import sys

import anthropic
import openai

import llmobs_nb

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def main(recipe: str, url: str, db: str) -> None:
    # The recipe: a global tracer provider (set_global=True), then the instrumentor.
    obs = llmobs_nb.init(db=db, project=recipe, set_global=True)
    if recipe == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif recipe in ("openinference-openai", "openinference-suppressed"):
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif recipe == "openinference-anthropic":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument()
    else:
        raise SystemExit(f"unknown recipe {recipe!r}")

    if recipe == "openinference-suppressed":
        suppressed(obs, openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test"))
    elif recipe.endswith("anthropic"):
        client = anthropic.Anthropic(base_url=url, api_key="sk-ant-test")
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES)
        stream = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True
        )
        list(stream)
    else:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test")
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        list(stream)
    obs.close()


def suppressed(obs: llmobs_nb.Observer, client: openai.OpenAI) -> None:
    """One call traced by the instrumentor, one inside llmobs_nb's suppress_instrumentation
    (not traced), then an LLM judge whose own client call the instrumentor must not trace."""
    from llmobs_nb.capture.tracer import suppress_instrumentation
    from llmobs_nb.evals import LLMJudge
    from llmobs_nb.evals.protocol import CapturedCall

    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with suppress_instrumentation():
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    judge = LLMJudge(client, model="gpt-4o", obs=obs)
    judge.evaluate(CapturedCall("a1b2c3d4e5f60718", "0" * 32, "Capital of France?", "Paris"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
