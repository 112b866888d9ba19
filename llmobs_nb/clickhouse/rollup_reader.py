"""The dashboard's counts and sums answered from the rollup view (:mod:`.rollups`), when the
table has it: the same answer as from the calls, reading hourly rows instead of every span.

:func:`rows_select` reads the view's target as the store's ``rollup_calls`` rows: its counts
and sums, and ``cost_usd_n``/``cost_usd_sum`` priced per row from the pushed prices table at
the row's model, provider and day (a call's cost is linear in its tokens:
:data:`~.rollups.COST_PARTS`), and ``tiered``, whether a row holds a call at or above its
price's tier threshold (such a call costs NULL exactly; then the question is answered from the
calls: :func:`tiered_column`), and ``unpriced_<tokens>``, the tokens of its unpriced calls
(all of them when its model has no price; none else: a priced model's calls without a cost are
those without tokens). :func:`render` renders an aggregate plan over those rows, or returns
None when the rows cannot answer it exactly: a quantile (the view keeps no sketches:
ClickHouse's quantiles are exact, from the calls), a time bound off the hour, or anything the
store's rollups could not answer either (``analytics.render_rollup.table_for``: keys and
filters among the rollup labels, time buckets of whole hours).

Equal to the calls' answer: counts and token sums exactly; latency sums and means, and costs,
to float rounding (a cost is summed from per-row products instead of per-call costs rounded to
12 decimals: a relative difference below 1e-12 at the demo's sizes).

Example:
    >>> from llmobs_nb.analytics.plan import Agg, Aggregate
    >>> from llmobs_nb.clickhouse.render import ClickHouseRenderer
    >>> plan = Aggregate(("model",), (Agg("n", "count_all"),))
    >>> select, rest = render(plan, (), ClickHouseRenderer()).sql.split(" FROM ")
    >>> select
    'SELECT model, coalesce(sum(calls), 0) AS "n", sum(calls) AS __rows'
    >>> rest
    'llmobs_rollups GROUP BY model'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from llmobs_nb.analytics import render_rollup
from llmobs_nb.analytics.plan import ROWS, Aggregate, Condition, TimeBucket, finish
from llmobs_nb.analytics.render_sql import Query, quote
from llmobs_nb.clickhouse.mapping import PRICES_TABLE
from llmobs_nb.clickhouse.otel_schema import quote_identifier
from llmobs_nb.clickhouse.render import ClickHouseRenderer
from llmobs_nb.clickhouse.rollups import VIEW_SUMMED
from llmobs_nb.store.rollups import GRAIN_US
from llmobs_nb.store.schema import ROLLUP_LABELS, ROLLUP_UNPRICED

RELATION = "llmobs_rollups"
"""The name the rollup rows have in a query (a ``WITH`` relation, as ``llm_calls``)."""
TIERED = "__tiered"
"""The answer's column counting rows whose cost the view cannot know (see the module)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rows_select(target: str, database: str | None = None) -> str:
    """``SELECT`` of the rollup view's rows (``target``) in the store's ``rollup_calls``
    columns, priced from the prices table, with ``tiered``.

    Example:
        >>> "llmobs_prices" in rows_select("llmobs_rollup_calls")
        True
    """
    name = quote_identifier(target)
    if database:
        name = f"{quote_identifier(database)}.{name}"
    kept = [
        "bucket_us",
        *ROLLUP_LABELS,
        "calls",
        "first_start",
        "last_start",
        *(f"{c}_{part}" for c in VIEW_SUMMED for part in ("n", "sum")),
    ]
    unpriced = "p.input_mtok IS NULL"
    cost = (
        "((r.cost_input - r.cost_cached - r.cost_written) * p.input_mtok"
        " + r.cost_cached * p.cached_input_mtok + r.cost_written * p.cache_write_mtok"
        " + (r.cost_output - r.cost_reasoning) * p.output_mtok"
        " + r.cost_reasoning * p.reasoning_mtok) / 1000000"
    )
    columns = ", ".join(f"r.{c} AS {c}" for c in kept)
    unpriced_tokens = "".join(
        f"if({unpriced}, r.{c}_sum, NULL) AS unpriced_{c}, " for c in ROLLUP_UNPRICED
    )
    day = "toDate(fromUnixTimestamp64Micro(r.bucket_us, 'UTC'))"
    return (
        f"SELECT {columns}, if({unpriced}, 0, r.cost_calls) AS cost_usd_n, "
        f"if({unpriced} OR r.cost_calls = 0, NULL, {cost}) AS cost_usd_sum, {unpriced_tokens}"
        "toUInt64(p.tier_start IS NOT NULL AND r.cost_calls > 0 "
        "AND r.cost_max_input >= p.tier_start) AS tiered "
        f"FROM {name} AS r LEFT JOIN {PRICES_TABLE} AS p ON p.model = r.model "
        f"AND p.provider = ifNull(r.provider, '') AND p.day = {day}"
    )


