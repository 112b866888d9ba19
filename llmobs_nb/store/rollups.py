"""Rollups kept at write time: per hour × the low-cardinality labels of the model calls,
counts, sums and latency/TTFT sketches — what a dashboard reads instead of every call.

Three tables, all derived from ``spans`` and rebuilt from it by
:func:`rebuild` (``llmobs_nb.rebuild_rollups(path)``):

- ``rollup_calls``: one row per (``bucket``, :data:`LABELS`) and append: ``calls``,
  ``first_start``/``last_start``, for each of :data:`SUMMED` its count of non-NULL values
  (``<column>_n``) and their sum (``<column>_sum``), and the tokens of unpriced calls
  (``unpriced_input_tokens``, ``unpriced_output_tokens``; what ``cost_breakdown`` reports).
- ``rollup_users`` (``m009_rollup_users``): per day, user and model (:data:`USER_LABELS`),
  ``calls``, ``first_start``/``last_start`` and the cost's count and sum: users are too many
  for an hourly table with every label, and "top users by cost" is a dashboard panel.
- ``rollup_sketches``: per (``bucket``, :data:`SKETCH_LABELS`, ``measure``, ``bin``) the
  number of values of ``measure`` (``latency_s``, ``ttft_s``) in that bin of the sketch
  (:mod:`sketch`). Fewer labels than ``rollup_calls``: quantiles filtered or grouped by use
  case, run or error type are answered exactly.

Rows are additive, and readers always ``GROUP BY``. The flush does not touch them: it
stores spans only. :func:`catch_up` rolls up the spans stored since the last catch-up
(``rollup_state.rolled_to``, a ``rowid`` mark: ``spans`` is append-only, so rowids only
grow) in one transaction, and the writer calls it once :data:`CATCH_UP_ROWS` spans or
:data:`CATCH_UP_S` seconds have accumulated, and at close: a few statements per ten thousand
calls instead of per flush. Readers roll up the spans past the mark on the fly (the same
definition, :func:`stats_select`), so an answer always counts every stored call. A failed
catch-up costs no call and no correctness, only speed until the next one succeeds.
:func:`compact` merges the rows of the buckets appended to since the last compaction (every
:data:`COMPACT_EVERY` catch-ups), keeping about one row per bucket and label set (and bin).

Example:
    >>> from llmobs_nb.store.store import Store
    >>> store = Store(":memory:")
    >>> store.query("select count(*) as n from rollup_calls")["n"][0]
    0
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from llmobs_nb.store.model_call import is_model_call
from llmobs_nb.store.schema import (
    ROLLUP_CALLS,
    ROLLUP_LABELS,
    ROLLUP_SKETCH_LABELS,
    ROLLUP_SKETCHES,
    ROLLUP_STATE,
    ROLLUP_SUMMED,
    ROLLUP_UNPRICED,
    ROLLUP_USER_LABELS,
    ROLLUP_USER_SUMMED,
    ROLLUP_USERS,
    create_sql,
)
from llmobs_nb.store.sketch import bin_sql

GRAIN = "hour"
"""The rollups' time bucket: ``date_trunc('hour', start_time)`` in UTC (epoch-aligned)."""
GRAIN_US = 3_600_000_000
USER_GRAIN = "day"
"""``rollup_users``' time bucket: ``date_trunc('day', start_time)`` in UTC."""
USER_GRAIN_US = 86_400_000_000
LABELS = ROLLUP_LABELS
SKETCH_LABELS = ROLLUP_SKETCH_LABELS
USER_LABELS = ROLLUP_USER_LABELS
USER_SUMMED = ROLLUP_USER_SUMMED
SUMMED = ROLLUP_SUMMED
UNPRICED = ROLLUP_UNPRICED
MEASURES: tuple[str, ...] = ("latency_s", "ttft_s")
"""The columns with a sketch (quantiles)."""
UNROLLED = "rowid >= (SELECT rolled_to FROM rollup_state)"
"""The condition on ``spans`` of the rows not yet rolled up (readers roll them up on the
fly; DuckDB prunes the scan to them)."""
CATCH_UP_ROWS = 50_000
"""Spans stored since the last catch-up that make the writer roll them up."""
CATCH_UP_S = 10.0
"""Seconds after which the writer rolls up whatever was stored since the last catch-up."""
COMPACT_EVERY = 8
"""Catch-ups between two compactions of the touched buckets."""


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
        f"SELECT start_time, {', '.join(SKETCH_LABELS)}, unnest([{measures}]) AS measure, "
        f"unnest([{bins}]) AS bin FROM {source} WHERE ({is_model_call.sql()}) AND ({where})"
    )
    return (
        f"SELECT date_trunc('{GRAIN}', start_time) AS bucket, {', '.join(SKETCH_LABELS)}, "
        f"measure, "
        f"bin, count(*) AS n, {compacted} AS compacted FROM ({each}) WHERE bin IS NOT NULL "
        f"GROUP BY ALL"
    )


