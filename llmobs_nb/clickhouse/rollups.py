"""The store's ``rollup_calls`` as a ClickHouse materialized view: its DDL, and what it keeps.

Per hour (UTC) × :data:`~llmobs_nb.store.schema.ROLLUP_LABELS` (model, provider, operation, use
case, run, kind, status, error type) of the model calls of an ``otel_traces`` table: ``calls``,
``first_start``/``last_start``, for each of :data:`~llmobs_nb.store.schema.ROLLUP_SUMMED` but
cost its count of values (``<c>_n``) and sum (``<c>_sum``), by the same column mapping as the
engine (:mod:`~llmobs_nb.clickhouse.mapping`); and what a cost is made of (:data:`COST_PARTS`):
the calls that report tokens, their token sums by kind, and their largest input. A view
cannot join the price book (it lives in this package and is pushed with each query), but a
call's cost is linear in its tokens at its model's, provider's and day's rates, and an hour
lies in one day: the reader (:mod:`~llmobs_nb.clickhouse.rollup_reader`) prices each row
from these sums when it reads them, and the largest input says whether a tiered price's
threshold was reached (then it answers exactly instead).

The target is an ``AggregatingMergeTree`` of ``SimpleAggregateFunction`` columns, so rows
merge as the store's rollup rows do (readers still ``GROUP BY``). A view sees the inserts
made after it exists: ``fill=True`` adds the ``INSERT`` that rolls up the rows already there
(run it before new rows arrive, or they are counted twice). The engine reads the target when
it is present and complete (its calls equal the table's model calls, checked once per
source): ``llmobs_nb.open(url + "&rollups=<target>")``, or the default target's name.

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
#: The summed columns the view keeps (cost: from :data:`COST_PARTS` when read).
VIEW_SUMMED = tuple(c for c in ROLLUP_SUMMED if c != "cost_usd")
TOKENED = "input_tokens IS NOT NULL OR output_tokens IS NOT NULL"
"""The calls a price applies to (``mapping.cost_expression``: no tokens, no cost)."""
COST_PARTS: dict[str, str] = {
    "cost_calls": f"countIf({TOKENED})",
    "cost_input": f"sumIf(ifNull(input_tokens, 0), {TOKENED})",
    "cost_cached": f"sumIf(ifNull(cached_input_tokens, 0), {TOKENED})",
    "cost_written": f"sumIf(ifNull(cache_write_tokens, 0), {TOKENED})",
    "cost_output": f"sumIf(ifNull(output_tokens, 0), {TOKENED})",
    "cost_reasoning": f"sumIf(ifNull(reasoning_tokens, 0), {TOKENED})",
    "cost_max_input": f"maxIf(ifNull(input_tokens, 0), {TOKENED})",
}
"""Column → its aggregate over a row's model calls: what their cost is computed from."""
_TYPES = {
    "latency_s": "Float64",
    "ttft_s": "Float64",
}


def _part_type(name: str) -> str:
    if name == "cost_calls":
        return "SimpleAggregateFunction(sum, UInt64)"
    if name == "cost_max_input":
        return "SimpleAggregateFunction(max, Int64)"
    return "SimpleAggregateFunction(sum, Int64)"


def clickhouse_rollups(
    table: str = OTEL_TRACES.default_name, *, target: str = ROLLUP_TABLE, fill: bool = False
) -> list[str]:
    """``CREATE TABLE`` and ``CREATE MATERIALIZED VIEW`` statements keeping hourly rollups of
    the model calls written to ``table`` from now on; with ``fill``, then the ``INSERT`` that
    rolls up the rows already there (once, before new rows arrive).

    Example:
        >>> clickhouse_rollups()[0].startswith("CREATE TABLE IF NOT EXISTS `llmobs_rollup_calls`")
        True
        >>> clickhouse_rollups(fill=True)[2].startswith("INSERT INTO `llmobs_rollup_calls`")
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
    sums += [f"{expr} AS {name}" for name, expr in COST_PARTS.items()]
    sum_columns += [f"{name} {_part_type(name)}" for name in COST_PARTS]
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
    select = (
        f"SELECT {bucket} AS bucket_us, "
        f"{labels}, count() AS calls, min(start_time) AS first_start, "
        f"max(start_time) AS last_start, {', '.join(sums)} "
        f"FROM ({spans_select(table)}) WHERE {rule} GROUP BY bucket_us, {labels}"
    )
    mv = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {name} AS {select}"
    return [create, mv, f"INSERT INTO {name} {select}"] if fill else [create, mv]
