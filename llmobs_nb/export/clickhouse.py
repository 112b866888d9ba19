"""A project's spans and scores into ClickHouse, as the OpenTelemetry collector stores them.

:func:`clickhouse` writes a store's ``spans`` into an ``otel_traces``-compatible table and its
``scores`` into an ``otel_logs``-compatible one (created when missing, with the collector
exporter's DDL: :mod:`llmobs_nb.clickhouse.otel_schema`), row by row as the collector would
have stored this package's OTLP export (:mod:`llmobs_nb.clickhouse.otel_rows`). A team can so
centralise its notebooks' stores where production traces already are, and read them back with
``llmobs_nb.open("clickhouse://…")``: the same analytics answers (cost is recomputed there
from the price book, by the same rule).

:func:`clickhouse_rollups` returns the DDL of the materialized view that keeps the store's
``rollup_calls`` counts and sums in ClickHouse (:mod:`llmobs_nb.clickhouse.rollups`).

Example:
    >>> export.clickhouse("experiments.duckdb", "chdb:///data/ch")   # doctest: +SKIP
    ExportedSpans(spans=62538, scores=23864, table='otel_traces', logs='otel_logs')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from llmobs_nb.clickhouse.connect import ClickHouseError, ClickHouseSource, _Chdb, _scrub
from llmobs_nb.clickhouse.mapping import materialize_sql
from llmobs_nb.clickhouse.otel_rows import otel_logs_rows, otel_traces_rows
from llmobs_nb.clickhouse.otel_schema import OTEL_LOGS, OTEL_TRACES, create_sql, quote_identifier
from llmobs_nb.clickhouse.rollups import clickhouse_rollups
from llmobs_nb.store.connect import connect as connect_store
from llmobs_nb.store.schema import SCORES, SPANS

BATCH_ROWS = 100_000
"""Spans converted and inserted per batch (memory stays bounded for any store size)."""

__all__ = ["BATCH_ROWS", "ExportedSpans", "clickhouse", "clickhouse_rollups"]


@dataclass(frozen=True)
class ExportedSpans:
    """What :func:`clickhouse` wrote: rows and the tables they went to."""

    spans: int
    scores: int
    table: str
    logs: str


def _batches(source: Any, table: str, names: tuple[str, ...]) -> Iterator[pa.Table]:
    columns = ", ".join(names)
    if isinstance(source, str | os.PathLike):
        con = connect_store(str(Path(source).expanduser().resolve()), read_only=True)
        try:
            reader = con.sql(f"SELECT {columns} FROM {table}").to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                yield pa.Table.from_batches([batch])
        finally:
            con.close()
        return
    frame = source.sql(f"SELECT {columns} FROM {table}")
    arrow = frame.to_arrow()
    for start in range(0, arrow.num_rows, BATCH_ROWS):
        yield arrow.slice(start, BATCH_ROWS)


class _Writer:
    """Inserts Arrow tables into one ClickHouse (a chdb session or a server)."""

    def __init__(self, source: ClickHouseSource) -> None:
        self.source = source
        target = source.target
        if target.scheme == "chdb":
            self.session = _Chdb.open(target.path)
            self.client = None
            return
        import clickhouse_connect

        self.session = None
        try:
            self.client = clickhouse_connect.get_client(
                host=target.host,
                port=target.port,
                username=source._user or "default",
                password=source._password or "",
                # Not the URL's database: it may not exist yet (created below, before the
                # tables); every statement and insert names it.
                database="",
                secure=target.secure,
            )
        except Exception as exc:
            text = _scrub(f"{type(exc).__name__}: {exc}", source._secrets())
            raise ClickHouseError(f"cannot connect to {target.url}: {text}") from None

    def command(self, sql: str) -> None:
        if self.session is not None:
            with _Chdb.lock:
                self.session.query(sql)
        else:
            self.client.command(sql)

    def insert(self, table: str, rows: pa.Table) -> None:
        database = self.source.target.database
        if self.session is None:
            self.client.insert_arrow(table, rows, database=database)
            return
        name = quote_identifier(table)
        if database:
            name = f"{quote_identifier(database)}.{name}"
        columns = ", ".join(quote_identifier(c) for c in rows.column_names)
        with tempfile.TemporaryDirectory(prefix="llmobs-export-") as folder:
            path = str(Path(folder) / "rows.arrow")
            with ipc.new_file(path, rows.schema) as writer:
                writer.write_table(rows)
            with _Chdb.lock:
                self.session.query(
                    f"INSERT INTO {name} ({columns}) SELECT {columns} FROM "
                    f"file({{path:String}}, 'Arrow')",
                    params={"path": path.replace("\\", "\\\\")},
                )


def clickhouse(
    store: Any,
    url: str,
    *,
    table: str | None = None,
    logs: str | None = None,
    create: bool = True,
    materialize: bool = True,
    project: str | None = None,
) -> ExportedSpans:
    """Write ``store``'s spans and scores (a store file path, or an observer) into the
    ClickHouse at ``url`` (``clickhouse://…`` or ``chdb://…``, as ``llmobs_nb.open`` takes):
    spans into ``table`` (default: the URL's ``table``, else ``otel_traces``), scores into
    ``logs`` (default: the URL's ``logs``, else ``otel_logs``), both created when missing
    (``create``). With ``materialize``, the spans table gets the mapping's materialized
    columns (``clickhouse.mapping.materialize_sql``: model, kind, tokens… computed once, at
    insert, instead of from the attribute maps by every query). Rows are appended: exporting
    the same store twice stores its spans twice.

    Example:
        >>> clickhouse("experiments.duckdb", "chdb:///tmp/ch?table=otel_traces")  # doctest: +SKIP
        ExportedSpans(spans=1200, scores=300, table='otel_traces', logs='otel_logs')
    """
    source = ClickHouseSource.parse(url)
    spans_table = table or source.target.table
    logs_table = logs or source.target.logs or OTEL_LOGS.default_name
    writer = _Writer(source)
    database = source.target.database
    if create:
        if database:
            writer.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
        writer.command(create_sql(OTEL_TRACES, spans_table, database))
        writer.command(create_sql(OTEL_LOGS, logs_table, database))
    if materialize:
        for statement in materialize_sql(spans_table, database):
            writer.command(statement)
    spans = scores = 0
    for batch in _batches(store, "spans", SPANS.names):
        writer.insert(spans_table, otel_traces_rows(batch, project=project))
        spans += batch.num_rows
    for batch in _batches(store, "scores", SCORES.names):
        writer.insert(logs_table, otel_logs_rows(batch, project=project))
        scores += batch.num_rows
    return ExportedSpans(spans, scores, spans_table, logs_table)