def _on_the_hour(value: Any) -> bool:
    if not isinstance(value, datetime):
        return False
    at = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (at - _EPOCH) // timedelta(microseconds=1) % GRAIN_US == 0


def answerable(plan: Aggregate, base: Sequence[Condition] = ()) -> bool:
    """Whether the rollup rows answer ``plan`` (narrowed by ``base``) exactly (see the module).

    Example:
        >>> from llmobs_nb.analytics.plan import Agg
        >>> answerable(Aggregate(("model",), (Agg("p50", "quantile", "latency_s", q=0.5),)))
        False
    """
    tables = (render_rollup.CALLS,)
    if render_rollup.table_for(plan, base, tables) is not render_rollup.CALLS:
        return False
    if any(a.op == "quantile" for a in plan.aggs):
        return False
    times = [c for c in (*base, *plan.where) if c.column == "start_time"]
    return all(c.op in (">=", "<") and _on_the_hour(c.value) for c in times)


def _time(c: Condition, renderer: ClickHouseRenderer, params: list[Any]) -> str:
    at = c.value if c.value.tzinfo else c.value.replace(tzinfo=UTC)
    us = (at - _EPOCH) // timedelta(microseconds=1)
    return f"bucket_us {c.op} {renderer.param(int(us), params)}"


def tiered_column(plan: Aggregate) -> bool:
    """Whether ``plan``'s answer carries :data:`TIERED` (it asks for a cost)."""
    return any(a.column == "cost_usd" or a.where_null == "cost_usd" for a in plan.aggs)


def render(
    plan: Aggregate, base: Sequence[Condition], renderer: ClickHouseRenderer
) -> Query | None:
    """The query answering ``plan`` narrowed by ``base`` from the rollup rows
    (:data:`RELATION`), or None when they cannot (:func:`answerable`). A plan asking for a
    cost also gets :data:`TIERED`: the rows it read whose cost only the calls know (over all
    groups, before ``top`` or ``above``); the engine then asks the calls."""
    if not answerable(plan, base):
        return None
    params: list[Any] = []
    keys = []
    for key in plan.keys:
        if isinstance(key, TimeBucket):
            every = int(key.every_us)
            keys.append(f"intDiv(bucket_us, {every}) * {every} AS {quote(key.name)}")
        else:
            keys.append(quote(key))
    aggs = (f"{render_rollup.agg_sql(a, renderer, params)} AS {quote(a.output)}" for a in plan.aggs)
    select = [*keys, *aggs]
    select.append(f"sum(calls) AS {ROWS}")
    if tiered_column(plan):
        select.append(f"sum(sum(tiered)) OVER () AS {TIERED}")
    clauses = [
        _time(c, renderer, params) if c.column == "start_time" else renderer.condition(c, params)
        for c in (*base, *plan.where)
    ]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    names = [quote(k.name) if isinstance(k, TimeBucket) else quote(k) for k in plan.keys]
    group = f" GROUP BY {', '.join(names)}" if names else ""
    sql = f"SELECT {', '.join(select)} FROM {RELATION}{where}{group}"
    sql = renderer.above(sql, plan, params)
    if plan.top is not None:
        column, n = quote(plan.top[0]), int(plan.top[1])
        sql = f"SELECT * FROM ({sql}) WHERE {column} IS NOT NULL ORDER BY {column} DESC LIMIT {n}"
    buckets = [k.name for k in plan.keys if isinstance(k, TimeBucket)]

    def types(frame: pl.DataFrame) -> pl.DataFrame:
        frame = frame.drop(TIERED, strict=False).with_columns(
            pl.from_epoch(b, "us").dt.replace_time_zone("UTC").alias(b) for b in buckets
        )
        return finish(frame, plan)

    return Query(sql, params, types)
