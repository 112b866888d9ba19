"""The collector's ``otel_traces`` (and ``otel_logs``) read as the store's ``spans``,
``llm_calls`` and ``scores``, in ClickHouse SQL.

Each column is one expression over a row of ``otel_traces``, following the rules the capture
applies to a received span (``capture/rows.py``: ``span_kind``, the token keys, first found
wins), with the attribute names of :mod:`llmobs_nb.capture.semconv` — GenAI semantic
conventions (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``…), OpenInference
(``llm.model_name``, ``llm.token_count.prompt``, ``openinference.span.kind``, ``session.id``,
``user.id``) and our ``llmobs.*`` labels. ``llm_calls`` keeps the spans that are model calls by
the package's one rule (:data:`~llmobs_nb.store.model_call.is_model_call`, rendered over these
expressions) and prices each from the pushed ``llmobs_prices`` table
(:mod:`~llmobs_nb.clickhouse.prices`): the rates of its model and provider on its day,
:meth:`llmobs_nb.pricing.Price.cost`'s formula, NULL when unpriced (never 0).

Attribute values are text in these tables; a key that is missing or empty reads as NULL.
Tokens are ``toInt64OrNull`` of the text; ``attributes`` is the whole span attribute map as
JSON (the store keeps only the unmapped ones). Captured content (``input_text``,
``output_text``) is ours (``llmobs.input``), else OpenInference's ``input.value``, else a GenAI
tool call's arguments (result), as stored: capture's fallback of rendering GenAI or
OpenInference chat messages as text is not done here, nor is its redaction (text that reached
the table is read as it is). Not mapped: ``price_version`` (NULL).

Example:
    >>> sql_string("it's")
    "'it\\\\'s'"
    >>> "gen_ai.request.model" in column_expressions()["model"]
    True
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from llmobs_nb.capture import semconv as sc
from llmobs_nb.clickhouse.otel_schema import STATUS_ERROR, quote_identifier
from llmobs_nb.otlp.conventions import LLMOBS_SCORE_SOURCE, OI_PROJECT, OI_RESPONSE_MODEL
from llmobs_nb.store.model_call import is_model_call
from llmobs_nb.store.schema import LLM_CALLS, SCORES

PRICES_TABLE = "llmobs_prices"
"""The name the pushed prices table has in every query (:mod:`~llmobs_nb.clickhouse.prices`)."""

# Where each column's value comes from, first found wins — capture/rows.py's order
# (tests/clickhouse/test_mapping.py checks these against rows.py's own tuples).
INPUT_KEYS = (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.OI_TOKEN_PROMPT, sc.GEN_AI_USAGE_PROMPT_TOKENS)
OUTPUT_KEYS = (
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.OI_TOKEN_COMPLETION,
    sc.GEN_AI_USAGE_COMPLETION_TOKENS,
)
CACHED_KEYS = (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.OI_TOKEN_CACHE_READ)
WRITTEN_KEYS = (
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    sc.OI_TOKEN_CACHE_WRITE,
)
REASONING_KEYS = (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, sc.OI_TOKEN_REASONING)
PROVIDER_KEYS = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM, sc.OI_PROVIDER, sc.OI_SYSTEM)
SESSION_KEYS = (sc.GEN_AI_CONVERSATION_ID, sc.OI_SESSION_ID)
AGENT_KEYS = (sc.GEN_AI_AGENT_NAME, sc.OI_AGENT_NAME)
TOOL_KEYS = (sc.GEN_AI_TOOL_NAME, sc.OI_TOOL_NAME)
MODEL_KEYS = (sc.GEN_AI_REQUEST_MODEL, sc.OI_MODEL_NAME)
RESPONSE_MODEL_KEYS = (sc.GEN_AI_RESPONSE_MODEL, OI_RESPONSE_MODEL)
USER_KEYS = (sc.LLMOBS_USER_ID, sc.USER_ID)
# capture/rows.py's _TEXT_SOURCES value keys (its messages fallbacks are not read here).
INPUT_TEXT_KEYS = (sc.LLMOBS_INPUT, sc.OI_INPUT_VALUE, sc.GEN_AI_TOOL_CALL_ARGUMENTS)
OUTPUT_TEXT_KEYS = (sc.LLMOBS_OUTPUT, sc.OI_OUTPUT_VALUE, sc.GEN_AI_TOOL_CALL_RESULT)


def sql_string(text: str) -> str:
    """A ClickHouse string literal of ``text`` (for the package's own attribute names and
    constants; values given by users travel as query parameters, never as literals).

    Example:
        >>> sql_string("a\\\\b")
        "'a\\\\\\\\b'"
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _strings(values: Sequence[str]) -> str:
    return "[" + ", ".join(sql_string(v) for v in sorted(values)) + "]"


