"""Finished OpenTelemetry spans → rows of the ``spans`` table, as one Arrow batch.

Runs on the background flush, never on the caller's path. Our spans and third-party spans
(OpenTelemetry GenAI instrumentations, OpenInference, the Anthropic SDK's own tracing) go
through the same mapping, so they land with the same columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.redact import redact_text, redact_value
from llmobs_nb.pricing import PriceBook

TS = pa.timestamp("us", tz="UTC")
SPAN_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("start_time", TS),
        ("end_time", TS),
        ("latency_s", pa.float64()),
        ("ttft_s", pa.float64()),
        ("provider", pa.string()),
        ("model", pa.string()),
        ("response_model", pa.string()),
        ("operation", pa.string()),
        ("use_case", pa.string()),
        ("user_id", pa.string()),
        ("run", pa.string()),
        ("project", pa.string()),
        ("status", pa.string()),
        ("error_type", pa.string()),
        ("error_message", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cached_input_tokens", pa.int64()),
        ("cache_write_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("price_version", pa.string()),
        ("input_text", pa.string()),
        ("output_text", pa.string()),
        ("attributes", pa.string()),
    ]
)
COLUMNS = SPAN_SCHEMA.names
_NS_PER_DAY = 86_400 * 10**9
MODEL_CALL_KINDS = frozenset({"llm", "embedding", "evaluator"})

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
    }
)


def _first(attrs: Any, *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return None


def _tokens(attrs: dict[str, Any], problems: list[str], *keys: str) -> int | None:
    value = None
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            break
    if value is None:
        return None
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{keys[0]}={value!r} is not a number")
        return None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        problems.append(f"{keys[0]}={value!r} is not a whole number")
        return None
    if value < 0:
        problems.append(f"{keys[0]}={value!r} is negative")
        return None
    return int(value)


_OI_MODEL_KINDS = frozenset({"LLM", "EMBEDDING"})
_OUR_MODEL_KINDS = frozenset({"llm", "embedding"})


def starts_model_call(attrs: Any) -> bool:
    """Whether a span, from the attributes it starts with, describes one model API call."""
    kind = attrs.get(sc.LLMOBS_KIND)
    if kind is not None:
        return kind in _OUR_MODEL_KINDS
    oi_kind = attrs.get(sc.OI_SPAN_KIND)
    if oi_kind is not None:
        return oi_kind in _OI_MODEL_KINDS
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return operation in sc.LLM_OPERATIONS or operation in sc.EMBEDDING_OPERATIONS
    return attrs.get(sc.GEN_AI_REQUEST_MODEL) is not None


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
    if operation in ("execute_tool",):
        return "tool"
    if operation in ("invoke_agent", "create_agent"):
        return "agent"
    if attrs.get(sc.GEN_AI_REQUEST_MODEL) is not None or attrs.get(sc.OI_MODEL_NAME) is not None:
        return "llm"
    return "other"


def _error_type(span: ReadableSpan, attrs: Any) -> str | None:
    value = attrs.get(sc.ERROR_TYPE)
    if isinstance(value, str):
        return value
    for event in span.events:
        if event.name == "exception":
            exc_type = event.attributes.get("exception.type") if event.attributes else None
            if isinstance(exc_type, str):
                return exc_type.rsplit(".", 1)[-1]
    return None


def _third_party_text(attrs: Any, *keys: str) -> str | None:
    value = _first(attrs, *keys)
    return redact_text(value) if isinstance(value, str) else None


_to_json = json.JSONEncoder(default=str).encode  # one encoder, not one per span


def _attributes_of(span: ReadableSpan) -> dict[str, Any]:
    """A plain dict of the span's attributes.

    ``dict(span.attributes)`` walks a mapping proxy over BoundedAttributes key by key in
    Python; the SDK's own ``_dict`` copies in C. Fall back if a future SDK renames it.
    """
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if isinstance(inner, dict):
        return dict(inner)
    return dict(span.attributes) if span.attributes else {}


def to_columns(
    spans: Sequence[ReadableSpan],
    project: str | None,
    prices: PriceBook,
    duplicates: set[int] | None = None,
    wrappers: set[int] | None = None,
) -> pa.Table:
    """Convert finished spans to an Arrow table with the ``spans`` table's columns.

    Tokens are validated (a bad count becomes NULL with the problem named in ``attributes``),
    model calls are priced, and every attribute that is not a column is kept, redacted, in the
    ``attributes`` JSON.
    """
    rows: list[tuple[Any, ...]] = []
    days: dict[int, datetime] = {}
    error_code = StatusCode.ERROR
    for span in spans:
        attrs = _attributes_of(span)
        get = attrs.get
        ctx = span.context
        parent = span.parent
        start_ns = span.start_time or 0
        end_ns = span.end_time or start_ns
        kind = span_kind(span.name, attrs)
        problems: list[str] = []
        if duplicates and ctx.span_id in duplicates:
            duplicates.discard(ctx.span_id)
            kind = "other"
            attrs["llmobs.duplicate_call"] = True
        elif wrappers and ctx.span_id in wrappers:
            wrappers.discard(ctx.span_id)
            kind = "chain"
            attrs["llmobs.wraps_model_call"] = True
        model_raw = get(sc.GEN_AI_REQUEST_MODEL)
        if model_raw is None:
            model_raw = get(sc.OI_MODEL_NAME)
        model = _label(model_raw)
        if model_raw is not None and model is None:
            problems.append(f"model {model_raw!r} is not a string")
        response_model = _label(get(sc.GEN_AI_RESPONSE_MODEL))
        if model is None and response_model is not None:
            model = response_model
        provider = _label(
            _first(attrs, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.OI_PROVIDER, sc.OI_SYSTEM)
        )
        failed = span.status.status_code is error_code
        input_tokens = _tokens(
            attrs,
            problems,
            sc.GEN_AI_USAGE_INPUT_TOKENS,
            sc.OI_TOKEN_PROMPT,
            sc.GEN_AI_USAGE_PROMPT_TOKENS,
        )
        output_tokens = _tokens(
            attrs,
            problems,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS,
            sc.OI_TOKEN_COMPLETION,
            sc.GEN_AI_USAGE_COMPLETION_TOKENS,
        )
        cached = _tokens(
            attrs, problems, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.OI_TOKEN_CACHE_READ
        )
        written = _tokens(
            attrs,
            problems,
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
            sc.OI_TOKEN_CACHE_WRITE,
        )
        reasoning = _tokens(
            attrs, problems, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, sc.OI_TOKEN_REASONING
        )
        if input_tokens is not None and (cached or 0) + (written or 0) > input_tokens:
            problems.append(f"cached input exceeds input_tokens ({input_tokens})")
            cached = written = None
        cost = version = None
        if kind in MODEL_CALL_KINDS and model is not None:
            day = start_ns // _NS_PER_DAY
            start_dt = days.get(day)
            if start_dt is None:  # prices change by the day: one datetime per day will do
                start_dt = days[day] = datetime.fromtimestamp(day * 86400, UTC)
            cost, version = prices.cost(
                model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cached_input_tokens=cached,
                cache_write_tokens=written,
                reasoning_tokens=reasoning,
                provider=provider,
                at=start_dt,
            )
        ttft = get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        extra = {key: redact_value(key, attrs[key]) for key in attrs.keys() - _MAPPED}
        if problems:
            extra["llmobs.attribute_error"] = "; ".join(problems)
        user_id = get(sc.LLMOBS_USER_ID)
        rows.append(
            (
                format(ctx.trace_id, "032x"),
                format(ctx.span_id, "016x"),
                format(parent.span_id, "016x") if parent is not None else None,
                span.name,
                kind,
                start_ns // 1000,
                end_ns // 1000,
                (end_ns - start_ns) / 1e9,
                float(ttft) if isinstance(ttft, int | float) else None,
                provider,
                model,
                response_model,
                _label(get(sc.GEN_AI_OPERATION_NAME)),
                _label(get(sc.LLMOBS_USE_CASE)),
                _label(user_id if user_id is not None else get(sc.USER_ID)),
                _label(get(sc.LLMOBS_RUN)),
                _label(get(sc.LLMOBS_PROJECT)) or project,
                "error" if failed else "ok",
                _error_type(span, attrs) if failed else None,
                span.status.description if failed else None,
                input_tokens,
                output_tokens,
                cached,
                written,
                reasoning,
                cost,
                version,
                _third_party_text(
                    attrs, sc.LLMOBS_INPUT, sc.OI_INPUT_VALUE, sc.GEN_AI_INPUT_MESSAGES
                ),
                _third_party_text(
                    attrs, sc.LLMOBS_OUTPUT, sc.OI_OUTPUT_VALUE, sc.GEN_AI_OUTPUT_MESSAGES
                ),
                _to_json(extra) if extra else "{}",
            )
        )
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in COLUMNS]
    return pa.Table.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, SPAN_SCHEMA, strict=True)],
        schema=SPAN_SCHEMA,
    )
