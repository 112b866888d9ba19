"""Plans rendered as DuckDB SQL: one statement, values as ``?`` parameters, never in the text.

The twin of ``render_polars``. Column names come from the plan (checked against the input's
columns by the engine) and are quoted; numbers that shape the query (bucket lengths, a LIMIT)
are ints. :class:`SqlRenderer` is DuckDB's dialect; another SQL engine (ClickHouse, issue #17)
subclasses it and overrides the dialect methods (:meth:`~SqlRenderer.param`,
:meth:`~SqlRenderer.bucket`, :meth:`~SqlRenderer.quantiles`, :meth:`~SqlRenderer.agg`,
:meth:`~SqlRenderer.first_per_trace`, and for the questions over whole traces
(``span_sql``) :meth:`~SqlRenderer.epoch_us`, :meth:`~SqlRenderer.arg_min`,
:meth:`~SqlRenderer.joined`, :meth:`~SqlRenderer.among`, :meth:`~SqlRenderer.numbered`…;
``GROUP BY ALL``, ``AS MATERIALIZED``, ``QUALIFY`` and ``::BIGINT`` are DuckDB spellings
too).

Example:
    >>> query = SqlRenderer().render(Rows(("model",), (Condition("model", "==", "o'brien"),)))
    >>> query.sql, query.params
    ('SELECT model FROM llm_calls WHERE model = ?', ["o'brien"])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from llmobs_nb.analytics.columns import LLM_CALLS_COLUMNS, SCORED_COLUMNS, column_type
from llmobs_nb.analytics.plan import (
    ROWS,
    Agg,
    Aggregate,
    Condition,
    Key,
    Plan,
    Rows,
    Scored,
    TimeBucket,
    ValueBin,
    finish,
)

CALLS = "llm_calls"


@dataclass
class Query:
    """SQL text, its ``?`` parameters in order, and the step that types the engine's answer."""

    sql: str
    params: list[Any] = field(default_factory=list)
    finish: Callable[[pl.DataFrame], pl.DataFrame] = lambda frame: frame


# The store's own column names, written bare as its views write them; any other is quoted.
_BARE = frozenset(LLM_CALLS_COLUMNS) | frozenset(SCORED_COLUMNS)


def quote(name: str) -> str:
    """A column name for SQL: the store's own as they are, any other quoted.

    Example:
        >>> quote("model"), quote('a"b')
        ('model', '"a""b"')
    """
    return name if name in _BARE else '"' + name.replace('"', '""') + '"'