def attribute(key: str, column: str = "SpanAttributes") -> str:
    """The value of attribute ``key`` of a row, NULL when missing or empty.

    Example:
        >>> attribute("user.id")
        "nullIf(SpanAttributes['user.id'], '')"
    """
    return f"nullIf({column}[{sql_string(key)}], '')"


def first_of(keys: Sequence[str], column: str = "SpanAttributes") -> str:
    """The first of ``keys`` a row has (capture's rule: first found wins)."""
    found = [attribute(k, column) for k in keys]
    return found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"


def _tokens(keys: Sequence[str]) -> str:
    return f"toInt64OrNull({first_of(keys)})"


def _event_index(name: str) -> str:
    return f"indexOf(Events.Name, {sql_string(name)})"


def kind_expression() -> str:
    """``capture/rows.span_kind`` in SQL: ours (``llmobs.kind``), else OpenInference's span
    kind mapped onto ours, else from the GenAI operation, else ``llm`` when a model is named,
    else ``other``."""
    operation = attribute(sc.GEN_AI_OPERATION_NAME)
    oi_from = _strings(sc.OPENINFERENCE_KINDS)
    oi_to = (
        "["
        + ", ".join(sql_string(sc.OPENINFERENCE_KINDS[k]) for k in sorted(sc.OPENINFERENCE_KINDS))
        + "]"
    )
    oi_kind = attribute(sc.OI_SPAN_KIND)
    named = " OR ".join(f"{attribute(k)} IS NOT NULL" for k in MODEL_KEYS)
    return (
        f"multiIf({attribute(sc.LLMOBS_KIND)} IS NOT NULL, {attribute(sc.LLMOBS_KIND)}, "
        f"{oi_kind} IS NOT NULL, transform(upper({oi_kind}), {oi_from}, {oi_to}, 'other'), "
        f"{operation} IN {_strings(sc.EMBEDDING_OPERATIONS)}, 'embedding', "
        f"{operation} IN {_strings(sc.LLM_OPERATIONS)}, 'llm', "
        f"{operation} IN {_strings(sc.TOOL_OPERATIONS)}, 'tool', "
        f"{operation} IN {_strings(sc.AGENT_OPERATIONS)}, 'agent', "
        f"{operation} IN {_strings(sc.WORKFLOW_OPERATIONS)}, 'chain', "
        f"{named}, 'llm', 'other')"
    )


MATERIALIZED: dict[str, str] = {
    "kind": "LowCardinality(String)",
    "model": "LowCardinality(Nullable(String))",
    "response_model": "LowCardinality(Nullable(String))",
    "provider": "LowCardinality(Nullable(String))",
    "operation": "LowCardinality(Nullable(String))",
    "use_case": "LowCardinality(Nullable(String))",
    "user_id": "Nullable(String)",
    "run": "LowCardinality(Nullable(String))",
    "error_type": "LowCardinality(Nullable(String))",
    "ttft_s": "Nullable(Float64)",
    "input_tokens": "Nullable(Int64)",
    "output_tokens": "Nullable(Int64)",
    "cached_input_tokens": "Nullable(Int64)",
    "cache_write_tokens": "Nullable(Int64)",
    "reasoning_tokens": "Nullable(Int64)",
    "session_id": "Nullable(String)",
    "agent_name": "LowCardinality(Nullable(String))",
}
"""The mapped columns worth keeping as ``MATERIALIZED`` columns of the table (their type):
every query reads them through the attribute maps otherwise (:func:`materialize_sql`)."""


