"""Reading text, model names and finish reasons out of client responses and stream chunks.

Knows the shapes of OpenAI chat completions and chunks, the Responses API and its events,
Anthropic messages and stream events, plain dicts and strings. Unknown shapes give None.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

from llmobs_nb.capture.fields import get_field, private_field
from llmobs_nb.capture.redact import redact_text

MAX_CONTENT_CHARS = 32_000


_get = get_field


def _first(seq: Any) -> Any:
    if isinstance(seq, list | tuple) and seq:
        return seq[0]
    return None


def response_text(response: Any) -> str | None:
    """The generated text of a full response, or None when the shape is unknown."""
    if isinstance(response, str):
        return response
    choice = _first(_get(response, "choices"))
    if choice is not None:
        message = _get(choice, "message")
        text = _get(message, "content") if message is not None else _get(choice, "text")
        calls = _get(message, "tool_calls") if message is not None else None
        if calls:
            asked = [
                tool_call_text(
                    _get(_get(c, "function"), "name"), _get(_get(c, "function"), "arguments")
                )
                for c in calls
            ]
            return "\n".join([text, *asked] if isinstance(text, str) and text else asked)
        return text if isinstance(text, str) else None
    output_text = _get(response, "output_text")
    if isinstance(output_text, str):
        return output_text
    content = _get(response, "content")
    if isinstance(content, list):
        said = "".join(t for b in content if isinstance(t := _get(b, "text"), str))
        asked = [
            tool_call_text(_get(b, "name"), _get(b, "input"))
            for b in content
            if _get(b, "type") == "tool_use"
        ]
        return "\n".join([said, *asked] if said else asked) if asked else said
    if isinstance(content, str):
        return content
    for key in ("text", "output", "answer"):
        value = _get(response, key) if isinstance(response, Mapping) else None
        if isinstance(value, str):
            return value
    return None


def tool_call_text(name: Any, arguments: Any) -> str:
    """How a model's request to call a tool reads in a call's output text (streamed or not,
    OpenAI or Anthropic): ``[tool_call <name>] <arguments JSON>``.

    Example:
        >>> tool_call_text("get_weather", {"city": "Paris"})
        '[tool_call get_weather] {"city": "Paris"}'
    """
    head = f"[tool_call {name if isinstance(name, str) else ''}] "
    if arguments is None:
        return head
    return head + (arguments if isinstance(arguments, str) else json.dumps(arguments, default=str))


def chunk_text(chunk: Any) -> str | None:
    """Text carried by one stream chunk: "" for a known chunk without text, None if unknown."""
    if isinstance(chunk, str):
        return chunk
    if isinstance(chunk, bytes):
        return chunk.decode("utf-8", "replace")
    choices = _get(chunk, "choices")
    if choices is not None:
        delta = _get(_first(choices), "delta")
        text = _get(delta, "content")
        calls = _get(delta, "tool_calls")
        if not text and calls:  # the name on a call's first chunk, then its arguments' pieces
            pieces = []
            for call in calls:
                function = _get(call, "function")
                name, arguments = _get(function, "name"), _get(function, "arguments")
                if name:
                    head = "\n" if _get(call, "index") else ""
                    pieces.append(head + tool_call_text(name, None))
                if isinstance(arguments, str):
                    pieces.append(arguments)
            return "".join(pieces)
        return text if isinstance(text, str) else ""
    kind = _get(chunk, "type")
    if isinstance(kind, str):
        if kind == "content_block_start":
            block = _get(chunk, "content_block")
            if _get(block, "type") == "tool_use":
                head = "\n" if _get(chunk, "index") else ""
                return head + tool_call_text(_get(block, "name"), None)
            return ""
        if kind == "content_block_delta":
            delta = _get(chunk, "delta")
            text = _get(delta, "text") or _get(delta, "partial_json") or _get(delta, "thinking")
            return text if isinstance(text, str) else ""
        if kind in ("response.output_text.delta", "text"):
            text = _get(chunk, "delta") if kind != "text" else _get(chunk, "text")
            return text if isinstance(text, str) else ""
        return ""
    return None


def response_model(response: Any) -> str | None:
    """The model that answered, as the provider reports it."""
    if response is None or isinstance(response, str):
        return None
    model = _get(response, "model")
    if isinstance(model, str) and model:
        return model
    for holder in ("message", "response"):  # Anthropic's message_start, Responses API events
        inner = _get(response, holder)
        if inner is not None and not isinstance(inner, str):
            model = _get(inner, "model")
            if isinstance(model, str) and model:
                return model
    return None


def finish_reason(response: Any) -> str | None:
    """Why generation stopped (``stop``, ``length``, ``end_turn``, …), if the response says."""
    choice = _first(_get(response, "choices"))
    reason = _get(choice, "finish_reason") if choice is not None else None
    if reason is None:
        reason = _get(response, "stop_reason") or _get(_get(response, "delta"), "stop_reason")
    if reason is None and _get(response, "status") in ("completed", "incomplete"):
        reason = _get(response, "status")
    return reason if isinstance(reason, str) else None


def response_id(response: Any) -> str | None:
    value = _get(response, "id")
    return value if isinstance(value, str) else None


def request_id(response: Any) -> str | None:
    value = private_field(response, "_request_id")
    return value if isinstance(value, str) else None


def to_text(value: Any) -> str:
    """A JSON (or str) rendering of call inputs, redacted and cut to a sane size.

    Objects JSON cannot hold are rendered with ``model_dump()`` or ``repr``; bytes show their
    first bytes only. Raises only when even ``repr`` fails (callers count that and go on).

    Example:
        >>> to_text({"q": "hi", "n": 2})
        '{"q": "hi", "n": 2}'
    """
    if isinstance(value, str):
        text = value if value.__class__ is str else str.__str__(value)
    else:
        try:
            text = json.dumps(value, default=_default, ensure_ascii=False)
        except Exception:  # circular, too deep, a model_dump() that raises, odd keys…
            text = _bounded_repr(value)
    if len(text) > MAX_CONTENT_CHARS:
        text = text[:MAX_CONTENT_CHARS] + f"… [{len(text) - MAX_CONTENT_CHARS} chars cut]"
    return redact_text(text)


def _bounded_repr(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        head = bytes(value[:MAX_CONTENT_CHARS])
        more = len(value) - len(head)
        return repr(head) + (f"… [{more} bytes cut]" if more > 0 else "")
    text = repr(value)
    return text if text.__class__ is str else str.__str__(text)


def _default(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()
    return _bounded_repr(obj)


def named_arguments(func: Any) -> Any:
    """A function ``(args, kwargs) → {parameter: value}`` for ``func`` (a tool's arguments, as
    the GenAI conventions' ``gen_ai.tool.call.arguments`` object); arguments that do not bind
    fall back to :func:`call_input`'s choice.

    Example:
        >>> def search(query, top_k=3): ...
        >>> named_arguments(search)(("refunds",), {"top_k": 2})
        {'query': 'refunds', 'top_k': 2}
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return call_input

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return dict(signature.bind(*args, **kwargs).arguments)
        except TypeError:
            return call_input(args, kwargs)

    return bind


def call_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The part of a call's arguments that is the prompt."""
    for key in ("messages", "input", "prompt", "question", "query", "text"):
        if key in kwargs:
            return kwargs[key]
    if args:
        return args[0] if len(args) == 1 else list(args)
    return kwargs or None
