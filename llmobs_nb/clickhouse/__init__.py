"""ClickHouse, where production traces live: the same analytics and dashboard, computed there.

``llmobs_nb.open("clickhouse://host:port/db?table=otel_traces")`` (a server, through
``clickhouse-connect``) or ``llmobs_nb.open("chdb:///path?table=otel_traces")`` (chdb, the
ClickHouse engine in this process) returns a :class:`ClickHouseSource`: pass it to the
analytics functions and to ``view.Dashboard``. The table is the OpenTelemetry collector
exporter's ``otel_traces`` (:mod:`otel_schema`), read as the store's ``llm_calls`` by
:mod:`mapping` (GenAI and OpenInference attributes, cost from the price book), queried by the
plan layer's ClickHouse renderer (:mod:`render`, :mod:`engine`). ``export.clickhouse`` writes
a store into such a table; ``export.clickhouse_rollups`` gives hourly rollup views' DDL;
:func:`materialize_sql` the ``ALTER TABLE`` that keeps the mapped columns (model, kind,
tokens…) as materialized columns, which the engine then reads instead of the attribute maps.

Needs the ``clickhouse`` extra (``pip install 'llmobs_nb[clickhouse]'``: chdb,
clickhouse-connect).

Example:
    >>> source = connect("chdb://?table=otel_traces")
    >>> source.target.table
    'otel_traces'
"""

from llmobs_nb.clickhouse.connect import ClickHouseError, ClickHouseSource, connect
from llmobs_nb.clickhouse.engine import ClickHouseEngine
from llmobs_nb.clickhouse.mapping import materialize_sql
from llmobs_nb.clickhouse.render import ClickHouseRenderer

__all__ = [
    "ClickHouseEngine",
    "ClickHouseError",
    "ClickHouseRenderer",
    "ClickHouseSource",
    "connect",
    "materialize_sql",
]
