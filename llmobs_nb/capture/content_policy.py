"""With content capture off, prompt and answer text from other instrumentations is dropped.

OpenInference (``input.value``, ``llm.input_messages.*``...), the OpenTelemetry GenAI
conventions (``gen_ai.input.messages``, ``gen_ai.system_instructions``, the older
``gen_ai.prompt.*``...) and OpenLLMetry put the prompt and the answer into span attributes and
events whatever our observer's setting. When the observer does not capture content these are
dropped before anything is stored or exported: the attribute is gone (``input_text`` and
``output_text`` stay NULL, ``attributes`` does not list it), and a third-party span's error
message (free text, often echoing the request) is replaced by its error type and HTTP status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmobs_nb.capture import semconv as sc

CONTENT_KEYS = frozenset(
    {
        sc.OI_INPUT_VALUE,
        sc.OI_OUTPUT_VALUE,
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GEN_AI_OUTPUT_MESSAGES,
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "llm.prompts",
        "retrieval.query",
        "reranker.query",
        "tool.parameters",
        "traceloop.entity.input",
        "traceloop.entity.output",
        # ingest (issue #13): retrieval and evaluation text of the GenAI conventions
        "gen_ai.retrieval.query.text",
        "gen_ai.retrieval.documents",
        "gen_ai.evaluation.explanation",
        "gen_ai.embeddings.input",
    }
)
CONTENT_PREFIXES = (
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
    "llm.prompt_template.",
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "gen_ai.input.messages.",
    "gen_ai.output.messages.",
    "retrieval.documents.",
    "reranker.input_documents.",
    "reranker.output_documents.",
    "embedding.embeddings.",
    "message.content",
    "tool_call.function.arguments",
)
# Events that carry content (the GenAI conventions' pre-1.37 content events).
CONTENT_EVENT_PREFIXES = ("gen_ai.", "llm.", "message", "traceloop.")
OURS_ONLY = frozenset({sc.LLMOBS_INPUT, sc.LLMOBS_OUTPUT})
# JSON text of a request's parameters: OpenInference leaves the messages out for the APIs it
# knows, but writes the whole request (input, instructions...) for others. Without content
# only the settings below are kept (the model, numbers and flags).
PARAMETER_KEYS = frozenset({sc.OI_INVOCATION_PARAMETERS, "embedding.invocation_parameters"})
KEPT_PARAMETERS = frozenset({"model", "service_tier", "reasoning_effort", "encoding_format"})
_STATUS_KEYS = ("http.response.status_code", "http.status_code")

_cache: dict[str, bool] = {}
_shapes: dict[tuple[Any, ...], bool] = {}


def is_content_key(key: str) -> bool:
    """Whether an attribute key of another instrumentation carries prompt or answer text.

    Example:
        >>> is_content_key("llm.input_messages.0.message.content"), is_content_key("llm.model_name")
        (True, False)
    """
    found = _cache.get(key)
    if found is None:
        found = key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)
        if len(_cache) < 10_000:
            _cache[key] = found
    return found


def is_ours(attrs: Any) -> bool:
    """Whether a span's attributes come from our own scopes (they always carry a kind)."""
    return attrs.get(sc.LLMOBS_KIND) is not None


def third_party_error(error_type: str | None, attrs: Any) -> str | None:
    """What a third-party span's error keeps without content: its type and HTTP status.

    Example:
        >>> third_party_error("RateLimitError", {"http.response.status_code": 429})
        'RateLimitError (HTTP 429)'
    """
    status = next((attrs.get(k) for k in _STATUS_KEYS if attrs.get(k) is not None), None)
    name = error_type or "error"
    if isinstance(status, int) and not isinstance(status, bool):
        return f"{name} (HTTP {status})"
    return name


def drop_content(attrs: Mapping[str, Any], ours: bool | None = None) -> Mapping[str, Any]:
    """``attrs`` without content attributes (a new dict only when something goes).

    ``ours`` tells whether the span is one of our own scopes (by default: it carries our kind);
    a third party's span also loses our own content keys.

    Example:
        >>> drop_content({"input.value": "my prompt", "llm.model_name": "gpt-4o"})
        {'llm.model_name': 'gpt-4o'}
    """
    if ours is None:
        ours = is_ours(attrs)
    # Spans of one function carry the same keys in the same order: one lookup per key set.
    shape = (ours, *attrs)
    found = _shapes.get(shape)
    if found is None:
        found = any(_is_changed(k, ours) for k in attrs)
        if len(_shapes) < 4096:
            _shapes[shape] = found
    if not found:
        return attrs
    kept = {k: v for k, v in attrs.items() if not _is_dropped(k, ours)}
    for key in PARAMETER_KEYS.intersection(kept):
        kept[key] = settings_only(kept[key])
    return kept


def _is_dropped(key: str, ours: bool) -> bool:
    return is_content_key(key) or (not ours and key in OURS_ONLY)


def _is_changed(key: str, ours: bool) -> bool:
    return _is_dropped(key, ours) or key in PARAMETER_KEYS


def settings_only(parameters: Any) -> str:
    """Request parameters (JSON text) without anything that may be content: the model and a
    few named settings, numbers and flags are kept; text, lists and objects go.

    Example:
        >>> settings_only('{"model": "gpt-4o", "temperature": 0, "input": "my prompt"}')
        '{"model": "gpt-4o", "temperature": 0}'
    """
    try:
        value = json.loads(parameters) if isinstance(parameters, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return "{}"
    kept = {
        k: v
        for k, v in value.items()
        if v is None
        or isinstance(v, bool | int | float)
        or (k in KEPT_PARAMETERS and isinstance(v, str))
    }
    return json.dumps(kept)


def without_content(record: tuple) -> tuple:
    """A buffered span record (``rows.SpanRecord``) as kept with content capture off.

    Third-party content attributes go; a third-party span's error message becomes
    :func:`third_party_error` (our own spans already record no message text then).
    """
    name, trace_id, span_id, parent_id, start_ns, end_ns, error, attrs = record
    kept = drop_content(attrs)
    if error is not None and not is_ours(attrs):
        error = (error[0], third_party_error(error[0], attrs))
    elif kept is attrs:
        return record
    return (name, trace_id, span_id, parent_id, start_ns, end_ns, error, kept)
