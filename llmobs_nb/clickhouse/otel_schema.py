"""The OpenTelemetry collector's ClickHouse exporter tables, written once as data.

``otel_traces`` and ``otel_logs`` as the collector-contrib ``clickhouseexporter`` creates them
(``internal/sqltemplates/traces_table.sql`` and ``logs_table.sql``): the columns in order with
their ClickHouse types, and the table settings. :func:`create_sql` writes the DDL for a table
name of your choice (the tests' chdb tables and ``export.clickhouse`` use it), so this package
reads exactly what the collector writes: Langfuse, SigNoz, OpenLIT and a plain collector store
spans in this shape.

Times are ``DateTime64(9)`` (ns), ``Duration`` is ns, ids are lowercase hex text (``''`` when
absent), ``StatusCode`` is ``Unset``/``Ok``/``Error`` and ``SpanKind`` ``Internal``/``Client``/…
(the exporter's ``traceutil`` spellings), every attribute value is text (``AsString``).

Example:
    >>> OTEL_TRACES.names[:3]
    ('Timestamp', 'TraceId', 'SpanId')
    >>> create_sql(OTEL_TRACES, "spans").startswith("CREATE TABLE IF NOT EXISTS `spans`")
    True
"""

from __future__ import annotations

from dataclasses import dataclass

ATTRIBUTES = "Map(LowCardinality(String), String)"
"""The type of every attribute map (resource, scope, span, event, link, log)."""

STATUS_ERROR = "Error"
"""``StatusCode`` of a failed span (``traceutil.StatusCodeStr``: ``Unset``, ``Ok``, ``Error``)."""
STATUS_OK = "Ok"
STATUS_UNSET = "Unset"
SPAN_KIND_CLIENT = "Client"
SPAN_KIND_INTERNAL = "Internal"


@dataclass(frozen=True)
class OtelTable:
    """One exporter table: ``columns`` as (name, ClickHouse type), ``indexes`` and the
    ``engine`` clause after them (partitioning, order, settings).

    Example:
        >>> dict(OTEL_TRACES.columns)["Duration"]
        'UInt64 CODEC(ZSTD(1))'
    """

    default_name: str
    columns: tuple[tuple[str, str], ...]
    indexes: tuple[str, ...]
    engine: str

    @property
    def names(self) -> tuple[str, ...]:
        """The column names in order."""
        return tuple(name for name, _ in self.columns)


def quote_identifier(name: str) -> str:
    """A ClickHouse identifier in back quotes (back quotes and backslashes escaped), for
    table and database names given by the user.

    Example:
        >>> quote_identifier("otel`traces")
        '`otel\\\\`traces`'
    """
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


OTEL_TRACES = OtelTable(
    "otel_traces",
    (
        ("Timestamp", "DateTime64(9) CODEC(Delta, ZSTD(1))"),
        ("TraceId", "String CODEC(ZSTD(1))"),
        ("SpanId", "String CODEC(ZSTD(1))"),
        ("ParentSpanId", "String CODEC(ZSTD(1))"),
        ("TraceState", "String CODEC(ZSTD(1))"),
        ("SpanName", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("SpanKind", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("ServiceName", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("ResourceAttributes", f"{ATTRIBUTES} CODEC(ZSTD(1))"),
        ("ScopeName", "String CODEC(ZSTD(1))"),
        ("ScopeVersion", "String CODEC(ZSTD(1))"),
        ("SpanAttributes", f"{ATTRIBUTES} CODEC(ZSTD(1))"),
        ("Duration", "UInt64 CODEC(ZSTD(1))"),
        ("StatusCode", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("StatusMessage", "String CODEC(ZSTD(1))"),
        (
            "Events",
            "Nested (Timestamp DateTime64(9), Name LowCardinality(String), "
            f"Attributes {ATTRIBUTES}) CODEC(ZSTD(1))",
        ),
        (
            "Links",
            "Nested (TraceId String, SpanId String, TraceState String, "
            f"Attributes {ATTRIBUTES}) CODEC(ZSTD(1))",
        ),
    ),
    (
        "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1",
        "INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
        "INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) "
        "GRANULARITY 1",
        "INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
        "INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
        "INDEX idx_duration Duration TYPE minmax GRANULARITY 1",
    ),
    "ENGINE = MergeTree PARTITION BY toDate(Timestamp) "
    "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp)) "
    "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
)
"""``otel_traces``: one row per span (collector-contrib ``traces_table.sql``)."""

OTEL_LOGS = OtelTable(
    "otel_logs",
    (
        ("Timestamp", "DateTime64(9) CODEC(Delta(8), ZSTD(1))"),
        ("TimestampTime", "DateTime DEFAULT toDateTime(Timestamp)"),
        ("TraceId", "String CODEC(ZSTD(1))"),
        ("SpanId", "String CODEC(ZSTD(1))"),
        ("TraceFlags", "UInt8"),
        ("SeverityText", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("SeverityNumber", "UInt8"),
        ("ServiceName", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("Body", "String CODEC(ZSTD(1))"),
        ("ResourceSchemaUrl", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("ResourceAttributes", f"{ATTRIBUTES} CODEC(ZSTD(1))"),
        ("ScopeSchemaUrl", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("ScopeName", "String CODEC(ZSTD(1))"),
        ("ScopeVersion", "LowCardinality(String) CODEC(ZSTD(1))"),
        ("ScopeAttributes", f"{ATTRIBUTES} CODEC(ZSTD(1))"),
        ("LogAttributes", f"{ATTRIBUTES} CODEC(ZSTD(1))"),
        ("EventName", "String CODEC(ZSTD(1))"),
    ),
    (
        "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1",
        "INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1",
    ),
    "ENGINE = MergeTree PARTITION BY toDate(TimestampTime) "
    "PRIMARY KEY (ServiceName, TimestampTime) ORDER BY (ServiceName, TimestampTime, Timestamp) "
    "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1",
)
"""``otel_logs``: one row per log record (collector-contrib ``logs_table.sql``); scores travel
as ``gen_ai.evaluation.result`` events (``EventName``) with their trace and span ids."""


def create_sql(table: OtelTable, name: str | None = None, database: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` named ``name`` (default: the exporter's),
    in ``database`` when given.

    Example:
        >>> "Duration UInt64" in create_sql(OTEL_TRACES)
        True
    """
    target = quote_identifier(name or table.default_name)
    if database:
        target = f"{quote_identifier(database)}.{target}"
    body = ",\n    ".join([*(f"{n} {t}" for n, t in table.columns), *table.indexes])
    return f"CREATE TABLE IF NOT EXISTS {target} (\n    {body}\n) {table.engine}"
