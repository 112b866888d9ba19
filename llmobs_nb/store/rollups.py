"""Rollups kept at write time: per hour × the low-cardinality labels of the model calls,
counts, sums and latency/TTFT sketches — what a dashboard reads instead of every call.

Two tables (``m007_rollups``), both derived from ``spans`` and rebuilt from it by
:func:`rebuild` (``llmobs_nb.rebuild_rollups(path)``):

- ``rollup_calls``: one row per (``bucket``, :data:`LABELS`) and append: ``calls``,
  ``first_start``/``last_start``, for each of :data:`SUMMED` its count of non-NULL values
  (``<column>_n``) and their sum (``<column>_sum``), and the tokens of unpriced calls
  (``unpriced_input_tokens``, ``unpriced_output_tokens``; what ``cost_breakdown`` reports).
- ``rollup_sketches``: per (``bucket``, labels, ``measure``, ``bin``) the number of values of
  ``measure`` (``latency_s``, ``ttft_s``) in that bin of the sketch (:mod:`sketch`).

Rows are additive: every flush appends its batch's rows in the transaction that stores the
batch (:func:`append`), and readers always ``GROUP BY``, so several rows for one bucket and
label set are merely unmerged. :func:`compact` merges the buckets appended to since the last
compaction (the writer calls it every :data:`COMPACT_AFTER` appends), keeping the tables at
about one row per bucket, label set (and bin). ``rollup_state`` says whether the rollups
hold every stored call: a batch whose rollup rows could not be written is stored without
them and the rollups are marked stale (``stale_since``, ``reason``) until :func:`rebuild`;
readers of a stale store answer exactly instead.

Example:
    >>> from llmobs_nb.store.store import Store
    >>> store = Store(":memory:")
    >>> store.query("select count(*) as n from rollup_calls")["n"][0]
    0
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from llmobs_nb.store.model_call import is_model_call
from llmobs_nb.store.schema import (
    ROLLUP_CALLS,
    ROLLUP_LABELS,
    ROLLUP_SKETCHES,
    ROLLUP_STATE,
    ROLLUP_SUMMED,
    ROLLUP_UNPRICED,
    create_sql,
)
from llmobs_nb.store.sketch import bin_sql

GRAIN = "hour"
"""The rollups' time bucket: ``date_trunc('hour', start_time)`` in UTC (epoch-aligned)."""
GRAIN_US = 3_600_000_000
LABELS = ROLLUP_LABELS
SUMMED = ROLLUP_SUMMED
UNPRICED = ROLLUP_UNPRICED
MEASURES: tuple[str, ...] = ("latency_s", "ttft_s")
"""The columns with a sketch (quantiles)."""
COMPACT_AFTER = 64
"""Appends between two compactions of the touched buckets."""

_CALL_COLUMNS = ("start_time", *LABELS, *SUMMED)


def stats_select(source: str, where: str = "TRUE", *, compacted: bool = False) -> str:
    """The ``rollup_calls`` rows of the model calls in ``source`` (any relation with the
    ``spans`` columns) that pass ``where``: the one definition of a rollup row, used by the
    flush, the rebuild and the readers (for the calls of partly covered hours).

    Example:
        >>> "count(*) AS calls" in stats_select("spans")
        True
    """
    sums = ", ".join(f"count({c}) AS {c}_n, sum({c}) AS {c}_sum" for c in SUMMED)
    unpriced = ", ".join(
        f"sum({c}) FILTER (WHERE cost_usd IS NULL) AS unpriced_{c}" for c in UNPRICED
    )
    return (
        f"SELECT date_trunc('{GRAIN}', start_time) AS bucket, {', '.join(LABELS)}, "
        f"count(*) AS calls, min(start_time) AS first_start, max(start_time) AS last_start, "
        f"{sums}, {unpriced}, {compacted} AS compacted "
        f"FROM {source} WHERE ({is_model_call.sql()}) AND ({where}) GROUP BY ALL"
    )


def sketch_select(source: str, where: str = "TRUE", *, compacted: bool = False) -> str:
    """The ``rollup_sketches`` rows of the model calls in ``source`` that pass ``where``.

    Example:
        >>> "measure" in sketch_select("spans")
        True
    """
    measures = ", ".join(f"'{m}'" for m in MEASURES)
    bins = ", ".join(bin_sql(m) for m in MEASURES)
    each = (  # one row per call and measure: unnest zips the two lists
        f"SELECT start_time, {', '.join(LABELS)}, unnest([{measures}]) AS measure, "
        f"unnest([{bins}]) AS bin FROM {source} WHERE ({is_model_call.sql()}) AND ({where})"
    )
    return (
        f"SELECT date_trunc('{GRAIN}', start_time) AS bucket, {', '.join(LABELS)}, measure, "
        f"bin, count(*) AS n, {compacted} AS compacted FROM ({each}) WHERE bin IS NOT NULL "
        f"GROUP BY ALL"
    )


