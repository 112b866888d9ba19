"""OpenAI wire format: the JSON bodies and SSE events of chat completions, responses, embeddings.

Field names and required fields follow the types of the installed ``openai`` SDK
(``ChatCompletion``, ``ChatCompletionChunk``, ``Response``, ``ResponseStreamEvent``,
``CreateEmbeddingResponse``), so the SDK parses every field rather than tolerating extras.
A stream is a list of groups of events: the server sends group 0 at the time to first token and
each later group one inter-chunk delay after the previous one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from typing import Any

from llmobs_nb.local_llm.reply import Reply, SSEEvent, Usage, stream_groups

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in a moment.",
    ),
}
_SERVER_ERROR = (
    "server_error",
    None,
    "The server had an error while processing your request. Sorry about that!",
)


def error_body(status: int) -> dict[str, Any]:
    """The body OpenAI sends with an HTTP error ``status``; the SDK reads ``error.message``.

    Example:
        >>> error_body(429)["error"]["code"]
        'rate_limit_exceeded'
    """
    kind, code, message = _ERRORS.get(status, _SERVER_ERROR)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _chat_usage(usage: Usage) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": usage.cached_tokens, "audio_tokens": 0}
    if usage.cache_creation_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_creation_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_id(reply: Reply) -> str:
    return f"chatcmpl-{reply.number:06d}"


def chat_completion(reply: Reply) -> dict[str, Any]:
    """A ``chat.completion`` object answering with ``reply``: its text or its tool call.

    A tool call comes as ``message.tool_calls`` with ``content: null`` and
    ``finish_reason: "tool_calls"``, as OpenAI sends it.

    Example:
        >>> from llmobs_nb.local_llm.reply import Reply, ToolCall, Usage
        >>> chat_completion(Reply("Hi.", ("Hi.",), Usage(), "gpt-4o-mini", 1, 0))["object"]
        'chat.completion'
        >>> call = ToolCall("call_1", "get_weather", {"city": "Paris"})
        >>> choice = chat_completion(Reply("", ("",), Usage(), "gpt-4o", 1, 0, call))["choices"][0]
        >>> choice["finish_reason"], choice["message"]["tool_calls"][0]["function"]["arguments"]
        ('tool_calls', '{"city":"Paris"}')
    """
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_call is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": reply.tool_call.id,
                "type": "function",
                "function": {
                    "name": reply.tool_call.name,
                    "arguments": reply.tool_call.arguments_json,
                },
            }
        ]
    return {
        "id": _chat_id(reply),
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "system_fingerprint": "fp_llmobs_test",
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(reply),
            }
        ],
        "usage": _chat_usage(reply.usage),
    }


def chat_completion_stream(reply: Reply, *, include_usage: bool) -> list[list[SSEEvent]]:
    """The ``chat.completion.chunk`` events of a streamed answer, one group per text chunk.

    As OpenAI documents: the first chunk carries the role, the last text chunk the
    ``finish_reason``; with ``include_usage`` every chunk has ``usage: null`` and a final chunk
    with ``choices: []`` carries the usage; ``data: [DONE]`` ends the stream. A tool call
    streams as OpenAI streams it: the first chunk's ``delta.tool_calls`` has the ``index``,
    ``id``, ``type`` and ``function.name`` (arguments ``""``), each later one a fragment of
    ``function.arguments``, and the stream ends with ``finish_reason: "tool_calls"``.

    Example:
        >>> from llmobs_nb.local_llm.reply import Reply, Usage
        >>> r = Reply("Hi there.", ("Hi ", "there."), Usage(), "gpt-4o-mini", 1, 0)
        >>> len(chat_completion_stream(r, include_usage=True))
        2
    """

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> SSEEvent:
        body: dict[str, Any] = {
            "id": _chat_id(reply),
            "object": "chat.completion.chunk",
            "created": reply.created,
            "model": reply.model,
            "system_fingerprint": "fp_llmobs_test",
            "service_tier": "default",
            "choices": choices,
        }
        if include_usage:
            body["usage"] = None
        body.update(extra)
        return (None, json.dumps(body))

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    def closing() -> list[SSEEvent]:
        usage = [chunk([], usage=_chat_usage(reply.usage))] if include_usage else []
        return [chunk([choice({}, _finish_reason(reply))]), *usage, (None, "[DONE]")]

    def delta(text: str) -> SSEEvent:
        if reply.tool_call is None:
            return chunk([choice({"content": text})])
        return chunk([choice({"tool_calls": [{"index": 0, "function": {"arguments": text}}]})])

    return stream_groups(reply, lambda: [chunk([choice(_first_delta(reply))])], delta, closing)


def _first_delta(reply: Reply) -> dict[str, Any]:
    """The first chunk's delta: the role, and the tool call's id, type and name."""
    call = reply.tool_call
    if call is None:
        return {"role": "assistant", "content": "", "refusal": None}
    function = {"name": call.name, "arguments": ""}
    opened = {"index": 0, "id": call.id, "type": "function", "function": function}
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [opened]}


def _finish_reason(reply: Reply) -> str:
    return "stop" if reply.tool_call is None else "tool_calls"


def _responses_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_creation_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _message_item(reply: Reply, *, done: bool) -> dict[str, Any]:
    content = [{"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}]
    return {
        "id": f"msg_{reply.number:06d}",
        "type": "message",
        "role": "assistant",
        "status": "completed" if done else "in_progress",
        "content": content if done else [],
    }


def response(reply: Reply, *, done: bool = True) -> dict[str, Any]:
    """A Responses API ``response`` object; ``done=False`` gives the in-progress snapshot.

    Example:
        >>> from llmobs_nb.local_llm.reply import Reply, Usage
        >>> response(Reply("Hi.", ("Hi.",), Usage(), "gpt-4o-mini", 1, 0))["status"]
        'completed'
    """
    return {
        "id": f"resp_{reply.number:06d}",
        "object": "response",
        "created_at": reply.created,
        "completed_at": reply.created if done else None,
        "status": "completed" if done else "in_progress",
        "model": reply.model,
        "output": [_message_item(reply, done=True)] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "error": None,
        "incomplete_details": None,
        "metadata": {},
        "usage": _responses_usage(reply.usage) if done else None,
    }


def response_stream(reply: Reply) -> list[list[SSEEvent]]:
    """The Responses API events of a streamed answer, one group per text chunk.

    response.created, response.in_progress, response.output_item.added,
    response.content_part.added, then one response.output_text.delta per chunk, then
    response.output_text.done, response.content_part.done, response.output_item.done and
    response.completed (with usage). Every event has an increasing ``sequence_number``.

    Example:
        >>> from llmobs_nb.local_llm.reply import Reply, Usage
        >>> r = Reply("Hi.", ("Hi.",), Usage(), "gpt-4o-mini", 1, 0)
        >>> [name for name, _ in response_stream(r)[0]][-1]
        'response.completed'
    """
    sequence = 0
    item_id = f"msg_{reply.number:06d}"
    part_at = {"item_id": item_id, "output_index": 0, "content_index": 0}

    def event(kind: str, **fields: Any) -> SSEEvent:
        nonlocal sequence
        body = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return (kind, json.dumps(body))

    empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    full_part = {**empty_part, "text": reply.text}

    def opening() -> list[SSEEvent]:
        return [
            event("response.created", response=response(reply, done=False)),
            event("response.in_progress", response=response(reply, done=False)),
            event(
                "response.output_item.added", output_index=0, item=_message_item(reply, done=False)
            ),
            event("response.content_part.added", part=empty_part, **part_at),
        ]

    def closing() -> list[SSEEvent]:
        return [
            event("response.output_text.done", text=reply.text, logprobs=[], **part_at),
            event("response.content_part.done", part=full_part, **part_at),
            event(
                "response.output_item.done", output_index=0, item=_message_item(reply, done=True)
            ),
            event("response.completed", response=response(reply, done=True)),
        ]

    return stream_groups(
        reply,
        opening,
        lambda text: event("response.output_text.delta", delta=text, logprobs=[], **part_at),
        closing,
    )


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``text``: the same text always gets the same vector.

    Example:
        >>> embedding_vector("hello", 4) == embedding_vector("hello", 4)
        True
    """
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values += [byte / 127.5 - 1.0 for byte in digest]
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings(
    body: dict[str, Any], *, model: str, usage: Usage, dimensions: int
) -> dict[str, Any]:
    """An embeddings list for the request ``body``, base64-encoded when the request asks so.

    The SDK asks for ``encoding_format="base64"`` unless the caller chose a format, and decodes
    the little-endian float32 bytes itself. ``usage.input_tokens`` is the prompt token count.

    Example:
        >>> out = embeddings({"input": ["a", "b"], "encoding_format": "float"},
        ...                  model="text-embedding-3-small", usage=Usage(), dimensions=4)
        >>> len(out["data"]), len(out["data"][0]["embedding"])
        (2, 4)
    """
    raw = body.get("input", "")
    single = isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int))
    inputs = [raw] if single or not isinstance(raw, list) else raw
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        vector = embedding_vector(json.dumps(item), dimensions)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens},
    }
