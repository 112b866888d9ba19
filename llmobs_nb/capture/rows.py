"""Finished OpenTelemetry spans → rows of the ``spans`` table, as one Arrow batch.

Runs on the background flush, never on the caller's path. Our spans and third-party spans
(OpenTelemetry GenAI instrumentations, OpenInference, the Anthropic SDK's own tracing) go
through the same mapping, so they land with the same columns.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.content_policy import OURS_ONLY, PARAMETER_KEYS, is_content_key
from llmobs_nb.capture.messages import render_genai, render_openinference
from llmobs_nb.capture.own_spans import OwnSpan, Preset
from llmobs_nb.capture.redact import (
    _short_redacted,
    redact_attributes,
    redact_optional,
    redact_text,
)
from llmobs_nb.capture.response_usage import MAX_TOKENS, token_count
from llmobs_nb.capture.span_events import fold_events
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store.schema import MODEL_CALL_KINDS, SPANS, TIMESTAMP, is_model_call

TS = TIMESTAMP
SPAN_SCHEMA = SPANS.arrow
"""The Arrow schema of a batch of ``spans`` rows, derived from :mod:`llmobs_nb.store.schema`."""
COLUMNS = SPAN_SCHEMA.names
ATTRIBUTE_ERROR = "llmobs.attribute_error"
"""The ``attributes`` key naming what was wrong with a row's values (and what was done)."""
_NS_PER_DAY = 86_400 * 10**9

# Attributes that become columns are not repeated in the JSON ``attributes`` column.
_MAPPED = frozenset(
    {
        sc.LLMOBS_KIND,
        sc.GEN_AI_PROVIDER_NAME,
        sc.GEN_AI_REQUEST_MODEL,
        sc.GEN_AI_RESPONSE_MODEL,
        sc.GEN_AI_OPERATION_NAME,
        sc.LLMOBS_USE_CASE,
        sc.LLMOBS_USER_ID,
        sc.LLMOBS_RUN,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        sc.LLMOBS_INPUT,
        sc.LLMOBS_OUTPUT,
        sc.ERROR_TYPE,
        sc.LLMOBS_PROJECT,
        sc.GEN_AI_CONVERSATION_ID,
        sc.GEN_AI_AGENT_NAME,
        sc.GEN_AI_TOOL_NAME,
        sc.GEN_AI_TOOL_CALL_ARGUMENTS,
        sc.GEN_AI_TOOL_CALL_RESULT,
    }
)


def _seconds(value: Any, problems: list[str]) -> float | None:
    """A duration attribute as float seconds; None (problem named) if not a finite number."""
    if value.__class__ is float and math.isfinite(value) and value >= 0:
        return value
    if value is None:
        return None
    try:
        seconds = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:
        seconds = math.nan
    if not math.isfinite(seconds) or isinstance(value, bool) or seconds < 0:
        problems.append(
            f"time to first chunk {value!r:.40} is not a finite, non-negative number of seconds"
        )
        return None
    return seconds