def _calls_of(relation: str, columns: Sequence[str]) -> str:
    """``relation`` with every column the rollups read (a batch may lack some: NULL)."""
    have = set(columns)
    picked = [c if c in have else f"NULL AS {c}" for c in _CALL_COLUMNS]
    return f"(SELECT {', '.join(picked)} FROM {relation})"


def append(con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str]) -> None:
    """Add the rollup rows of a batch of span rows (``relation``, with ``columns``), inside
    the caller's transaction (the one that stores the batch).

    Example:
        >>> con = duckdb.connect()
        >>> _ = con.execute("CREATE TABLE batch AS SELECT 'llm' AS kind, 1.5 AS latency_s, "
        ...                 "TIMESTAMPTZ '2026-01-01 10:20:00+00' AS start_time")
        >>> create(con); append(con, "batch", ["kind", "latency_s", "start_time"])
        >>> con.sql("select calls, latency_s_sum from rollup_calls").fetchall()
        [(1, 1.5)]
    """
    source = _calls_of(relation, columns)
    con.execute(f"INSERT INTO rollup_calls BY NAME {stats_select(source)}")
    con.execute(f"INSERT INTO rollup_sketches BY NAME {sketch_select(source)}")


def _merged_calls() -> str:
    sums = ", ".join(f"sum({c}_n) AS {c}_n, sum({c}_sum) AS {c}_sum" for c in SUMMED)
    unpriced = ", ".join(f"sum(unpriced_{c}) AS unpriced_{c}" for c in UNPRICED)
    return (
        f"SELECT bucket, {', '.join(LABELS)}, sum(calls) AS calls, "
        f"min(first_start) AS first_start, max(last_start) AS last_start, {sums}, {unpriced}, "
        f"TRUE AS compacted FROM rollup_calls WHERE bucket >= ? AND bucket IN "
        f"(SELECT bucket FROM _touched) GROUP BY ALL"
    )


def compact(con: duckdb.DuckDBPyConnection) -> int:
    """Merge the rows of every bucket appended to since the last compaction into one row per
    label set (and bin); returns the number of buckets merged. Runs in its own transaction.

    Example:
        >>> con = duckdb.connect(); create(con)
        >>> compact(con)
        0
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _touched AS "
            "SELECT DISTINCT bucket FROM rollup_calls WHERE NOT compacted UNION "
            "SELECT DISTINCT bucket FROM rollup_sketches WHERE NOT compacted"
        )
        found = con.execute("SELECT count(*), min(bucket) FROM _touched").fetchone()
        touched, first = found or (0, None)
        if touched:
            sketches = (
                f"SELECT bucket, {', '.join(LABELS)}, measure, bin, sum(n) AS n, "
                f"TRUE AS compacted FROM rollup_sketches WHERE bucket >= ? AND bucket IN "
                f"(SELECT bucket FROM _touched) GROUP BY ALL"
            )
            for table, merged in (("rollup_calls", _merged_calls()), ("rollup_sketches", sketches)):
                con.execute(f"CREATE OR REPLACE TEMP TABLE _merged AS {merged}", [first])
                con.execute(
                    f"DELETE FROM {table} WHERE bucket >= ? AND bucket IN "
                    f"(SELECT bucket FROM _touched)",
                    [first],
                )
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _merged")
            con.execute("DROP TABLE _merged")
        con.execute("DROP TABLE _touched")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(touched)


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the rollup tables (what ``m007_rollups`` runs; empty, not stale).

    Changing their columns means a new migration that drops, creates and rebuilds them.
    """
    for table in (ROLLUP_CALLS, ROLLUP_SKETCHES, ROLLUP_STATE):
        con.execute(create_sql(table))
    con.execute("INSERT INTO rollup_state VALUES (NULL, NULL, now())")


def rebuild(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild both rollup tables from ``spans`` in one transaction and mark them current;
    returns the number of model calls rolled up.

    Example:
        >>> from llmobs_nb.store.store import Store
        >>> store = Store(":memory:")
        >>> with store._connection() as con:
        ...     rebuild(con)
        0
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM rollup_calls")
        con.execute("DELETE FROM rollup_sketches")
        con.execute(f"INSERT INTO rollup_calls BY NAME {stats_select('spans', compacted=True)}")
        con.execute(f"INSERT INTO rollup_sketches BY NAME {sketch_select('spans', compacted=True)}")
        con.execute("UPDATE rollup_state SET stale_since = NULL, reason = NULL, built_at = now()")
        found = con.execute("SELECT coalesce(sum(calls), 0) FROM rollup_calls").fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(found[0]) if found else 0


def mark_stale(con: duckdb.DuckDBPyConnection, reason: str) -> None:
    """Record that some stored calls are not in the rollups (kept until :func:`rebuild`).

    Example:
        >>> con = duckdb.connect(); create(con); mark_stale(con, "disk full")
        >>> con.sql("select reason from rollup_state").fetchall()
        [('disk full',)]
    """
    con.execute(
        "UPDATE rollup_state SET stale_since = coalesce(stale_since, now()), reason = ?",
        [reason[:500]],
    )