def materialized_name(column: str) -> str:
    """The table column that keeps mapped ``column`` (:data:`MATERIALIZED`).

    Example:
        >>> materialized_name("kind")
        'llmobs_kind'
    """
    return f"llmobs_{column}"


def materialize_sql(table: str, database: str | None = None) -> list[str]:
    """``ALTER TABLE`` statements adding the :data:`MATERIALIZED` columns to an
    ``otel_traces``-shaped table (computed by ClickHouse at insert from the same expressions
    the engine reads; the collector's inserts name their columns, so they are unaffected),
    then filling them for the rows already there. An open source uses them once present.

    Example:
        >>> materialize_sql("otel_traces")[0].startswith("ALTER TABLE `otel_traces` ADD COLUMN")
        True
    """
    target = _table(table, database)
    expressions = column_expressions()
    add = ", ".join(
        f"ADD COLUMN IF NOT EXISTS {materialized_name(c)} {kind} MATERIALIZED {expressions[c]}"
        for c, kind in MATERIALIZED.items()
    )
    fill = ", ".join(f"MATERIALIZE COLUMN {materialized_name(c)}" for c in MATERIALIZED)
    fill_sync = f"ALTER TABLE {target} {fill} SETTINGS mutations_sync = 2"
    return [f"ALTER TABLE {target} {add}", fill_sync]


def column_expressions(materialized: Collection[str] = ()) -> dict[str, str]:
    """Column of the store's ``spans`` (those this mapping reads) → its expression over one
    ``otel_traces`` row; the columns in ``materialized`` read their table column instead.

    Example:
        >>> column_expressions()["latency_s"]
        'Duration / 1e9'
        >>> column_expressions(["kind"])["kind"]
        'llmobs_kind'
    """
    failed = f"StatusCode = {sql_string(STATUS_ERROR)}"
    exception = _event_index("exception")
    exception_type = f"nullIf(Events.Attributes[{exception}]['exception.type'], '')"
    first_token = _event_index(sc.OI_FIRST_TOKEN_EVENT)
    ttft_event = (
        f"if({first_token} > 0, (toUnixTimestamp64Nano(Events.Timestamp[{first_token}]) "
        "- toUnixTimestamp64Nano(Timestamp)) / 1e9, NULL)"
    )
    model = first_of(MODEL_KEYS)
    response_model = first_of(RESPONSE_MODEL_KEYS)
    found = {
        "trace_id": "TraceId",
        "span_id": "SpanId",
        "parent_span_id": "nullIf(ParentSpanId, '')",
        "name": "SpanName",
        "kind": kind_expression(),
        "start_time": "toDateTime64(Timestamp, 6, 'UTC')",
        "end_time": "toDateTime64(addNanoseconds(Timestamp, Duration), 6, 'UTC')",
        "latency_s": "Duration / 1e9",
        "ttft_s": (
            f"coalesce(toFloat64OrNull({attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)}), "
            f"{ttft_event})"
        ),
        "provider": first_of(PROVIDER_KEYS),
        "model": f"coalesce({model}, {response_model})",
        "response_model": response_model,
        "operation": attribute(sc.GEN_AI_OPERATION_NAME),
        "use_case": attribute(sc.LLMOBS_USE_CASE),
        "user_id": first_of(USER_KEYS),
        "run": attribute(sc.LLMOBS_RUN),
        "project": (
            f"coalesce({attribute(sc.LLMOBS_PROJECT)}, "
            f"{attribute(OI_PROJECT, 'ResourceAttributes')}, nullIf(ServiceName, ''))"
        ),
        "status": f"if({failed}, 'error', 'ok')",
        "error_type": f"if({failed}, coalesce({attribute(sc.ERROR_TYPE)}, {exception_type}), NULL)",
        "error_message": f"if({failed}, nullIf(StatusMessage, ''), NULL)",
        "input_tokens": _tokens(INPUT_KEYS),
        "output_tokens": _tokens(OUTPUT_KEYS),
        "cached_input_tokens": _tokens(CACHED_KEYS),
        "cache_write_tokens": _tokens(WRITTEN_KEYS),
        "reasoning_tokens": _tokens(REASONING_KEYS),
        "attributes": "toJSONString(SpanAttributes)",
        "input_text": first_of(INPUT_TEXT_KEYS),
        "output_text": first_of(OUTPUT_TEXT_KEYS),
        "session_id": first_of(SESSION_KEYS),
        "agent_name": first_of(AGENT_KEYS),
        "tool_name": first_of(TOOL_KEYS),
    }
    return {c: materialized_name(c) if c in materialized else e for c, e in found.items()}