def _first(attrs: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _label(value: Any) -> str | None:
    if isinstance(value, str):
        found = _short_redacted.get(value)  # redact_text's own cache, without the call
        return (found if found is not None else redact_text(value)) or None
    return None


def _tokens(attrs: dict[str, Any], problems: list[str], keys: tuple[str, ...]) -> int | None:
    """The first of ``keys`` present, checked as a token count (see :func:`token_count`)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return token_count(value, keys[0], problems)
    return None


# Where each column's value may come from, first found wins: ours / GenAI, OpenInference, older.
_INPUT_KEYS = (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.OI_TOKEN_PROMPT, sc.GEN_AI_USAGE_PROMPT_TOKENS)
_OUTPUT_KEYS = (
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.OI_TOKEN_COMPLETION,
    sc.GEN_AI_USAGE_COMPLETION_TOKENS,
)
_CACHED_KEYS = (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.OI_TOKEN_CACHE_READ)
_WRITTEN_KEYS = (
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    sc.OI_TOKEN_CACHE_WRITE,
)
_REASONING_KEYS = (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, sc.OI_TOKEN_REASONING)
_CACHE_AND_REASONING_KEYS = frozenset(_CACHED_KEYS + _WRITTEN_KEYS + _REASONING_KEYS)
_PROVIDER_KEYS = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.OI_PROVIDER, sc.OI_SYSTEM)
_SESSION_KEYS = (sc.GEN_AI_CONVERSATION_ID, sc.OI_SESSION_ID)
_AGENT_KEYS = (sc.GEN_AI_AGENT_NAME, sc.OI_AGENT_NAME)
_TOOL_KEYS = (sc.GEN_AI_TOOL_NAME, sc.OI_TOOL_NAME)
_TEXT_KEYS = frozenset(
    {
        sc.GEN_AI_TOOL_CALL_ARGUMENTS,
        sc.GEN_AI_TOOL_CALL_RESULT,
        sc.LLMOBS_INPUT,
        sc.OI_INPUT_VALUE,
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GEN_AI_SYSTEM_INSTRUCTIONS,
        sc.LLMOBS_OUTPUT,
        sc.OI_OUTPUT_VALUE,
        sc.GEN_AI_OUTPUT_MESSAGES,
    }
)
_OI_MESSAGE_PREFIXES = (sc.OI_INPUT_MESSAGES + ".", sc.OI_OUTPUT_MESSAGES + ".")


def invocation_model(attrs: Any) -> Any:
    """The ``"model"`` of OpenInference's ``llm.invocation_parameters`` (JSON text), where it
    keeps the requested model of a call that failed before any response; None if absent.

    Example:
        >>> invocation_model({"llm.invocation_parameters": '{"model": "gpt-4o", "n": 1}'})
        'gpt-4o'
    """
    text = attrs.get(sc.OI_INVOCATION_PARAMETERS)
    if not isinstance(text, str) or '"model"' not in text:
        return None
    try:
        params = json.loads(text)
    except ValueError:
        return None
    return params.get("model") if isinstance(params, dict) else None


def _step_name(name: Any, attrs: Any, prefix: str) -> str | None:
    """An agent's or tool's name when no attribute gives it: OpenInference's graph node name
    (agent frameworks), else the span's name without the GenAI prefix (``invoke_agent X``).

    Example:
        >>> _step_name("execute_tool get_weather", None, "execute_tool ")
        'get_weather'
        >>> _step_name("planner", {"graph.node.name": "plan"}, "invoke_agent ")
        'plan'
    """
    node = attrs.get(sc.OI_GRAPH_NODE_NAME) if attrs is not None else None
    if isinstance(node, str) and node:
        return node
    if not isinstance(name, str):
        return None
    return name[len(prefix) :] if name.startswith(prefix) else name


def _has_oi_messages(attrs: Any) -> bool:
    """Whether a third party's span carries OpenInference's flattened messages (ours never do)."""
    if sc.LLMOBS_KIND in attrs:
        return False
    return any(key.startswith(_OI_MESSAGE_PREFIXES) for key in attrs)


def _model_attribute(attrs: Any) -> Any:
    model = attrs.get(sc.GEN_AI_REQUEST_MODEL)
    if model is None:
        model = attrs.get(sc.OI_MODEL_NAME)
    if model is None:
        model = invocation_model(attrs)
    return model


def starts_model_call(attrs: Any) -> bool:
    """Whether a span, from the attributes it starts with, describes one model API call:
    :data:`~llmobs_nb.store.schema.is_model_call` of its kind (:func:`span_kind`) and model.

    Example:
        >>> starts_model_call({"gen_ai.operation.name": "chat"})
        True
        >>> starts_model_call({"llmobs.kind": "evaluator"})  # an evaluator without a model
        False
    """
    return is_model_call(span_kind("", attrs), _model_attribute(attrs))


def span_kind(name: str, attrs: Any) -> str:
    """Our kind for a span: set by us, by OpenInference, or inferred from GenAI attributes."""
    kind = attrs.get(sc.LLMOBS_KIND)
    if isinstance(kind, str):
        return kind
    oi_kind = attrs.get(sc.OI_SPAN_KIND)
    if isinstance(oi_kind, str):
        return sc.OPENINFERENCE_KINDS.get(oi_kind.upper(), "other")
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation in sc.EMBEDDING_OPERATIONS:
        return "embedding"
    if operation in sc.LLM_OPERATIONS:
        return "llm"
    if operation in sc.TOOL_OPERATIONS:
        return "tool"
    if operation in sc.AGENT_OPERATIONS:
        return "agent"
    if operation in sc.WORKFLOW_OPERATIONS:
        return "chain"
    if attrs.get(sc.GEN_AI_REQUEST_MODEL) is not None or attrs.get(sc.OI_MODEL_NAME) is not None:
        return "llm"
    return "other"


def span_error_type(span: ReadableSpan, attrs: Any) -> str | None:
    """A failed span's error type: ``error.type``, else its exception event's class name.

    Example:
        >>> span_error_type(ReadableSpan("x"), {"error.type": "RateLimitError"})
        'RateLimitError'
    """
    value = attrs.get(sc.ERROR_TYPE)
    if isinstance(value, str):
        return value
    for event in span.events:
        if event.name == "exception":
            exc_type = event.attributes.get("exception.type") if event.attributes else None
            if isinstance(exc_type, str):
                return exc_type.rsplit(".", 1)[-1]
    return None


# (text keys: ours, OpenInference's value, a GenAI tool call's; GenAI messages, GenAI system
# instructions, OI messages prefix)
_TEXT_SOURCES = (
    (
        (sc.LLMOBS_INPUT, sc.OI_INPUT_VALUE, sc.GEN_AI_TOOL_CALL_ARGUMENTS),
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GEN_AI_SYSTEM_INSTRUCTIONS,
        sc.OI_INPUT_MESSAGES,
    ),
    (
        (sc.LLMOBS_OUTPUT, sc.OI_OUTPUT_VALUE, sc.GEN_AI_TOOL_CALL_RESULT),
        sc.GEN_AI_OUTPUT_MESSAGES,
        None,
        sc.OI_OUTPUT_MESSAGES,
    ),
)


def _texts(attrs: Any, problems: list[str]) -> tuple[str | None, str | None]:
    """``input_text`` and ``output_text``, redacted: ours, else OpenInference's ``input.value``
    / ``output.value``, else GenAI messages or OpenInference's flattened messages rendered as
    ``role: text`` lines (:mod:`~llmobs_nb.capture.messages`). Messages that cannot be read as
    messages are kept as their raw text, the problem named."""
    found = []
    for value_keys, messages_key, system_key, oi_prefix in _TEXT_SOURCES:
        value = _first(attrs, value_keys)
        text = value if isinstance(value, str) or value is None else _stdlib_json(value)
        if text is None:
            messages = attrs.get(messages_key)
            system = attrs.get(system_key) if system_key else None
            if messages is not None or system is not None:
                text = render_genai(messages, system)
                if text is None:
                    problems.append(f"{messages_key} is not readable as messages; kept as text")
                    raw = messages if messages is not None else system
                    text = raw if isinstance(raw, str) else _stdlib_json(raw)
        if text is None and sc.LLMOBS_KIND not in attrs:
            text = render_openinference(attrs, oi_prefix)
        found.append(None if text is None else redact_text(text))
    return found[0], found[1]


_stdlib_json = json.JSONEncoder(default=str).encode
# The stdlib's C encoder called directly: the same text as ``json.dumps(value, default=str)`` in
# 2 µs instead of 5 (``JSONEncoder.encode`` builds Python closures on every call). NaN and
# infinities are refused here and written as null by the fallback, so the column stays standard
# JSON.
_c_encode = (
    c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", False, False, False)
    if c_make_encoder is not None
    else None
)


def _to_json(value: dict[str, Any]) -> str:
    """JSON text of a span's other attributes (NaN and infinities as null, bytes as ``str``,
    lone UTF-16 surrogates as U+FFFD, named in ``llmobs.attribute_error``)."""
    text = None
    if _c_encode is not None:
        try:  # noqa: SIM105 (contextlib.suppress costs a few µs per row on the flush thread)
            text = "".join(_c_encode(value, 0))
        except ValueError:  # NaN or an infinity: the fallback below
            pass
    if text is None:
        text = _stdlib_json(_finite(value))
    if "\\ud" in text:  # surrogate escapes (an emoji's pair, or a lone one DuckDB refuses)
        fixed = _LONE_SURROGATE.sub(r"\\ufffd", text)
        if fixed != text:
            value = {**value}
            note = "text that is not valid Unicode (a lone surrogate) replaced by U+FFFD"
            before = value.get(ATTRIBUTE_ERROR)
            value[ATTRIBUTE_ERROR] = f"{before}; {note}" if before else note
            return _LONE_SURROGATE.sub(r"\\ufffd", _stdlib_json(_finite(value)))
    return text


# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or the latter not preceded by
# the former: valid JSON text that no UTF-8 store can hold.
_LONE_SURROGATE = re.compile(
    r"(?<!\\)\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})"
    r"|(?<!\\ud[89ab][0-9a-f]{2})(?<!\\)\\ud[c-f][0-9a-f]{2}"
)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    return value


def _attributes_of(span: ReadableSpan) -> dict[str, Any]:
    """A plain dict of the span's attributes.

    ``dict(span.attributes)`` walks a mapping proxy over BoundedAttributes key by key in
    Python; the SDK's own ``_dict`` copies in C. Fall back if a future SDK renames it.
    """
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if isinstance(inner, dict):
        return inner.copy()
    return dict(span.attributes) if span.attributes else {}


SpanRecord = tuple[
    str, int, int, "int | None", int, int, "tuple[str | None, str | None] | None", dict
]
"""What the flush needs of one finished span: name, trace id, span id, parent span id, start
and end (ns), ``(error_type, message)`` when it failed, and a copy of its attributes."""


def record_of(span: ReadableSpan) -> SpanRecord:
    """Copy what :func:`to_columns` needs out of a finished span, at end time.

    Buffering these small records instead of the SDK's span objects (each a handful of
    garbage-collected containers) lets the span be freed at once: a burst of buffered spans
    would otherwise be promoted to the oldest GC generation and make every full collection
    walk them. Costs about as much as the SDK's own copy of the span for its processors.
    """
    ctx = span.context
    parent = span.parent
    status = span.status
    # An ended OwnSpan hands over its own dict: nothing writes to an ended span.
    attrs = span.attributes if span.__class__ is OwnSpan else _attributes_of(span)
    start_ns = span.start_time or 0
    events = span.events
    if events:  # first-token and operation-details events of other instrumentations
        fold_events(events, start_ns, attrs)
    error = None
    if status.status_code is StatusCode.ERROR:
        error = (span_error_type(span, attrs), status.description)
    return (
        span.name,
        ctx.trace_id,
        ctx.span_id,
        None if parent is None else parent.span_id,
        start_ns,
        span.end_time or start_ns,
        error,
        attrs,
    )


def to_columns(
    records: Sequence[SpanRecord],
    project: str | None,
    prices: PriceBook,
    duplicates: set[int] | None = None,
    wrappers: set[int] | None = None,
    dropped: dict[str, int] | None = None,
    presets: dict[int, Preset] | None = None,
) -> pa.Table:
    """Convert finished spans (see :func:`record_of`) to an Arrow table of the ``spans`` table.

    Tokens are validated (a bad count becomes NULL with the problem named in ``attributes``),
    model calls are priced, and every attribute that is not a column is kept, redacted, in the
    ``attributes`` JSON.

    A bad value costs only its own field, never another row: a row whose conversion raises is
    kept with its ids, name, times and status (the problem named in
    ``attributes["llmobs.attribute_error"]``); a value Arrow cannot hold (an integer beyond
    int64, text that is not valid Unicode) becomes NULL with the problem named the same way.
    A row that cannot be kept even so is left out and counted in ``dropped`` (reason
    ``"conversion"``).

    ``presets`` (span id → the :class:`~llmobs_nb.capture.own_spans.Preset` a span's
    attributes started from, intact; taken out as used) lets the part of the ``attributes``
    JSON that is the same on every call of a decorated function be made once (the same text).

    Example:
        >>> from llmobs_nb.pricing import PriceBook
        >>> record = ("step", 1, 2, None, 0, 10**9, None, {"llmobs.kind": "chain"})
        >>> to_columns([record], "demo", PriceBook()).column("latency_s").to_pylist()
        [1.0]
    """
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    days: dict[int, datetime] = {}
    # (model, provider, day) → price, found once per batch (PriceBook.find warns once too)
    found_prices: dict[tuple[str, Any, int], Any] = {}
    model_kinds = MODEL_CALL_KINDS
    mapped = _MAPPED
    short = _short_redacted  # redact_text's own cache of short texts, read without the call
    project_label = redact_optional(project)
    for record in records:
        try:
            name, trace_id, span_id, parent_id, start_ns, end_ns, error, attrs = record
            get = attrs.get
            kind = get(sc.LLMOBS_KIND)
            if kind.__class__ is not str:
                kind = span_kind(name, attrs)
            problems: list[str] = []
            if duplicates and span_id in duplicates:
                duplicates.discard(span_id)
                kind = "other"
                attrs["llmobs.duplicate_call"] = True
            elif wrappers and span_id in wrappers:
                wrappers.discard(span_id)
                kind = "chain"
                attrs["llmobs.wraps_model_call"] = True
            model_raw = get(sc.GEN_AI_REQUEST_MODEL)
            if model_raw is None:
                model_raw = _model_attribute(attrs)
            model = _label(model_raw)
            if model_raw is not None and model is None:
                problems.append(f"model {model_raw!r} is not a string")
            response_model = _label(get(sc.GEN_AI_RESPONSE_MODEL))
            if model is None and response_model is not None:
                model = response_model
            provider = get(sc.GEN_AI_PROVIDER_NAME)
            if provider.__class__ is not str or not provider:
                provider = _label(_first(attrs, _PROVIDER_KEYS))
            # Our spans carry valid ints under the GenAI names: skip the general check for those.
            input_tokens = get(sc.GEN_AI_USAGE_INPUT_TOKENS)
            if input_tokens.__class__ is not int or not 0 <= input_tokens <= MAX_TOKENS:
                input_tokens = _tokens(attrs, problems, _INPUT_KEYS)
            output_tokens = get(sc.GEN_AI_USAGE_OUTPUT_TOKENS)
            if output_tokens.__class__ is not int or not 0 <= output_tokens <= MAX_TOKENS:
                output_tokens = _tokens(attrs, problems, _OUTPUT_KEYS)
            if attrs.keys().isdisjoint(_CACHE_AND_REASONING_KEYS):
                cached = written = reasoning = None  # the usual case: one lookup, not seven
            else:  # ours: valid ints under the GenAI names, the first of their keys
                cached = get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
                if cached.__class__ is not int or not 0 <= cached <= MAX_TOKENS:
                    cached = _tokens(attrs, problems, _CACHED_KEYS)
                written = _tokens(attrs, problems, _WRITTEN_KEYS)
                reasoning = get(sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)
                if reasoning.__class__ is not int or not 0 <= reasoning <= MAX_TOKENS:
                    reasoning = _tokens(attrs, problems, _REASONING_KEYS)
            if input_tokens is not None and (cached or 0) + (written or 0) > input_tokens:
                problems.append(f"cached input exceeds input_tokens ({input_tokens})")
                cached = written = None
            cost = version = None
            # is_model_call(kind, model) with a model: the one rule, as a set lookup per row.
            if kind in model_kinds and model is not None:
                day = start_ns // _NS_PER_DAY
                price_key = (model, provider, day)
                price = found_prices.get(price_key, _UNKNOWN)
                if price is _UNKNOWN:  # prices change by the day: one lookup per day will do
                    start_dt = days.get(day)
                    if start_dt is None:
                        start_dt = days[day] = datetime.fromtimestamp(day * 86400, UTC)
                    price = found_prices[price_key] = prices.find(model, provider, start_dt)
                if price is not None:
                    cost = price.cost(input_tokens, output_tokens, cached, written, reasoning)
                    version = price.version
            ttft = get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
            if ttft is not None:
                ttft = _seconds(ttft, problems)
            if attrs.keys().isdisjoint(_TEXT_KEYS) and not _has_oi_messages(attrs):
                input_text = output_text = None  # the usual case: one lookup
            else:
                input_text, output_text = _texts(attrs, problems)
            static = None
            if presets:
                preset = presets.pop(span_id, None)
                if preset is not None:
                    static = preset.row
                    if static is None:
                        static = preset.row = _static_part(preset)
            if static is None or static is _NOT_STATIC:
                extra = redact_attributes(attrs, mapped)
                static_json = None
            else:
                skip, static_json = static
                extra = redact_attributes(attrs, skip)  # the preset's keys: in static_json
            if problems:
                extra["llmobs.attribute_error"] = "; ".join(problems)
            if static_json is None:
                attributes_json = _to_json(extra) if extra else "{}"
            elif extra:
                attributes_json = "{" + static_json + ", " + _to_json(extra)[1:]
            else:
                attributes_json = "{" + static_json + "}"
            user_id = get(sc.LLMOBS_USER_ID)
            session_id = get(sc.GEN_AI_CONVERSATION_ID)
            if session_id is None:
                session_id = _first(attrs, _SESSION_KEYS)
            agent_name = get(sc.GEN_AI_AGENT_NAME)
            if agent_name is None and kind == "agent":
                agent_name = _first(attrs, _AGENT_KEYS) or _step_name(name, attrs, "invoke_agent ")
            tool_name = get(sc.GEN_AI_TOOL_NAME)
            if tool_name is None and kind == "tool":
                tool_name = _first(attrs, _TOOL_KEYS) or _step_name(name, None, "execute_tool ")
            if user_id is None:
                user_id = get(sc.USER_ID)
            operation = get(sc.GEN_AI_OPERATION_NAME)
            use_case = get(sc.LLMOBS_USE_CASE)
            run = get(sc.LLMOBS_RUN)
            row_project = get(sc.LLMOBS_PROJECT)
            if name.__class__ is str:
                found_name = short.get(name)
                if found_name is None:
                    found_name = redact_text(name)
            else:
                found_name = redact_text(name)
            if provider is not None:
                found_provider = short.get(provider) if provider.__class__ is str else None
                provider = found_provider if found_provider is not None else redact_text(provider)
            append(
                (
                    format(trace_id, "032x"),
                    format(span_id, "016x"),
                    None if parent_id is None else format(parent_id, "016x"),
                    found_name,
                    kind,
                    start_ns // 1000,
                    end_ns // 1000,
                    (end_ns - start_ns) / 1e9,
                    ttft,
                    provider,
                    model,
                    response_model,
                    None if operation is None else _label(operation),
                    None if use_case is None else _label(use_case),
                    None if user_id is None else _label(user_id),
                    None if run is None else _label(run),
                    (None if row_project is None else _label(row_project)) or project_label,
                    "ok" if error is None else "error",
                    None if error is None else redact_optional(error[0]),
                    None if error is None else redact_optional(error[1]),
                    input_tokens,
                    output_tokens,
                    cached,
                    written,
                    reasoning,
                    cost,
                    version,
                    input_text,
                    output_text,
                    attributes_json,
                    None if session_id is None else _label(session_id),
                    None if agent_name is None else _label(agent_name),
                    None if tool_name is None else _label(tool_name),
                )
            )
        except Exception as exc:  # a value no rule above foresaw: this row alone pays
            fallback = _fallback_row(record, project, exc)
            if fallback is None:
                _count(dropped, "conversion")
            else:
                append(fallback)
    return _table(rows, dropped)


_ATTRIBUTES_INDEX = COLUMNS.index("attributes")
_NOT_STATIC = ("", "")  # a preset whose part of the JSON is not made once (see _static_part)
# Attributes to_columns itself adds to a row: a preset that names one is not made once.
_ADDED_HERE = frozenset({"llmobs.duplicate_call", "llmobs.wraps_model_call", ATTRIBUTE_ERROR})


def _static_part(preset: dict[str, Any]) -> tuple[frozenset[str], str]:
    """(keys left out of the per-row JSON, the preset's own part of the ``attributes`` JSON
    without its braces), or ``_NOT_STATIC`` when that part cannot be made once: it names
    content (dropped or kept by the content setting), an attribute to_columns adds, text
    needing a fix, or nothing besides columns.

    Example:
        >>> _static_part({"gen_ai.request.model": "m", "app.route": "/ask"})[1]
        '"app.route": "/ask"'
    """
    for key in preset:
        if is_content_key(key) or key in PARAMETER_KEYS or key in OURS_ONLY or key in _ADDED_HERE:
            return _NOT_STATIC
    extra = redact_attributes(preset, _MAPPED)
    if not extra:
        return _NOT_STATIC
    text = _to_json(extra)
    if "\\ud" in text or ATTRIBUTE_ERROR in text:
        return _NOT_STATIC
    return _MAPPED | preset.keys(), text[1:-1]


_UNKNOWN = object()  # a price not looked up yet (None: looked up, none known)


def describe_error(exc: BaseException, limit: int = 200) -> str:
    """``"Type: message"`` of an exception, shortened, never raising (a hostile ``__str__``).

    Example:
        >>> describe_error(OverflowError("int too big to convert"))
        'OverflowError: int too big to convert'
    """
    kind = type(exc).__name__
    try:
        text = str(exc)
    except Exception:
        return kind
    text = text if len(text) <= limit else text[:limit] + "…"
    return f"{kind}: {text}" if text else kind


def _count(dropped: dict[str, int] | None, reason: str, n: int = 1) -> None:
    if dropped is not None:
        dropped[reason] = dropped.get(reason, 0) + n


def _fallback_row(record: Any, project: str | None, exc: BaseException) -> tuple[Any, ...] | None:
    """What can be kept of a row whose conversion raised: ids, name, times, status, kind and
    model when they are plain strings; the problem named in ``attributes``. None if not even
    that can be built."""
    try:
        name, trace_id, span_id, parent_id, start_ns, end_ns, error, attrs = record
        kind = attrs.get(sc.LLMOBS_KIND)
        model = attrs.get(sc.GEN_AI_REQUEST_MODEL)
        problem = f"row conversion failed ({describe_error(exc)}); only ids, times and status kept"
        row = [None] * len(COLUMNS)
        row[:8] = [
            format(trace_id, "032x"),
            format(span_id, "016x"),
            None if parent_id is None else format(parent_id, "016x"),
            redact_text(name) if isinstance(name, str) else None,
            kind if isinstance(kind, str) else "other",
            start_ns // 1000,
            end_ns // 1000,
            (end_ns - start_ns) / 1e9,
        ]
        row[COLUMNS.index("model")] = _label(model)
        row[COLUMNS.index("project")] = redact_optional(project)
        row[COLUMNS.index("status")] = "ok" if error is None else "error"
        row[_ATTRIBUTES_INDEX] = _to_json({ATTRIBUTE_ERROR: problem})
        return tuple(row)
    except Exception:
        return None


def _table(rows: list[tuple[Any, ...]], dropped: dict[str, int] | None) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in COLUMNS]
    try:
        arrays = [
            pa.array(col, type=field.type) for col, field in zip(columns, SPAN_SCHEMA, strict=True)
        ]
    except Exception:  # one value Arrow cannot hold: find it, column by column
        return _isolated_table(columns, dropped)
    return pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA)


def _with_problems(text: Any, problems: list[str]) -> str:
    """The ``attributes`` JSON text with ``problems`` added to its attribute-error entry."""
    try:
        extra = json.loads(text) if isinstance(text, str) else {}
        if not isinstance(extra, dict):
            extra = {}
    except ValueError:
        extra = {}
    before = extra.get(ATTRIBUTE_ERROR)
    extra[ATTRIBUTE_ERROR] = "; ".join([before, *problems] if before else problems)
    return _to_json(extra)


def _isolated_table(columns: list[Any], dropped: dict[str, int] | None) -> pa.Table:
    """The batch with each value Arrow refuses set to NULL and named in its row's
    ``attributes``; a row whose ``attributes`` cannot be written even then is dropped."""
    problems: dict[int, list[str]] = {}
    arrays: list[pa.Array] = []
    for index, (col, field) in enumerate(zip(columns, SPAN_SCHEMA, strict=True)):
        values = list(col)
        if index == _ATTRIBUTES_INDEX:
            for row, found in problems.items():
                values[row] = _with_problems(values[row], found)
        try:
            arrays.append(pa.array(values, type=field.type))
            continue
        except Exception:
            pass
        for row, value in enumerate(values):
            try:
                pa.array([value], type=field.type)
            except Exception as exc:
                values[row] = None
                problem = f"{field.name} not stored ({describe_error(exc)})"
                problems.setdefault(row, []).append(problem)
                if index == _ATTRIBUTES_INDEX:  # the attributes alone, with the problem named
                    with contextlib.suppress(Exception):
                        text = _to_json({ATTRIBUTE_ERROR: "; ".join(problems[row])})
                        pa.array([text], type=field.type)
                        values[row] = text
        arrays.append(pa.array(values, type=field.type))
    table = pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA)
    lost = table.column(_ATTRIBUTES_INDEX).null_count
    if lost:  # not even the problem could be written: the row is left out, and counted
        _count(dropped, "conversion", lost)
        table = table.filter(pc.is_valid(table.column(_ATTRIBUTES_INDEX)))
    return table
