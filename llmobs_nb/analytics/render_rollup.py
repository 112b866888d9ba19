"""Aggregate plans rendered over the store's rollups (``store/rollups.py``) instead of calls.

A plan is answerable from ``rollup_calls`` when everything it groups and filters by is a
rollup label (:data:`~llmobs_nb.store.rollups.LABELS`) or a time bucket of whole hours, and every
aggregate is one the rollups keep: calls, counts and sums of
:data:`~llmobs_nb.store.rollups.SUMMED` (and the unpriced tokens), means, first and last
start, and quantiles of latency and TTFT (from the sketches, within
:data:`~llmobs_nb.store.sketch.ALPHA` relatively, when the plan's labels are among
:data:`~llmobs_nb.store.rollups.SKETCH_LABELS`). A question by user (calls, cost, first and
last call, by user and model, in whole days) is answered from ``rollup_users``
(:func:`table_for`). :func:`render` returns None for any other plan: the engine then answers
exactly.

A time range need not fall on whole hours: the hours it covers entirely are read from the
rollups, and the calls of the hours it covers partly are rolled up on the fly from ``spans``
by the same definition (``rollups.stats_select``, ``rollups.sketch_select``), as are the
spans stored since the writer's last catch-up (``rollups.UNROLLED``), so the answer counts
exactly the calls stored and in the range.

Example:
    >>> from llmobs_nb.analytics.plan import Agg, Aggregate
    >>> render(Aggregate(("model",), (Agg("calls", "count_all"),))) is not None
    True
    >>> render(Aggregate(("session_id",), (Agg("calls", "count_all"),))) is None
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from llmobs_nb.analytics.plan import ROWS, Agg, Aggregate, Condition, TimeBucket, finish
from llmobs_nb.analytics.render_sql import Query, SqlRenderer, quote
from llmobs_nb.store import rollups
from llmobs_nb.store.sketch import quantiles_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_OPS = (">=", "<", "<=")


@dataclass(frozen=True)
class Table:
    """A rollup table as readers see it: its name, time grain, labels, summed columns, the
    unpriced token sums it keeps, and the one definition of its rows (``store/rollups.py``)."""

    name: str
    grain_us: int
    labels: tuple[str, ...]
    summed: tuple[str, ...]
    unpriced: tuple[str, ...]
    select: Callable[..., str]


CALLS = Table(
    "rollup_calls",
    rollups.GRAIN_US,
    rollups.LABELS,
    rollups.SUMMED,
    rollups.UNPRICED,
    rollups.stats_select,
)
USERS = Table(
    "rollup_users",
    rollups.USER_GRAIN_US,
    rollups.USER_LABELS,
    rollups.USER_SUMMED,
    (),
    rollups.users_select,
)


def _answerable_agg(a: Agg, table: Table) -> bool:
    if a.where is not None and a.where.column not in table.labels:
        return False
    if a.op == "count_all":
        return a.where_null in (None, "cost_usd")
    if a.where_null is not None:
        return a.op == "sum" and a.where_null == "cost_usd" and a.column in table.unpriced
    if a.op in ("count", "sum", "mean"):
        return a.column in table.summed
    if a.op in ("min", "max"):
        return a.column == "start_time"
    return (
        table is CALLS and a.op == "quantile" and a.column in rollups.MEASURES and a.where is None
    )


def _answerable_in(plan: Aggregate, base: Sequence[Condition], table: Table) -> bool:
    if plan.over is not None:
        return False
    for key in plan.keys:
        if isinstance(key, TimeBucket):
            if key.column != "start_time" or key.every_us % table.grain_us:
                return False
        elif not isinstance(key, str) or key not in table.labels:
            return False
    for c in (*base, *plan.where):
        time_ok = c.column == "start_time" and c.op in _TIME_OPS and isinstance(c.value, datetime)
        if not time_ok and c.column not in table.labels:
            return False
    if not all(_answerable_agg(a, table) for a in plan.aggs):
        return False
    if any(a.op == "quantile" for a in plan.aggs):  # the sketches keep fewer labels apart
        used = [k for k in plan.keys if isinstance(k, str)]
        used += [c.column for c in (*base, *plan.where) if c.column != "start_time"]
        return all(c in rollups.SKETCH_LABELS for c in used)
    return True


def table_for(
    plan: Aggregate, base: Sequence[Condition] = (), tables: Sequence[Table] | None = None
) -> Table | None:
    """The rollup table that answers ``plan`` (narrowed by ``base``): ``rollup_calls`` when
    it can, else ``rollup_users`` (a question by user, of calls and cost), else None.
    ``tables``: those the store has (default: both).

    Example:
        >>> table_for(Aggregate(("user_id",), (Agg("cost", "sum", "cost_usd"),))).name
        'rollup_users'
    """
    for table in (CALLS, USERS) if tables is None else tables:
        if _answerable_in(plan, base, table):
            return table
    return None


def answerable(plan: Aggregate, base: Sequence[Condition] = ()) -> bool:
    """Whether ``plan`` (narrowed by ``base``) can be answered from the rollups.

    Example:
        >>> from llmobs_nb.analytics.plan import TimeBucket
        >>> answerable(Aggregate((TimeBucket(900_000_000),), (Agg("n", "count_all"),)))
        False
    """
    return table_for(plan, base) is not None


def _us(t: datetime) -> int:
    t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return (t - _EPOCH) // timedelta(microseconds=1)


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class _Sources:
    """The rollup rows a plan reads: whole hours from the tables, partly covered hours rolled
    up from ``spans`` on the fly (both shapes are rollup rows)."""

    def __init__(
        self, conditions: Sequence[Condition], renderer: SqlRenderer, grain: int = rollups.GRAIN_US
    ) -> None:
        self.times = [c for c in conditions if c.column == "start_time"]
        self.labels = [c for c in conditions if c.column != "start_time"]
        self.renderer = renderer
        lo = max((_us(c.value) for c in self.times if c.op == ">="), default=None)
        ends = [_us(c.value) + (c.op == "<=") for c in self.times if c.op in ("<", "<=")]
        hi = min(ends, default=None)  # exclusive, in µs
        self.full_lo = None if lo is None else -(-lo // grain) * grain
        self.full_hi = None if hi is None else hi // grain * grain

    def _range(self, column: str, params: list[Any]) -> str:
        clauses = []
        if self.full_lo is not None:
            clauses.append(f"{column} >= ?")
            params.append(_time(self.full_lo))
        if self.full_hi is not None:
            clauses.append(f"{column} < ?")
            params.append(_time(self.full_hi))
        return " AND ".join(clauses) or "TRUE"

    def relation(self, table: str, select: Any, params: list[Any], extra: str = "TRUE") -> str:
        """``table``'s rows in whole hours, with the partly covered hours' rows from spans."""
        stored = f"SELECT * FROM {table} WHERE {extra} AND {self._range('bucket', params)}"
        # Raw spans: those past the rollups' mark (the writer rolls them up later), and in
        # a time range, those of the partly covered hours. One statement reads the mark and
        # the rollups, so a catch-up running meanwhile changes nothing for this answer.
        unrolled = rollups.UNROLLED
        raw_params: list[Any] = []
        if self.times:
            in_range = [self.renderer.condition(c, raw_params) for c in self.times]
            edges = f"NOT coalesce({self._range('start_time', raw_params)}, FALSE)"
            raw_where = " AND ".join([*in_range, f"({edges} OR {unrolled})"])
        else:
            raw_where = unrolled
        raw = select("spans", raw_where)
        params.extend(raw_params)
        return f"({stored} UNION ALL BY NAME {raw})"


def agg_sql(a: Agg, renderer: SqlRenderer, params: list[Any]) -> str:
    """An answerable aggregate read from rollup rows, in ``renderer``'s dialect (DuckDB here,
    ClickHouse's rollup view in ``clickhouse/rollup_reader.py``).

    Example:
        >>> agg_sql(Agg("n", "count_all"), SqlRenderer(), [])
        'coalesce(sum(calls), 0)'
    """
    only = ""
    if a.where is not None:
        only = f" FILTER (WHERE {renderer.condition(a.where, params)})"
    total = renderer.nullable("sum")  # a sum of no values is NULL, as sum() says
    if a.op == "count_all":  # a count of no rows is 0, as count(*) says
        counted = "calls - cost_usd_n" if a.where_null == "cost_usd" else "calls"
        return f"coalesce(sum({counted}){only}, 0)"
    if a.where_null == "cost_usd":
        return f"{total}(unpriced_{a.column}){only}"
    if a.op == "count":
        return f"coalesce(sum({a.column}_n){only}, 0)"
    if a.op == "sum":
        return f"{total}({a.column}_sum){only}"
    if a.op == "mean":
        return f"{total}({a.column}_sum){only} / nullif(sum({a.column}_n){only}, 0)"
    first_or_last = "first_start" if a.op == "min" else "last_start"
    return f"{renderer.nullable(a.op)}({first_or_last}){only}"


def _bins_column(measure: str, what: str) -> str:
    return f"__{what}_{measure}"


def _measures(aggs: Sequence[Agg]) -> list[str]:
    # The measures the quantile aggregates read, in the order their bin lists travel.
    return sorted({a.column or "" for a in aggs})


def _quantiles(
    aggs: Sequence[Agg], keys: Sequence[tuple[str, str]], sources: _Sources, renderer: SqlRenderer
) -> tuple[str, list[Any]]:
    """The query of the merged sketches, one row per group, and its parameters: per measure
    the group's bins and their counts as two lists (in no order), which
    :func:`~llmobs_nb.store.sketch.quantiles_of` reads the quantiles from."""
    names = [name for _, name in keys]
    measures = _measures(aggs)
    params: list[Any] = list(measures)
    marks = ", ".join("?" * len(measures))
    source = sources.relation(
        "rollup_sketches", rollups.sketch_select, params, f"measure IN ({marks})"
    )
    label_where = renderer.where(sources.labels, params)
    merged = (
        f"SELECT {''.join(f'{k}, ' for k, _ in keys)}measure, bin, sum(n)::BIGINT AS n "
        f"FROM {source} k{label_where} GROUP BY ALL"
    )
    lists = []
    for m in measures:
        only = f" FILTER (WHERE measure = '{m}')"
        lists += [
            f"list(bin){only} AS {quote(_bins_column(m, 'bins'))}",
            f"list(n){only} AS {quote(_bins_column(m, 'counts'))}",
        ]
    group_keys = "".join(f"{n}, " for n in names)
    sql = f"SELECT {group_keys}{', '.join(lists)} FROM ({merged}){' GROUP BY ALL' if names else ''}"
    return sql, params


def _with_quantiles(frame: pl.DataFrame, aggs: Sequence[Agg]) -> pl.DataFrame:
    """``frame`` with each quantile aggregate's column read from its measure's bin lists,
    and the lists dropped."""
    outputs = {}
    for m in _measures(aggs):
        wanted = [a for a in aggs if a.column == m]
        found = quantiles_of(
            frame[_bins_column(m, "bins")],
            frame[_bins_column(m, "counts")],
            [float(a.q or 0) for a in wanted],
        )
        outputs.update({a.output: column for a, column in zip(wanted, found, strict=True)})
        frame = frame.drop(_bins_column(m, "bins"), _bins_column(m, "counts"))
    return frame.with_columns(column.alias(name) for name, column in outputs.items())


def _above_and_top(frame: pl.DataFrame, plan: Aggregate) -> pl.DataFrame:
    # What SqlRenderer.above and render's top do in SQL, for answers finished in Python.
    if plan.above is not None:
        column, value = plan.above
        frame = frame.filter(pl.col(column) > float(value))
    if plan.top is not None:
        column, n = plan.top
        frame = frame.filter(pl.col(column).is_not_null())
        frame = frame.sort(column, descending=True).head(int(n))
    return frame


def render(
    plan: Aggregate, base: Sequence[Condition] = (), *, tables: Sequence[Table] | None = None
) -> Query | None:
    """The rollup query answering ``plan`` narrowed by ``base``, or None when it cannot be
    answered from the rollup ``tables`` the store has (see :func:`table_for`)."""
    table = table_for(plan, base, tables)
    if table is None:
        return None
    renderer = SqlRenderer()
    params: list[Any] = []
    sources = _Sources((*base, *plan.where), renderer, table.grain_us)
    keys = []
    for key in plan.keys:
        if isinstance(key, TimeBucket):
            bucket = renderer.bucket(TimeBucket(key.every_us, "bucket"))
            keys.append((f"{bucket} AS {quote(key.name)}", quote(key.name)))
        else:
            keys.append((quote(key), quote(key)))
    names = [name for _, name in keys]
    stats_select = [k for k, _ in keys]
    quantile_aggs = [a for a in plan.aggs if a.op == "quantile"]
    for a in plan.aggs:  # values in text order: the SELECT's, the FROM's, the WHERE's
        if a.op != "quantile":
            stats_select.append(f"{agg_sql(a, renderer, params)} AS {quote(a.output)}")
    stats_select.append(f"sum(calls) AS {ROWS}")
    stats_from = sources.relation(table.name, table.select, params)
    label_where = renderer.where(sources.labels, params)
    group = " GROUP BY ALL" if keys else ""
    stats = f"SELECT {', '.join(stats_select)} FROM {stats_from} s{label_where}{group}"
    sql = stats
    if quantile_aggs:
        # The merged bins come back as lists; the quantiles, and then what keeps groups by
        # them (above, top), are read in Python (_with_quantiles).
        quantiles, sketch_params = _quantiles(quantile_aggs, keys, sources, renderer)
        on = " AND ".join(f"s.{n} IS NOT DISTINCT FROM q.{n}" for n in names) or "TRUE"
        outputs = ", ".join(
            f"q.{quote(_bins_column(m, what))}"
            for m in _measures(quantile_aggs)
            for what in ("bins", "counts")
        )
        sql = f"SELECT s.*, {outputs} FROM ({stats}) s LEFT JOIN ({quantiles}) q ON {on}"
        params += sketch_params
    else:
        sql = renderer.above(sql, plan, params)
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
        if quantile_aggs:
            frame = _above_and_top(_with_quantiles(frame, quantile_aggs), plan)
        return finish(frame, plan)

    return Query(sql, params, types)