def spans_select(
    table: str, database: str | None = None, materialized: Collection[str] = ()
) -> str:
    """``SELECT`` of every span of ``table`` (an ``otel_traces``-shaped table) in the store's
    ``spans`` columns this mapping reads.

    Example:
        >>> spans_select("otel_traces").endswith("FROM `otel_traces`")
        True
    """
    found = column_expressions(materialized).items()
    columns = ", ".join(f"{expr} AS {name}" for name, expr in found)
    return f"SELECT {columns} FROM {_table(table, database)}"


def _table(table: str, database: str | None) -> str:
    name = quote_identifier(table)
    return f"{quote_identifier(database)}.{name}" if database else name


def cost_expression(call: str = "c", price: str = "p") -> str:
    """:meth:`llmobs_nb.pricing.Price.cost` over a call's tokens and its price row: NULL
    without a price (or without tokens), NULL at or above a tiered price's first threshold
    (the rates there are genai-prices' to compute), else the sum per kind of token, rounded
    to 12 decimals as the price book rounds.

    Example:
        >>> cost_expression().startswith("if(")
        True
    """
    c, p = call, price
    inp, out = f"{c}.input_tokens", f"{c}.output_tokens"
    cached, written = f"ifNull({c}.cached_input_tokens, 0)", f"ifNull({c}.cache_write_tokens, 0)"
    reasoning = f"ifNull({c}.reasoning_tokens, 0)"
    total = (
        f"(ifNull({inp}, 0) - {cached} - {written}) * {p}.input_mtok"
        f" + {cached} * {p}.cached_input_mtok + {written} * {p}.cache_write_mtok"
        f" + (ifNull({out}, 0) - {reasoning}) * {p}.output_mtok"
        f" + {reasoning} * {p}.reasoning_mtok"
    )
    unknown = (
        f"{p}.input_mtok IS NULL OR ({inp} IS NULL AND {out} IS NULL) "
        f"OR ({p}.tier_start IS NOT NULL AND ifNull({inp}, 0) >= {p}.tier_start)"
    )
    return f"if({unknown}, NULL, round(({total}) / 1000000, 12))"


def llm_calls_select(
    table: str, database: str | None = None, materialized: Collection[str] = ()
) -> str:
    """``SELECT`` of the model calls of ``table`` in the ``llm_calls`` columns (their order),
    each priced from ``llmobs_prices`` for its model, provider and day.

    Example:
        >>> "llmobs_prices" in llm_calls_select("otel_traces")
        True
    """
    rule = is_model_call.sql("kind", "model")
    columns = ", ".join(
        f"{cost_expression()} AS cost_usd" if n == "cost_usd" else f"c.{n} AS {n}"
        for n in LLM_CALLS.names
    )
    return (
        f"SELECT {columns} FROM ({spans_select(table, database, materialized)} WHERE {rule}) "
        "AS c "
        f"LEFT JOIN {PRICES_TABLE} AS p ON p.model = c.model "
        "AND p.provider = ifNull(c.provider, '') AND p.day = toDate(c.start_time)"
    )


