"""The attributes OpenTelemetry GenAI (semantic conventions v1.41) and OpenInference expect,
derived at export time from one row of the ``spans`` table.

The store keeps one copy of each fact (a ``model`` column, ``input_tokens``…); a span that
leaves the process carries it under every name a backend reads: Phoenix reads OpenInference
(``openinference.span.kind``, ``llm.token_count.*``, ``input.value``, ``metadata``), Langfuse
and MLflow read both, a plain collector passes everything through. Our own ``llmobs.*`` labels
go out too, so a notebook receiving the export (``obs.receive_otlp``) rebuilds the same row.

Attributes already on the row (its ``attributes`` JSON) win over derived ones: a third-party
span keeps its own ``llm.model_name`` or ``gen_ai.input.messages`` as they were received.

GenAI opt-in (:class:`Conventions`): per the GenAI conventions' transition plan, the environment
variable ``OTEL_SEMCONV_STABILITY_OPT_IN`` containing ``gen_ai_latest_experimental`` means
"emit the latest experimental names only". By default the deprecated aliases (``gen_ai.system``
beside ``gen_ai.provider.name``, ``gen_ai.usage.cache_write.input_tokens`` beside
``gen_ai.usage.cache_creation.input_tokens``) go out as well, for backends that still read them;
with the opt-in they do not, and captured content also goes out as ``gen_ai.input.messages`` /
``gen_ai.output.messages`` (the spec's message JSON). The variable is read once, by
:meth:`Conventions.from_env`, never per span.

Depends on the standard library and :mod:`llmobs_nb.capture.semconv` only (a child process
imports it).

Example:
    >>> row = {"kind": "llm", "model": "gpt-4o", "provider": "openai", "input_tokens": 10,
    ...        "output_tokens": 2, "run": "v2"}
    >>> attrs = span_attributes(row, {}, Conventions())
    >>> attrs["openinference.span.kind"], attrs["llm.token_count.total"]
    ('LLM', 12)
    >>> attrs["gen_ai.operation.name"], attrs["gen_ai.system"]
    ('chat', 'openai')
    >>> attrs["metadata"]
    '{"run": "v2"}'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata as _dist
from typing import Any

from llmobs_nb.capture import semconv as sc

OPT_IN_VARIABLE = "OTEL_SEMCONV_STABILITY_OPT_IN"
LATEST_GENAI = "gen_ai_latest_experimental"
SEMCONV_VERSION = "1.41.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
"""The schema URL of the GenAI names this module writes (on the scope of every export)."""

# OpenInference names this module writes beyond those capture/semconv.py already has.
OI_TOKEN_TOTAL = "llm.token_count.total"
OI_COST_TOTAL = "llm.cost.total"
OI_RESPONSE_MODEL = "llm.response.model_name"
OI_EMBEDDING_MODEL = "embedding.model_name"
OI_INPUT_MIME = "input.mime_type"
OI_OUTPUT_MIME = "output.mime_type"
OI_METADATA = "metadata"
OI_PROJECT = "openinference.project.name"  # a resource attribute: Phoenix's project
# Written here, read on ingest: one definition each, in capture/semconv.py.
FIRST_TOKEN_EVENT = sc.OI_FIRST_TOKEN_EVENT
"""OpenInference's first-token span event (its openai instrumentor's name, no attributes);
read by Phoenix-compatible backends to show time to first token."""
EVALUATION_EVENT = sc.GEN_AI_EVALUATION_RESULT
GEN_AI_EVALUATION_NAME = sc.GEN_AI_EVALUATION_NAME
GEN_AI_EVALUATION_SCORE_VALUE = sc.GEN_AI_EVALUATION_SCORE_VALUE
GEN_AI_EVALUATION_SCORE_LABEL = sc.GEN_AI_EVALUATION_SCORE_LABEL
GEN_AI_EVALUATION_EXPLANATION = sc.GEN_AI_EVALUATION_EXPLANATION
LLMOBS_SCORE_SOURCE = "llmobs.score.source"
ERROR_OTHER = sc.ERROR_TYPE_OTHER  # the spec's error.type when nothing better is known

OPENINFERENCE_KINDS: dict[str, str] = {
    "llm": "LLM",
    "embedding": "EMBEDDING",
    "retrieval": "RETRIEVER",
    "rerank": "RERANKER",
    "tool": "TOOL",
    "chain": "CHAIN",
    "agent": "AGENT",
    "evaluator": "EVALUATOR",
    "guardrail": "GUARDRAIL",
    "prompt": "PROMPT",
    "other": "UNKNOWN",
}
"""Our kind → ``openinference.span.kind`` (values of OpenInference's
``OpenInferenceSpanKindValues``); a kind not listed goes out as ``UNKNOWN``."""

GENAI_OPERATIONS: dict[str, str] = {
    "llm": "chat",
    "embedding": "embeddings",
    "retrieval": "retrieval",
    "tool": "execute_tool",
    "agent": "invoke_agent",
    "chain": "invoke_workflow",
}
"""Our kind → ``gen_ai.operation.name`` when the row names no operation (v1.41 values). An
evaluator that names a model is a model call: ``chat``. Rerank and other spans get none."""


@dataclass(frozen=True)
class Conventions:
    """Which GenAI names go out: ``latest`` is the ``gen_ai_latest_experimental`` opt-in.

    Example:
        >>> Conventions.from_env({OPT_IN_VARIABLE: "http,gen_ai_latest_experimental"})
        Conventions(latest=True)
        >>> Conventions.from_env({})
        Conventions(latest=False)
    """

    latest: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Conventions:
        """Read ``OTEL_SEMCONV_STABILITY_OPT_IN`` (a comma-separated list) once."""
        value = (os.environ if environ is None else environ).get(OPT_IN_VARIABLE, "")
        return cls(latest=LATEST_GENAI in {part.strip() for part in value.split(",")})


def resource_attributes(project: str | None) -> dict[str, Any]:
    """The resource of an export: ``service.name`` (``OTEL_SERVICE_NAME``, else the project,
    else ``llmobs_nb``), Phoenix's ``openinference.project.name``, ``telemetry.sdk.*`` as the
    OpenTelemetry SDK writes them and ``telemetry.distro.*`` naming llmobs_nb.

    Example:
        >>> attrs = resource_attributes("support-bot")
        >>> attrs["openinference.project.name"], attrs["telemetry.sdk.language"]
        ('support-bot', 'python')
    """
    attrs: dict[str, Any] = {
        "service.name": os.environ.get("OTEL_SERVICE_NAME") or project or "llmobs_nb",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": _version("opentelemetry-sdk"),
        "telemetry.distro.name": "llmobs_nb",
        "telemetry.distro.version": _version("llmobs_nb"),
    }
    if project:
        attrs[OI_PROJECT] = project
    return attrs


def _version(distribution: str) -> str:
    try:
        return _dist.version(distribution)
    except _dist.PackageNotFoundError:
        return "unknown"


def operation_name(kind: Any, model: Any, operation: Any) -> str | None:
    """``gen_ai.operation.name`` of a row: its own ``operation``, else one from its kind.

    Example:
        >>> operation_name("llm", "gpt-4o", None), operation_name("evaluator", None, None)
        ('chat', None)
        >>> operation_name("embedding", "text-embedding-3-small", "chat")
        'embeddings'
    """
    if kind == "embedding" and operation not in sc.EMBEDDING_OPERATIONS:
        return "embeddings"  # a decorator's default "chat" on an embedding call
    if isinstance(operation, str) and operation:
        return operation
    if kind == "evaluator":
        return "chat" if model is not None else None
    return GENAI_OPERATIONS.get(kind)


def span_attributes(
    row: Mapping[str, Any], own: Mapping[str, Any], conventions: Conventions
) -> dict[str, Any]:
    """Every attribute a row's span goes out with: derived ones in both conventions and ours
    (:func:`label_attributes`, :func:`measure_attributes`, the content), then ``own`` (the
    row's ``attributes`` JSON, already parsed) over them.

    ``row`` maps column names of :data:`llmobs_nb.store.schema.SPANS` to values (missing
    columns count as NULL). Values are str, int, float or bool.

    Example:
        >>> attrs = span_attributes({"kind": "retrieval"}, {"llm.model_name": "x"}, Conventions())
        >>> attrs["openinference.span.kind"], attrs["llm.model_name"]
        ('RETRIEVER', 'x')
    """
    out = label_attributes(row, conventions)
    out.update(value_attributes(row, own, conventions))
    return out


def value_attributes(
    row: Mapping[str, Any], own: Mapping[str, Any], conventions: Conventions
) -> dict[str, Any]:
    """A span's attributes but its labels: :func:`measure_attributes`, the content, then
    ``own`` over them (``own`` also wins over a label of the same name: see
    :func:`span_attributes`).

    Example:
        >>> value_attributes({"input_text": "hi"}, {"x": 1}, Conventions())
        {'input.value': 'hi', 'input.mime_type': 'text/plain', 'x': 1}
    """
    out = measure_attributes(row, conventions)
    for column, keys in _IDENTITY:
        value = row.get(column)
        if value is not None:
            for key in keys:
                out[key] = value
    _content(out, row, own, conventions)
    if own:
        out.update(own)
    return out


_IDENTITY = (
    ("session_id", (sc.GEN_AI_CONVERSATION_ID, sc.OI_SESSION_ID)),
    ("agent_name", (sc.GEN_AI_AGENT_NAME,)),
    ("tool_name", (sc.GEN_AI_TOOL_NAME, sc.OI_TOOL_NAME)),
)
"""Columns of a span's session, agent and tool → the attributes they go out as (per row, not
with the labels: session ids are many)."""


#: The columns :func:`label_attributes` reads: rows equal in these have equal labels (the
#: encoder writes each distinct label set once).
LABEL_COLUMNS = (
    "kind",
    "model",
    "response_model",
    "provider",
    "operation",
    "use_case",
    "user_id",
    "run",
    "project",
    "status",
    "error_type",
)


def label_attributes(row: Mapping[str, Any], conventions: Conventions) -> dict[str, Any]:
    """The attributes that depend only on :data:`LABEL_COLUMNS` (kind, model, provider,
    operation, user, run, project, error type), in both conventions.

    Example:
        >>> label_attributes({"kind": "llm", "model": "m"}, Conventions())["llm.model_name"]
        'm'
    """
    get = row.get
    kind = get("kind")
    model = get("model")
    out: dict[str, Any] = {}
    if kind is not None:
        out[sc.LLMOBS_KIND] = kind
    out[sc.OI_SPAN_KIND] = OPENINFERENCE_KINDS.get(kind, "UNKNOWN")  # type: ignore[arg-type]
    for column, key in _LABELS:
        value = get(column)
        if value is not None:
            out[key] = value
    operation = operation_name(kind, model, get("operation"))
    if operation is not None:
        out[sc.GEN_AI_OPERATION_NAME] = operation
    provider = get("provider")
    if provider is not None:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
        if not conventions.latest:
            out[sc.GEN_AI_SYSTEM] = provider
    if model is not None:
        out[sc.GEN_AI_REQUEST_MODEL] = model
    response_model = get("response_model")
    if response_model is not None:
        out[sc.GEN_AI_RESPONSE_MODEL] = response_model
    if get("status") == "error":
        out[sc.ERROR_TYPE] = get("error_type") or ERROR_OTHER
    if model is not None or response_model is not None:
        out[sc.OI_MODEL_NAME] = model if model is not None else response_model
        if kind == "embedding":
            out[OI_EMBEDDING_MODEL] = out[sc.OI_MODEL_NAME]
    if response_model is not None:
        out[OI_RESPONSE_MODEL] = response_model
    if provider is not None:
        out[sc.OI_PROVIDER] = provider
        out[sc.OI_SYSTEM] = provider
    return out


_LABELS = (
    ("use_case", sc.LLMOBS_USE_CASE),
    ("user_id", sc.LLMOBS_USER_ID),
    ("user_id", sc.USER_ID),
    ("run", sc.LLMOBS_RUN),
    ("project", sc.LLMOBS_PROJECT),
)


def measure_attributes(row: Mapping[str, Any], conventions: Conventions) -> dict[str, Any]:
    """The attributes of a row's measures, in both conventions: tokens (with the cache-write
    alias unless ``conventions.latest``), total tokens, TTFT, cost, and OpenInference's
    ``metadata`` JSON (use case, run, project, cost, TTFT).

    Example:
        >>> measure_attributes({"input_tokens": 3, "output_tokens": 2}, Conventions())[
        ...     "llm.token_count.total"]
        5
    """
    get = row.get
    out: dict[str, Any] = {}
    for column, key in _GENAI_TOKENS:
        value = get(column)
        if value is not None:
            out[key] = value
    written = get("cache_write_tokens")
    if written is not None:
        out[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = written
        if not conventions.latest:
            out[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = written
    ttft = get("ttft_s")
    if _finite(ttft):
        out[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttft
    for column, key in _OI_TOKENS:
        value = get(column)
        if value is not None:
            out[key] = value
    prompt, completion = get("input_tokens"), get("output_tokens")
    if prompt is not None or completion is not None:
        out[OI_TOKEN_TOTAL] = (prompt or 0) + (completion or 0)
    cost = get("cost_usd")
    if _finite(cost):
        out[OI_COST_TOTAL] = cost
    meta = {c: v for c in _METADATA if (v := get(c)) is not None and _plain(v)}
    if meta:
        out[OI_METADATA] = json.dumps(meta, ensure_ascii=False)
    return out


_GENAI_TOKENS = (
    ("input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cached_input_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("reasoning_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)
_OI_TOKENS = (
    ("input_tokens", sc.OI_TOKEN_PROMPT),
    ("output_tokens", sc.OI_TOKEN_COMPLETION),
    ("cached_input_tokens", sc.OI_TOKEN_CACHE_READ),
    ("cache_write_tokens", sc.OI_TOKEN_CACHE_WRITE),
    ("reasoning_tokens", sc.OI_TOKEN_REASONING),
)
_METADATA = ("use_case", "run", "project", "cost_usd", "ttft_s")


def _content(
    out: dict[str, Any], row: Mapping[str, Any], own: Mapping[str, Any], conv: Conventions
) -> None:
    """``input.value``/``output.value`` (+ MIME types) when the row has text; with the GenAI
    opt-in, ``gen_ai.input.messages``/``gen_ai.output.messages`` too (unless ``own`` has them:
    only then is the text parsed)."""
    text_in, text_out = row.get("input_text"), row.get("output_text")
    if row.get("kind") == "tool":  # a tool's input and output are its call's arguments, result
        if isinstance(text_in, str):
            out[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = text_in
        if isinstance(text_out, str):
            out[sc.GEN_AI_TOOL_CALL_RESULT] = text_out
        conv = Conventions(latest=False)  # and no chat messages
    if isinstance(text_in, str):
        parsed = _json_or_none(text_in)
        out[sc.OI_INPUT_VALUE] = text_in
        out[OI_INPUT_MIME] = "text/plain" if parsed is _NOT_JSON else "application/json"
        if conv.latest and sc.GEN_AI_INPUT_MESSAGES not in own:
            out[sc.GEN_AI_INPUT_MESSAGES] = input_messages(text_in, parsed)
    if isinstance(text_out, str):
        parsed = _json_or_none(text_out)
        out[sc.OI_OUTPUT_VALUE] = text_out
        out[OI_OUTPUT_MIME] = "text/plain" if parsed is _NOT_JSON else "application/json"
        if conv.latest and sc.GEN_AI_OUTPUT_MESSAGES not in own:
            finish = "error" if row.get("status") == "error" else _finish_reason(own)
            out[sc.GEN_AI_OUTPUT_MESSAGES] = output_messages(text_out, finish, parsed)


_NOT_JSON: Any = object()


def _json_or_none(text: str) -> Any:
    """The JSON a text holds when it is a JSON object or array, else ``_NOT_JSON`` (plain text
    is not parsed at all)."""
    head = text.lstrip()[:1]
    if head not in ("{", "["):
        return _NOT_JSON
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _finish_reason(own: Mapping[str, Any]) -> str:
    reasons = own.get(sc.GEN_AI_RESPONSE_FINISH_REASONS)
    if isinstance(reasons, list | tuple) and reasons and isinstance(reasons[0], str):
        return reasons[0]
    return "stop"


def input_messages(text: str, parsed: Any = None) -> str:
    """``gen_ai.input.messages`` JSON for a row's input text: chat messages (``role`` and
    ``content`` or ``parts``) become the spec's ``{"role", "parts": [...]}``; anything else
    is one user message with one text part.

    Example:
        >>> input_messages('[{"role": "user", "content": "hi"}]')
        '[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]'
        >>> input_messages("hello")
        '[{"role": "user", "parts": [{"type": "text", "content": "hello"}]}]'
    """
    if parsed is None:
        parsed = _json_or_none(text)
    messages = _chat_messages(parsed)
    if messages is None:
        messages = [{"role": "user", "parts": [_text_part(text)]}]
    return json.dumps(messages, ensure_ascii=False)


def output_messages(text: str, finish_reason: str = "stop", parsed: Any = None) -> str:
    """``gen_ai.output.messages`` JSON for a row's output text: spec-shaped messages pass as
    they are; anything else is one assistant message with one text part.

    Example:
        >>> message = json.loads(output_messages("Paris."))[0]
        >>> message["role"], message["parts"], message["finish_reason"]
        ('assistant', [{'type': 'text', 'content': 'Paris.'}], 'stop')
    """
    if parsed is None:
        parsed = _json_or_none(text)
    messages = _chat_messages(parsed)
    if messages is None:
        messages = [{"role": "assistant", "parts": [_text_part(text)]}]
    for message in messages:
        message.setdefault("finish_reason", finish_reason)
    return json.dumps(messages, ensure_ascii=False)


def _text_part(content: Any) -> dict[str, Any]:
    if not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False, default=str)
    return {"type": "text", "content": content}


def _chat_messages(parsed: Any) -> list[dict[str, Any]] | None:
    """A list of chat messages in the spec's shape, or None when ``parsed`` is not one."""
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        parsed = parsed["messages"]
    if not isinstance(parsed, list) or not parsed:
        return None
    messages = []
    for item in parsed:
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            return None
        if isinstance(item.get("parts"), list):
            messages.append(dict(item))
            continue
        content = item.get("content")
        if isinstance(content, list):  # OpenAI content parts / Anthropic blocks
            parts = [
                _text_part(p["text"])
                if isinstance(p, dict) and isinstance(p.get("text"), str)
                else _text_part(p)
                for p in content
            ]
        else:
            parts = [] if content is None else [_text_part(content)]
        messages.append({"role": item["role"], "parts": parts})
    return messages


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _plain(value: Any) -> bool:
    return isinstance(value, str) or _finite(value)
