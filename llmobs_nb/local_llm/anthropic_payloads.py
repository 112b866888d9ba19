"""Anthropic wire format: the JSON bodies and SSE events of the Messages API.

Field names follow the types of the installed ``anthropic`` SDK (``Message``, ``Usage``,
``RawMessageStreamEvent``). Anthropic splits the prompt: its ``input_tokens`` excludes cache
reads and cache writes, which come as ``cache_read_input_tokens`` and
``cache_creation_input_tokens``. A stream is a list of groups of events, as in
:mod:`llmobs_nb.local_llm.openai_payloads`.
"""

from __future__ import annotations

import json
from typing import Any

from llmobs_nb.local_llm.reply import Reply, SSEEvent, Usage, stream_groups

_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(status: int, request_id: str) -> dict[str, Any]:
    """The body Anthropic sends with an HTTP error ``status``.

    Example:
        >>> error_body(429, "req_1")["error"]["type"]
        'rate_limit_error'
    """
    kind, message = _ERRORS.get(status, ("api_error", "Internal server error"))
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": request_id,
    }


def _usage(usage: Usage, *, output_tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "input_tokens": usage.input_tokens - usage.cached_tokens - usage.cache_creation_tokens,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    if usage.reasoning_tokens:
        body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return body


def _stop_reason(reply: Reply) -> str:
    return "end_turn" if reply.tool_call is None else "tool_use"


def _block(reply: Reply, *, done: bool) -> dict[str, Any]:
    """The answer's content block; ``done=False`` gives it as ``content_block_start`` opens it."""
    call = reply.tool_call
    if call is None:
        return {"type": "text", "text": reply.text if done else ""}
    return {
        "type": "tool_use",
        "id": call.id,
        "name": call.name,
        "input": call.arguments if done else {},
    }


def _message(reply: Reply, *, done: bool) -> dict[str, Any]:
    return {
        "id": f"msg_{reply.number:06d}",
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [_block(reply, done=True)] if done else [],
        "stop_reason": _stop_reason(reply) if done else None,
        "stop_sequence": None,
        # At message_start Anthropic reports the prompt and a provisional output count of 1.
        "usage": _usage(reply.usage, output_tokens=reply.usage.output_tokens if done else 1),
    }


def message(reply: Reply) -> dict[str, Any]:
    """A Messages API ``message`` answering with ``reply``: a text or a ``tool_use`` block.

    Example:
        >>> from llmobs_nb.local_llm.reply import Reply, ToolCall, Usage
        >>> message(Reply("Hi.", ("Hi.",), Usage(), "claude-sonnet-4-5", 1, 0))["stop_reason"]
        'end_turn'
        >>> call = ToolCall("toolu_1", "get_weather", {"city": "Paris"})
        >>> answer = message(Reply("", ("",), Usage(), "claude-sonnet-4-5", 1, 0, call))
        >>> answer["stop_reason"], answer["content"][0]["input"]
        ('tool_use', {'city': 'Paris'})
    """
    return _message(reply, done=True)


def message_stream(reply: Reply) -> list[list[SSEEvent]]:
    """The Messages API events of a streamed answer, one group per text chunk.

    message_start (usage: input, cache creation, cache read), content_block_start, a ping,
    one content_block_delta per chunk, then content_block_stop, message_delta (stop reason
    and final ``output_tokens``) and message_stop. Each event is named by an ``event:`` line,
    which the SDK needs. A tool call opens a ``tool_use`` block with an empty ``input`` and
    streams its arguments' JSON as ``input_json_delta`` ``partial_json`` fragments; its
    stop reason is ``tool_use``.

    Example:
        >>> from llmobs_nb.local_llm.reply import Reply, Usage
        >>> r = Reply("Hi.", ("Hi.",), Usage(), "claude-sonnet-4-5", 1, 0)
        >>> [name for name, _ in message_stream(r)[0]][0]
        'message_start'
    """

    def event(kind: str, **fields: Any) -> SSEEvent:
        return (kind, json.dumps({"type": kind, **fields}))

    def delta(text: str) -> dict[str, Any]:
        if reply.tool_call is None:
            return {"type": "text_delta", "text": text}
        return {"type": "input_json_delta", "partial_json": text}

    return stream_groups(
        reply,
        lambda: [
            event("message_start", message=_message(reply, done=False)),
            event("content_block_start", index=0, content_block=_block(reply, done=False)),
            event("ping"),
        ],
        lambda text: event("content_block_delta", index=0, delta=delta(text)),
        lambda: [
            event("content_block_stop", index=0),
            event(
                "message_delta",
                delta={"stop_reason": _stop_reason(reply), "stop_sequence": None},
                usage={"output_tokens": reply.usage.output_tokens},
            ),
            event("message_stop"),
        ],
    )