def priced_spans_select(
    table: str, database: str | None = None, materialized: Collection[str] = ()
) -> str:
    """``SELECT`` of every span of ``table`` in the store's ``spans`` columns this mapping
    reads, plus ``cost_usd``: a model call's (:func:`cost_expression`, priced as in
    :func:`llm_calls_select`), NULL for any other span (the store prices model calls only).

    Example:
        >>> priced_spans_select("otel_traces").count("llmobs_prices")
        1
    """
    names = list(column_expressions())
    rule = is_model_call.sql("c.kind", "c.model")
    columns = ", ".join(f"c.{n} AS {n}" for n in names)
    return (
        f"SELECT {columns}, if({rule}, {cost_expression()}, NULL) AS cost_usd "
        f"FROM ({spans_select(table, database, materialized)}) AS c "
        f"LEFT JOIN {PRICES_TABLE} AS p ON p.model = c.model "
        "AND p.provider = ifNull(c.provider, '') AND p.day = toDate(c.start_time)"
    )


def scores_select(table: str | None, database: str | None = None) -> str:
    """``SELECT`` of the scores in ``table`` (an ``otel_logs``-shaped table): its
    ``gen_ai.evaluation.result`` events (``EventName``, or an ``event.name`` attribute), in
    the store's ``scores`` columns; no table: no scores (an empty relation of those columns).

    Example:
        >>> "WHERE 0" in scores_select(None)
        True
    """
    if table is None:
        typed = {
            "trace_id": "Nullable(String)",
            "span_id": "Nullable(String)",
            "name": "String",
            "value": "Nullable(Float64)",
            "source": "Nullable(String)",
            "comment": "Nullable(String)",
            "created_at": "Nullable(DateTime64(6, 'UTC'))",
            "label": "Nullable(String)",
        }
        columns = ", ".join(f"CAST(NULL AS {typed[n]}) AS {n}" for n in SCORES.names)
        return f"SELECT {columns} FROM system.one WHERE 0"
    log = "LogAttributes"
    event = sql_string(sc.GEN_AI_EVALUATION_RESULT)
    expressions = {
        "trace_id": "nullIf(TraceId, '')",
        "span_id": "nullIf(SpanId, '')",
        "name": f"{log}[{sql_string(sc.GEN_AI_EVALUATION_NAME)}]",
        "value": f"toFloat64OrNull({attribute(sc.GEN_AI_EVALUATION_SCORE_VALUE, log)})",
        "source": attribute(LLMOBS_SCORE_SOURCE, log),
        "comment": attribute(sc.GEN_AI_EVALUATION_EXPLANATION, log),
        "created_at": "toDateTime64(Timestamp, 6, 'UTC')",
        "label": attribute(sc.GEN_AI_EVALUATION_SCORE_LABEL, log),
    }
    columns = ", ".join(f"{expressions[n]} AS {n}" for n in SCORES.names)
    return (
        f"SELECT {columns} FROM {_table(table, database)} "
        f"WHERE EventName = {event} OR {log}[{sql_string(sc.EVENT_NAME)}] = {event}"
    )


def relations(
    traces: str,
    logs: str | None = None,
    database: str | None = None,
    materialized: Collection[str] = (),
) -> dict[str, str]:
    """The relations every query of the engine may name, as ``WITH`` definitions: ``spans``
    (priced: :func:`priced_spans_select`), ``llm_calls`` and ``scores``.

    Example:
        >>> sorted(relations("otel_traces"))
        ['llm_calls', 'scores', 'spans']
    """
    return {
        "spans": priced_spans_select(traces, database, materialized),
        "llm_calls": llm_calls_select(traces, database, materialized),
        "scores": scores_select(logs, database),
    }