def users_select(source: str, where: str = "TRUE", *, compacted: bool = False) -> str:
    """The ``rollup_users`` rows of the model calls in ``source`` that pass ``where``.

    Example:
        >>> "date_trunc('day', start_time)" in users_select("spans")
        True
    """
    sums = ", ".join(f"count({c}) AS {c}_n, sum({c}) AS {c}_sum" for c in USER_SUMMED)
    return (
        f"SELECT date_trunc('{USER_GRAIN}', start_time) AS bucket, {', '.join(USER_LABELS)}, "
        f"count(*) AS calls, min(start_time) AS first_start, max(start_time) AS last_start, "
        f"{sums}, {compacted} AS compacted "
        f"FROM {source} WHERE ({is_model_call.sql()}) AND ({where}) GROUP BY ALL"
    )


def selects() -> tuple[tuple[str, Callable[..., str]], ...]:
    """Each rollup table and the one definition of its rows (looked up when called).

    Example:
        >>> [table for table, _ in selects()]
        ['rollup_calls', 'rollup_sketches', 'rollup_users']
    """
    return (
        ("rollup_calls", stats_select),
        ("rollup_sketches", sketch_select),
        ("rollup_users", users_select),
    )


def catch_up(con: duckdb.DuckDBPyConnection) -> int:
    """Roll up the spans stored since the last catch-up, in one transaction, and move the
    mark past them; returns the number of spans rolled up (model calls or not).

    Example:
        >>> from llmobs_nb.store.store import Store
        >>> with Store(":memory:")._connection() as con:
        ...     catch_up(con)
        0
    """
    con.execute("BEGIN TRANSACTION")
    try:
        found = con.execute(
            "SELECT s.rolled_to, max(t.rowid) + 1, count(t.rowid) FROM rollup_state s "
            "LEFT JOIN spans t ON t.rowid >= s.rolled_to GROUP BY s.rolled_to"
        ).fetchone()
        mark, end, rows = found if found else (0, None, 0)
        if rows:
            source = f"(SELECT * FROM spans WHERE rowid >= {int(mark)} AND rowid < {int(end)})"
            for table, select in selects():
                con.execute(f"INSERT INTO {table} BY NAME {select(source)}")
            con.execute("UPDATE rollup_state SET rolled_to = ?", [int(end)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(rows)


def _merged_calls() -> str:
    sums = ", ".join(f"sum({c}_n) AS {c}_n, sum({c}_sum) AS {c}_sum" for c in SUMMED)
    unpriced = ", ".join(f"sum(unpriced_{c}) AS unpriced_{c}" for c in UNPRICED)
    return (
        f"SELECT bucket, {', '.join(LABELS)}, sum(calls) AS calls, "
        f"min(first_start) AS first_start, max(last_start) AS last_start, {sums}, {unpriced}, "
        f"TRUE AS compacted FROM rollup_calls WHERE bucket >= ? AND bucket IN "
        f"(SELECT bucket FROM _touched) GROUP BY ALL"
    )


def _merged_users() -> str:
    sums = ", ".join(f"sum({c}_n) AS {c}_n, sum({c}_sum) AS {c}_sum" for c in USER_SUMMED)
    return (
        f"SELECT bucket, {', '.join(USER_LABELS)}, sum(calls) AS calls, "
        f"min(first_start) AS first_start, max(last_start) AS last_start, {sums}, "
        f"TRUE AS compacted FROM rollup_users WHERE bucket >= ? AND bucket IN "
        f"(SELECT bucket FROM _touched) GROUP BY ALL"
    )


def _replace_touched(
    con: duckdb.DuckDBPyConnection, table: str, merged: str, first: object
) -> None:
    # The rows of the touched buckets of ``table`` replaced by ``merged`` (one transaction).
    con.execute(f"CREATE OR REPLACE TEMP TABLE _merged AS {merged}", [first])
    con.execute(
        f"DELETE FROM {table} WHERE bucket >= ? AND bucket IN (SELECT bucket FROM _touched)",
        [first],
    )
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _merged")
    con.execute("DROP TABLE _merged")


def compact(con: duckdb.DuckDBPyConnection) -> int:
    """Merge the rows of every bucket appended to since the last compaction into one row per
    label set (and bin); returns the number of buckets merged. Runs in its own transaction.

    Example:
        >>> from llmobs_nb.store.store import Store
        >>> with Store(":memory:")._connection() as con:
        ...     compact(con)
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
                f"SELECT bucket, {', '.join(SKETCH_LABELS)}, measure, bin, sum(n) AS n, "
                f"TRUE AS compacted FROM rollup_sketches WHERE bucket >= ? AND bucket IN "
                f"(SELECT bucket FROM _touched) GROUP BY ALL"
            )
            for table, merged in (("rollup_calls", _merged_calls()), ("rollup_sketches", sketches)):
                _replace_touched(con, table, merged, first)
        con.execute("DROP TABLE _touched")
        # rollup_users' buckets are days: its own touched ones.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _touched AS "
            "SELECT DISTINCT bucket FROM rollup_users WHERE NOT compacted"
        )
        found = con.execute("SELECT count(*), min(bucket) FROM _touched").fetchone()
        days, first_day = found or (0, None)
        if days:
            _replace_touched(con, "rollup_users", _merged_users(), first_day)
        con.execute("DROP TABLE _touched")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(touched)


def create(con: duckdb.DuckDBPyConnection) -> None:
    """Create the rollup tables (what ``m007_rollups`` runs; empty, nothing rolled up).

    Changing their columns means a new migration that drops, creates and rebuilds them.
    """
    for table in (ROLLUP_CALLS, ROLLUP_SKETCHES, ROLLUP_STATE):
        con.execute(create_sql(table))
    con.execute("INSERT INTO rollup_state VALUES (0, now())")


def create_users(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``rollup_users`` and roll up into it the spans the other rollups hold (those
    before the mark; later ones are caught up with the rest): ``m009_rollup_users``."""
    con.execute(create_sql(ROLLUP_USERS))
    source = "(SELECT * FROM spans WHERE rowid < (SELECT rolled_to FROM rollup_state))"
    con.execute(f"INSERT INTO rollup_users BY NAME {users_select(source, compacted=True)}")


def rebuild(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild both rollup tables from ``spans`` in one transaction (the mark past every
    stored span); returns the number of model calls rolled up.

    Example:
        >>> from llmobs_nb.store.store import Store
        >>> store = Store(":memory:")
        >>> with store._connection() as con:
        ...     rebuild(con)
        0
    """
    con.execute("BEGIN TRANSACTION")
    try:
        for table, _ in selects():
            con.execute(f"DELETE FROM {table}")
        fill(con)
        end = con.execute("SELECT rolled_to FROM rollup_state").fetchone()
        source = f"(SELECT * FROM spans WHERE rowid < {int(end[0]) if end else 0})"
        con.execute(f"INSERT INTO rollup_users BY NAME {users_select(source, compacted=True)}")
        found = con.execute("SELECT coalesce(sum(calls), 0) FROM rollup_calls").fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(found[0]) if found else 0


def fill(con: duckdb.DuckDBPyConnection) -> None:
    """Roll up every stored span into the (empty) tables of ``m007_rollups`` and set the mark
    past them (inside the caller's transaction: ``m007_rollups``, :func:`rebuild`, which then
    fills ``rollup_users`` up to the same mark)."""
    end = con.execute("SELECT coalesce(max(rowid) + 1, 0) FROM spans").fetchone()
    con.execute(f"INSERT INTO rollup_calls BY NAME {stats_select('spans', compacted=True)}")
    con.execute(f"INSERT INTO rollup_sketches BY NAME {sketch_select('spans', compacted=True)}")
    con.execute("UPDATE rollup_state SET rolled_to = ?, built_at = now()", [end[0] if end else 0])
