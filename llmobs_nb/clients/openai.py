"""``obs.instrument_openai(client)``: chat completions, Responses API and embeddings."""

from __future__ import annotations

from typing import Any

from llmobs_nb.clients.patching import patch_method, prepare


def instrument_openai(obs: Any, client: Any) -> Any:
    """Trace ``client`` (an ``openai.OpenAI`` or ``openai.AsyncOpenAI``); returns the client.

    ``obs`` is the observer (or its :class:`~llmobs_nb.capture.tracer.Tracer`, ``obs.tracer``)
    whose tracer makes the spans.

    ``chat.completions.create`` (plain and ``stream=True``), ``responses.create`` (plain and
    streamed) and ``embeddings.create`` become spans with model, response model, tokens
    (cached and reasoning included), time to first token, finish reason, request id, retries
    and errors. What your code receives is unchanged. A stream without usage is stored with
    NULL tokens and ``llmobs.usage_missing``; pass ``stream_options={"include_usage": True}``
    to have the API send usage in a final chunk (``choices == []``), which is read and passed
    on to you as the SDK documents. Instrumenting twice is harmless; ``obs.uninstrument(client)``
    restores it.

    Example:
        >>> client = obs.instrument_openai(openai.OpenAI())   # doctest: +SKIP
    """
    import openai

    is_async = prepare(client, "openai", (openai.OpenAI, openai.AsyncOpenAI), other="Anthropic")
    if is_async is None:  # instrumented already
        return client
    targets = [
        (client.chat.completions, "create", "chat", "llm"),
        (client.responses, "create", "responses", "llm"),
        (client.embeddings, "create", "embeddings", "embedding"),
    ]
    for resource, name, operation, kind in targets:
        patch_method(
            obs,
            client,
            resource,
            name,
            operation=operation,
            provider="openai",
            kind=kind,
            is_async=is_async,
        )
    return client
