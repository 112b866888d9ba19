"""The store's ``rollup_calls`` as a ClickHouse materialized view: DDL generated, not run.

Per hour (UTC) × :data:`~llmobs_nb.store.schema.ROLLUP_LABELS` (model, provider, operation, use
case, run, kind, status, error type) of the model calls of an ``otel_traces`` table: ``calls``,
``first_start``/``last_start``, and for each of :data:`~llmobs_nb.store.schema.ROLLUP_SUMMED`
but cost its count of values (``<c>_n``) and sum (``<c>_sum``), by the same column mapping
as the engine (:mod:`~llmobs_nb.clickhouse.mapping`). The target is an
``AggregatingMergeTree`` of ``SimpleAggregateFunction`` columns, so rows merge as the store's
rollup rows do (readers still ``GROUP BY``). Cost is left out: a view cannot join the price
book, which lives in this package, not in ClickHouse.

The engine does not read these views yet (issue #17's "used when present" is not done): run
the DDL to keep hourly counts for Grafana or for your own queries.

Example:
    >>> statements = clickhouse_rollups()
    >>> len(statements), statements[1].split(" AS SELECT")[0]
    (2, 'CREATE MATERIALIZED VIEW IF NOT EXISTS `llmobs_rollup_calls_mv` TO `llmobs_rollup_calls`')
"""

from __future__ import annotations

from llmobs_nb.clickhouse.mapping import spans_select
from llmobs_nb.clickhouse.otel_schema import OTEL_TRACES, quote_identifier
from llmobs_nb.store.model_call import is_model_call
from llmobs_nb.store.rollups import GRAIN_US
from llmobs_nb.store.schema import ROLLUP_LABELS, ROLLUP_SUMMED

ROLLUP_TABLE = "llmobs_rollup_calls"
#: The summed columns the view keeps (cost needs the price book: not in ClickHouse).
VIEW_SUMMED = tuple(c for c in ROLLUP_SUMMED if c != "cost_usd")
_TYPES = {
    "latency_s": "Float64",
    "ttft_s": "Float64",
}


def clickhouse_rollups(
    table: str = OTEL_TRACES.default_name, *, target: str = ROLLUP_TABLE
) -> list[str]:
    """``CREATE TABLE`` and ``CREATE MATERIALIZED VIEW`` statements keeping hourly rollups of
    the model calls written to ``table`` from now on (a view sees inserts, not the rows
    already there: fill it once with ``INSERT INTO <target> <the view's SELECT>``).

    Example:
        >>> clickhouse_rollups()[0].startswith("CREATE TABLE IF NOT EXISTS `llmobs_rollup_calls`")
        True
    """
    labels = ", ".join(ROLLUP_LABELS)
    label_columns = ", ".join(f"{c} Nullable(String)" for c in ROLLUP_LABELS)
    sums = []
    sum_columns = []
    for c in VIEW_SUMMED:
        kind = _TYPES.get(c, "Int64")
        sums += [f"count({c}) AS {c}_n", f"sum({c}) AS {c}_sum"]
        sum_columns += [
            f"{c}_n SimpleAggregateFunction(sum, UInt64)",
            f"{c}_sum SimpleAggregateFunction(sum, Nullable({kind}))",
        ]
    order = ", ".join(f"ifNull({c}, '')" for c in ROLLUP_LABELS)
    name, view = quote_identifier(target), quote_identifier(f"{target}_mv")
    create = (
        f"CREATE TABLE IF NOT EXISTS {name} (bucket_us Int64, {label_columns}, "
        "calls SimpleAggregateFunction(sum, UInt64), "
        "first_start SimpleAggregateFunction(min, DateTime64(6, 'UTC')), "
        "last_start SimpleAggregateFunction(max, DateTime64(6, 'UTC')), "
        f"{', '.join(sum_columns)}) ENGINE = AggregatingMergeTree "
        f"ORDER BY (bucket_us, {order}) SETTINGS allow_nullable_key = 1"
    )
    bucket = f"intDiv(toUnixTimestamp64Micro(start_time), {GRAIN_US}) * {GRAIN_US}"
    rule = is_model_call.sql("kind", "model")
    mv = (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {name} AS SELECT {bucket} AS bucket_us, "
        f"{labels}, count() AS calls, min(start_time) AS first_start, "
        f"max(start_time) AS last_start, {', '.join(sums)} "
        f"FROM ({spans_select(table)}) WHERE {rule} GROUP BY bucket_us, {labels}"
    )
    return [create, mv]
