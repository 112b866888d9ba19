"""History as day-partitioned (hive-style) Parquet that DuckDB, polars, Spark or ClickHouse read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from llmobs_nb.store import Store

_BATCH_ROWS = 100_000
TABLES = {
    "llm_calls": "start_time",
    "spans": "start_time",
    "scores": "created_at",
}


def _store_of(source: Any) -> Store:
    store = getattr(source, "store", None)
    if isinstance(store, Store):
        flush = getattr(source, "flush", None)
        if callable(flush):
            flush()
        return store
    if isinstance(source, Store):
        return source
    if isinstance(source, str | Path):
        return Store(source, read_only=True)
    raise TypeError(
        f"parquet() reads an Observer, a Store or a DuckDB file path, got {type(source).__name__}"
    )


def parquet(source: Any, path: str | Path, *, tables: tuple[str, ...] = tuple(TABLES)) -> Path:
    """Write the store as ``<path>/<table>/day=YYYY-MM-DD/*.parquet``; returns ``path``.

    Tables: ``llm_calls`` (the analytics contract), ``spans`` and ``scores``. Existing files of
    the same days are replaced, so a nightly export can be re-run. Every analytics function
    reads the result unchanged: ``analytics.latency_percentiles("out/llm_calls/**/*.parquet")``.

    Example:
        >>> export.parquet(obs, "history/")                       # doctest: +SKIP
        >>> pl.scan_parquet("history/llm_calls/**/*.parquet")      # doctest: +SKIP
    """
    store = _store_of(source)
    out = Path(path).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    for table in tables:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}: choose from {sorted(TABLES)}")
    for table in tables:
        # Rows come out through Arrow and pyarrow writes the files: the store's database
        # instance has no access to files outside the store (no COPY ... TO).
        # The SQL is this module's own; it streams in batches, never the whole table at once.
        sql = f"SELECT *, strftime({TABLES[table]}, '%Y-%m-%d') AS day FROM {table}"
        with store._reading() as con:
            ds.write_dataset(
                con.sql(sql).to_arrow_reader(_BATCH_ROWS),
                out / table,
                format="parquet",
                partitioning=["day"],
                partitioning_flavor="hive",
                basename_template="part_{i}.parquet",
                existing_data_behavior="delete_matching",
            )
    return out
