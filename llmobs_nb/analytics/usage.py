"""Tokens and money: totals by any dimension, unpriced calls apart, and the most expensive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import as_columns, keyword_only
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.plan import Agg, Aggregate, every_to_us, grouping
from llmobs_nb.analytics.source import CallsLike, open_source

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")


def _keys(by: Sequence[str], every_us: int | None) -> list[str]:
    return [*by, *(["bucket"] if every_us else [])]


@keyword_only("by", "every")
def token_usage(
    calls: CallsLike,
    *,
    by: str | Sequence[str] = ("model",),
    every: str | timedelta | None = None,
    where: WhereLike = None,
    approx: bool = False,
) -> pl.DataFrame:
    """Token totals per group and time bucket.

    Returns the ``by`` columns (and ``bucket`` with ``every``), ``calls``, the sums of
    ``input_tokens``, ``output_tokens``, ``cached_input_tokens`` and ``reasoning_tokens`` over the
    calls that reported them, and ``calls_without_usage`` (calls whose input and output token
    counts are both unknown), so a total that misses calls says so. Sorted by the keys.
    ``where`` (a :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.
    ``approx=True`` answers from a store's rollups when ``by``, ``every`` and ``where``
    allow it (rollup labels, whole hours: :mod:`~llmobs_nb.analytics.rollup_engine`); the
    counts and sums there are exact, so the answer is the same.

    Example:
        >>> token_usage(calls, by=["model", "use_case"], every="1d")
    """
    by = as_columns(by)
    every_us = every_to_us(every)
    with open_source(calls, where=where, approx=approx) as engine:
        check_columns(engine.columns, [*TOKEN_COLUMNS, *by, "start_time"], "token_usage")
        aggs = [Agg("calls", "count_all"), Agg("__in", "count", "input_tokens")]
        aggs += [Agg("__out", "count", "output_tokens")]
        aggs += [Agg(c, "sum", c) for c in TOKEN_COLUMNS]
        out = engine.run(Aggregate(grouping(by, every_us), tuple(aggs)))
    keys = _keys(by, every_us)
    out = out.with_columns(pl.col(c).fill_null(0) for c in TOKEN_COLUMNS).with_columns(
        (pl.col("calls") - pl.max_horizontal("__in", "__out")).alias("calls_without_usage")
    )
    out = out.drop("__in", "__out")
    return out.sort(keys, nulls_last=True) if keys else out


@keyword_only("by", "every")
def cost_breakdown(
    calls: CallsLike,
    *,
    by: str | Sequence[str] = ("model",),
    every: str | timedelta | None = None,
    where: WhereLike = None,
    approx: bool = False,
) -> pl.DataFrame:
    """Spend in USD per group and time bucket, with unpriced calls counted apart.

    Returns the ``by`` columns (and ``bucket``), ``calls``, ``priced_calls``, ``cost_usd`` (sum
    over priced calls; NULL — never 0 — when no call of the group has a price),
    ``cost_per_call_usd`` (over priced calls), ``unpriced_calls`` and ``unpriced_tokens``
    (input + output tokens of the calls without a price: usage the total does not cover).
    Sorted by cost, highest first (by bucket first when ``every`` is given). ``where`` (a
    :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.
    ``approx=True`` answers from a store's rollups when ``by``, ``every`` and ``where``
    allow it (rollup labels, whole hours: :mod:`~llmobs_nb.analytics.rollup_engine`); the
    counts and sums there are exact, so the answer is the same.

    Example:
        >>> cost_breakdown(calls, by=["model", "use_case"])
    """
    by = as_columns(by)
    every_us = every_to_us(every)
    with open_source(calls, where=where, approx=approx) as engine:
        needed = ["cost_usd", "input_tokens", "output_tokens", *by, "start_time"]
        check_columns(engine.columns, needed, "cost_breakdown")
        aggs = [
            Agg("calls", "count_all"),
            Agg("priced_calls", "count", "cost_usd"),
            Agg("cost_usd", "sum", "cost_usd"),
            Agg("__in", "sum", "input_tokens", where_null="cost_usd"),
            Agg("__out", "sum", "output_tokens", where_null="cost_usd"),
        ]
        out = engine.run(Aggregate(grouping(by, every_us), tuple(aggs)))
    keys = _keys(by, every_us)
    out = out.select(
        *keys,
        "calls",
        "priced_calls",
        "cost_usd",
        (pl.col("cost_usd") / pl.col("priced_calls")).alias("cost_per_call_usd"),
        (pl.col("calls") - pl.col("priced_calls")).alias("unpriced_calls"),
        (pl.col("__in").fill_null(0) + pl.col("__out").fill_null(0)).alias("unpriced_tokens"),
    )
    # Ties (and the NULL costs of unpriced groups) fall back to the keys: a stable order.
    order = [*(["bucket"] if every_us else []), "cost_usd", *by]
    descending = [c == "cost_usd" for c in order]
    return out.sort(order, descending=descending, nulls_last=True)


@keyword_only("by", "n")
def top_costs(
    calls: CallsLike,
    *,
    by: Literal["trace_id", "user_id", "span_id", "run", "model", "use_case"] | str = "trace_id",
    n: int = 10,
    where: WhereLike = None,
) -> pl.DataFrame:
    """The ``n`` most expensive traces, users or single calls (``by="span_id"``).

    Returns ``by``, ``cost_usd``, ``calls``, ``unpriced_calls`` (calls of that key without a
    price, whose cost is unknown rather than zero), ``first_call`` and ``last_call`` (start
    times), highest cost first. Keys whose calls are all unpriced are not ranked. Here ``by``
    is the one key ranked, not a grouping. ``where`` (a :class:`~llmobs_nb.analytics.Filter`
    or a dict) narrows the calls first.

    Example:
        >>> top_costs(calls, by="user_id", n=5)
    """
    if n < 1:
        raise ValueError(f"n={n!r}: ask for at least one row")
    with open_source(calls, where=where) as engine:
        check_columns(engine.columns, [by, "cost_usd", "start_time"], "top_costs")
        aggs = [
            Agg("cost_usd", "sum", "cost_usd"),
            Agg("calls", "count_all"),
            Agg("priced_calls", "count", "cost_usd"),
            Agg("first_call", "min", "start_time"),
            Agg("last_call", "max", "start_time"),
        ]
        out = engine.run(Aggregate((by,), tuple(aggs), top=("cost_usd", n)))
    return out.select(
        by,
        "cost_usd",
        "calls",
        (pl.col("calls") - pl.col("priced_calls")).alias("unpriced_calls"),
        "first_call",
        "last_call",
    ).sort(["cost_usd", by], descending=[True, False])