class SqlRenderer:
    """Renders plans for DuckDB. ``base`` conditions narrow the calls every plan reads (the
    dashboard's filter), as part of the same WHERE: no view or query text is rewritten."""

    def __init__(self, base: Sequence[Condition] = ()) -> None:
        self.base = tuple(base)

    # -- dialect ---------------------------------------------------------------------------
    def param(self, value: Any, params: list[Any]) -> str:
        """The placeholder of one value, appended to ``params`` (DuckDB: ``?``)."""
        params.append(value)
        return "?"

    def bucket(self, key: TimeBucket) -> str:
        """Epoch microseconds of the bucket's start (an integer; made a datetime after)."""
        every = int(key.every_us)
        return f"(epoch_us({quote(key.column)}) // {every}) * {every}"

    def quantiles(self, column: str, qs: Sequence[float]) -> str:
        """All quantiles of one column in one call: DuckDB then sorts the group once."""
        return f"quantile_cont({quote(column)}, [{', '.join(repr(float(q)) for q in qs)}])"

    def agg(self, a: Agg, params: list[Any]) -> str:
        """One aggregate but a quantile (those are asked per column: :meth:`quantiles`)."""
        clauses = [self.condition(c, params) for c in a.rows_read()]
        only = f" FILTER (WHERE {' AND '.join(clauses)})" if clauses else ""
        if a.op == "count_all":
            return f"count(*){only}"
        if a.op == "count":
            return f"count({quote(a.column or '')}){only}"
        op = "avg" if a.op == "mean" else a.op
        return f"{self.nullable(op)}({quote(a.column or '')}){only}"

    def nullable(self, function: str) -> str:
        """The name of aggregate ``function`` (``sum``, ``avg``, ``min``, ``max``) in its form
        that is NULL over no rows (DuckDB's own already is; ClickHouse's need ``OrNull``)."""
        return function

    def epoch_us(self, time: str) -> str:
        """Microseconds since the epoch of the time expression ``time`` (an integer)."""
        return f"epoch_us({time})"

    def arg_min(self, value: str, by: str) -> str:
        """The aggregate: ``value`` of the row with the least ``by`` (rows whose ``value`` is
        NULL skipped)."""
        return f"arg_min({value}, {by})"

    def arg_max(self, value: str, by: str) -> str:
        """The aggregate: ``value`` of the row with the greatest ``by`` (NULLs skipped)."""
        return f"arg_max({value}, {by})"

    def joined(self, value: str, separator: str, order: Sequence[str], only: str) -> str:
        """The aggregate: the ``value`` texts of the rows where ``only`` holds, in ``order``,
        joined by ``separator`` (a placeholder); NULL when there are none."""
        return f"string_agg({value}, {separator} ORDER BY {', '.join(order)}) FILTER (WHERE {only})"

    def joined_distinct(self, value: str, separator: str) -> str:
        """The aggregate: the distinct non-NULL ``value`` texts, sorted, joined by
        ``separator`` (a placeholder); NULL when there are none."""
        return f"string_agg(DISTINCT {value}, {separator} ORDER BY {value})"

    def among(self, column: str, values: Sequence[str], params: list[Any]) -> str:
        """``column`` is one of ``values`` (text; any number, as one list parameter)."""
        return f"{column} IN (SELECT unnest({self.param(list(values), params)}::VARCHAR[]))"

    def boolean(self, condition: str) -> str:
        """``condition`` typed as a boolean in the answer (DuckDB's conditions are)."""
        return condition

    def numbered(self, order: Sequence[str]) -> str:
        """A row number (1, 2, …) for each row of a ``WITH … AS MATERIALIZED`` relation read
        twice: DuckDB computes it once, so any order will do and none is asked (ClickHouse
        computes it at each read: ``order``, which must not tie, makes the reads agree)."""
        return "row_number() OVER ()"

    def span_key(self, trace_id: str, span_id: str) -> str:
        """A 128-bit integer naming the span ``span_id`` of trace ``trace_id`` (text
        expressions), for joins on one number: the 64-bit hash of the trace id, then the
        64-bit hash of the span id (two spans could share one only if their span ids' hashes
        collide within one trace). NULL when ``span_id`` is NULL."""
        return (
            f"CASE WHEN {span_id} IS NOT NULL THEN "
            f"(hash({trace_id})::UHUGEINT << 64) | hash({span_id}) END"
        )

    def appended(self, array: str, value: str) -> str:
        """``array`` with ``value`` added at its end."""
        return f"list_append({array}, {value})"

    def contains(self, array: str, value: str) -> str:
        """``value`` is an element of ``array``."""
        return f"list_contains({array}, {value})"

    def first_per_trace(self) -> str:
        """The clause keeping each trace's first call (kind 'llm' first, then earliest)."""
        return (
            "QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY (kind <> 'llm'), "
            "start_time) = 1"
        )

    # -- conditions ------------------------------------------------------------------------
    def condition(self, c: Condition, params: list[Any], alias: str = "") -> str:
        """One condition's SQL; its values are appended to ``params``."""
        col = alias + quote(c.column)
        if c.op == "==":
            return f"{col} = {self.param(c.value, params)}"
        if c.op == "in":
            if not c.value:
                return "FALSE"
            return f"{col} IN ({', '.join(self.param(v, params) for v in c.value)})"
        if c.op in (">=", "<", "<="):
            return f"{col} {c.op} {self.param(c.value, params)}"
        return f"{col} IS NOT NULL" if c.op == "not_null" else f"{col} IS NULL"

    def where(self, conditions: Sequence[Condition], params: list[Any]) -> str:
        """`` WHERE ...`` for ``conditions`` ('' when none)."""
        clauses = [self.condition(c, params) for c in conditions]
        return " WHERE " + " AND ".join(clauses) if clauses else ""

    def calls(self, conditions: Sequence[Condition], params: list[Any]) -> str:
        """``FROM llm_calls WHERE`` the base and ``conditions``."""
        return f"FROM {CALLS}{self.where([*self.base, *conditions], params)}"

    # -- plans -------------------------------------------------------------------------------
    def render(self, plan: Plan) -> Query:
        """The query for ``plan``."""
        if isinstance(plan, Aggregate):
            return self.aggregate(plan)
        if isinstance(plan, Rows):
            return self.rows(plan)
        return self.scored(plan)

    def rows(self, plan: Rows) -> Query:
        params: list[Any] = []
        columns = ", ".join(map(quote, plan.columns)) if plan.columns is not None else "*"
        if plan.table == CALLS:
            source = self.calls(plan.where, params)
        else:
            source = f"FROM {quote(plan.table)}{self.where(plan.where, params)}"
        order = f" ORDER BY {', '.join(map(quote, plan.order_by))}" if plan.order_by else ""
        typed = [c for c in plan.columns or () if c in LLM_CALLS_COLUMNS]

        def types(frame: pl.DataFrame) -> pl.DataFrame:
            if plan.table != CALLS:
                return frame
            return frame.with_columns(pl.col(c).cast(LLM_CALLS_COLUMNS[c]) for c in typed)

        return Query(f"SELECT {columns} {source}{order}", params, types)

    def _scored_ctes(self, plan: Scored, params: list[Any]) -> str:
        # s: the scores. j: each score with the call its span_id names, among all calls (the
        # match does not depend on the filter), kept when that call passes the filter; a score
        # naming no call keeps its trace_id as `orphan`. r: the first call of each orphan's
        # trace, among all calls, kept when it passes the filter. j is materialized: it is read
        # twice, and computing it twice would join the scores to the calls twice.
        dims = list(plan.keys)
        score_where = "value IS NOT NULL"
        if plan.score_name is not None:
            score_where += f" AND name = {self.param(plan.score_name, params)}"
        conditions = [*self.base, *plan.where]
        passes = " AND ".join(self.condition(c, params, "c.") for c in conditions) or "TRUE"
        j_dims = "".join(f"c.{quote(d)} AS {quote(d)}, " for d in dims)
        bare_dims = "".join(f"{quote(d)}, " for d in dims)
        r_dims = "".join(f"r.{quote(d)}, " for d in dims)
        r_passes = self.where(conditions, params)
        return f"""
            s AS (SELECT trace_id, span_id, name, value FROM scores WHERE {score_where}),
            j AS MATERIALIZED (
                SELECT {j_dims}CASE WHEN c.span_id IS NULL THEN s.trace_id END AS orphan,
                       s.name AS score_name, CAST(s.value AS DOUBLE) AS value,
                       c.start_time AS time
                FROM s LEFT JOIN {CALLS} c ON s.span_id = c.span_id
                WHERE c.span_id IS NULL OR ({passes})
            ),
            r AS (
                SELECT * FROM (
                    SELECT * FROM {CALLS}
                    WHERE trace_id IN (SELECT orphan FROM j WHERE orphan IS NOT NULL)
                    {self.first_per_trace()}
                ){r_passes}
            ),
            scored AS (
                SELECT {bare_dims}score_name, value, time FROM j WHERE orphan IS NULL
                UNION ALL
                SELECT {r_dims}j.score_name, j.value, r.start_time AS time
                FROM j JOIN r ON j.orphan = r.trace_id
            )"""

    def scored(self, plan: Scored) -> Query:
        params: list[Any] = []
        sql = f"WITH {self._scored_ctes(plan, params)} SELECT * FROM scored"

        def types(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.with_columns(pl.col("time").dt.convert_time_zone("UTC")).with_columns(
                pl.col(d).cast(column_type(d, pl.String())) for d in plan.keys
            )

        return Query(sql, params, types)

    def above(self, sql: str, plan: Aggregate, params: list[Any]) -> str:
        """``sql`` (one row per group) narrowed to the groups ``plan.above`` keeps."""
        if plan.above is None:
            return sql
        column, value = plan.above
        return f"SELECT * FROM ({sql}) WHERE {quote(column)} > {self.param(float(value), params)}"

    def key(self, key: Key, params: list[Any]) -> str:
        if isinstance(key, TimeBucket):
            return f"{self.bucket(key)} AS {quote(key.name)}"
        if isinstance(key, ValueBin):
            lo, width = self.param(key.lo, params), self.param(key.width, params)
            top = self.param(float(key.count - 1), params)  # least(DOUBLE, DOUBLE) everywhere
            value = quote(key.column)
            return (
                f"greatest(least(floor(({value} - {lo}) / {width}), {top}), 0)::BIGINT "
                f"AS {quote(key.name)}"
            )
        return quote(key)

    def aggregate(self, plan: Aggregate) -> Query:
        params: list[Any] = []
        with_clause = ""
        if plan.over is not None:
            with_clause = f"WITH {self._scored_ctes(plan.over, params)} "
        select = [self.key(k, params) for k in plan.keys]
        quantiles: dict[str, list[Agg]] = {}
        for a in plan.aggs:
            if a.op == "quantile":
                quantiles.setdefault(a.column or "", []).append(a)
            else:
                select.append(f"{self.agg(a, params)} AS {quote(a.output)}")
        lists = []
        for i, (column, qs) in enumerate(quantiles.items()):
            select.append(f"{self.quantiles(column, [a.q or 0 for a in qs])} AS __q{i}")
            lists.append((f"__q{i}", qs))
        select.append(f"count(*) AS {ROWS}")
        if plan.over is not None:
            source = f"FROM scored{self.where(plan.where, params)}"
        else:
            source = self.calls(plan.where, params)
        group = " GROUP BY ALL" if plan.keys else ""
        sql = f"{with_clause}SELECT {', '.join(select)} {source}{group}"
        sql = self.above(sql, plan, params)
        if plan.top is not None:
            column, n = quote(plan.top[0]), int(plan.top[1])
            sql = (
                f"SELECT * FROM ({sql}) WHERE {column} IS NOT NULL ORDER BY {column} DESC LIMIT {n}"
            )
        buckets = [k.name for k in plan.keys if isinstance(k, TimeBucket)]

        def types(frame: pl.DataFrame) -> pl.DataFrame:
            frame = frame.with_columns(
                pl.from_epoch(b, "us").dt.replace_time_zone("UTC").alias(b) for b in buckets
            )
            frame = frame.with_columns(
                pl.col(name).list.get(j).alias(a.output)
                for name, qs in lists
                for j, a in enumerate(qs)
            )
            return finish(frame, plan)

        return Query(sql, params, types)
