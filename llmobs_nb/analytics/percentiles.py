"""Exact percentiles of latency, time to first token, or any numeric call column."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import as_columns, keyword_only
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.plan import Agg, Aggregate, every_to_us, grouping
from llmobs_nb.analytics.rollup_engine import error_bound
from llmobs_nb.analytics.source import CallsLike, open_source

DEFAULT_QUANTILES = (0.5, 0.95, 0.99)


def quantile_column(q: float) -> str:
    """Column name for quantile ``q``: 0.5 → ``p50``, 0.95 → ``p95``, 0.999 → ``p99.9``."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q!r} is outside [0, 1]: pass e.g. 0.5, 0.95, 0.99")
    return f"p{100 * q:g}"


def min_calls_for(q: float) -> int:
    """Fewest values for which quantile ``q`` says something about the tail: ⌈1 / (1 − q)⌉.

    With fewer, the estimate is an interpolation towards the largest value seen (P99 of 50 calls
    is just "almost the maximum"), so it is reported as NULL. P50 needs 2, P95 20, P99 100.
    """
    if q >= 1:
        return 1
    return max(1, math.ceil(round(1 / (1 - q), 9)))


@keyword_only("by", "every", "quantiles", "min_count")
def percentiles(
    calls: CallsLike,
    measure: str | Sequence[str] = "latency_s",
    *,
    by: str | Sequence[str] = (),
    every: str | timedelta | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    min_count: int | None = None,
    where: WhereLike = None,
    approx: bool = False,
) -> pl.DataFrame:
    """Exact quantiles of ``measure`` per group and time bucket, with the number of values.

    Returns one row per group (the ``by`` columns, then ``bucket`` — the bucket's start, UTC —
    when ``every`` is given) with ``n`` (calls with a non-NULL measure) and a column per quantile
    named ``p50``, ``p95``, …; with several measures the names are prefixed (``ttft_s_n``,
    ``ttft_s_p95``). Quantiles interpolate linearly between order statistics, as numpy's default.
    A quantile is NULL when the group has fewer than ``min_count`` values — by default
    :func:`min_calls_for` ``(q)`` — so a P99 of three calls never shows as a number.
    ``where`` (a :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.

    ``approx=True`` answers from a store's rollups when ``by``, ``every`` and ``where`` allow
    it (rollup labels, whole hours; see :mod:`~llmobs_nb.analytics.rollup_engine`): each
    quantile is then within 1 % of the exact one, relatively, and the ``n`` are exact. The
    answer has one more column, ``rel_error``: that bound (0.01), or 0.0 when it was exact.

    Example:
        >>> percentiles(calls, "latency_s", by=["model"], every="1h", quantiles=(0.5, 0.95))
    """
    measures = as_columns(measure)
    by = as_columns(by)
    names = {q: quantile_column(q) for q in quantiles}
    every_us = every_to_us(every)
    prefix = len(measures) > 1
    with open_source(calls, where=where, approx=approx) as engine:
        check_columns(engine.columns, [*measures, *by, "start_time"], "percentiles")
        aggs: list[Agg] = []
        for m in measures:
            head = f"{m}_" if prefix else ""
            aggs.append(Agg(f"{head}n", "count", m))
            aggs += [Agg(f"{head}{names[q]}", "quantile", m, q) for q in quantiles]
        out = engine.run(Aggregate(grouping(by, every_us), tuple(aggs)))
        bound = error_bound(engine)
    guards = []
    for m in measures:
        head = f"{m}_" if prefix else ""
        for q in quantiles:
            needed = min_calls_for(q) if min_count is None else min_count
            column = f"{head}{names[q]}"
            guards.append(pl.when(pl.col(f"{head}n") >= needed).then(pl.col(column)).alias(column))
    keys = [*by, *(["bucket"] if every_us else [])]
    out = out.with_columns(guards)
    if approx:
        out = out.with_columns(pl.lit(bound).alias("rel_error"))
    return out.sort(keys, nulls_last=True) if keys else out


def _percentiles_of(measure: str, name: str, doc: str) -> Callable[..., pl.DataFrame]:
    """:func:`percentiles` of one column, as a function named ``name`` documented ``doc``:
    percentiles' own signature without ``measure``."""

    def of_measure(calls: CallsLike, **options: Any) -> pl.DataFrame:
        return percentiles(calls, measure, **options)

    own = inspect.signature(percentiles)
    kept = [p for p in own.parameters.values() if p.name != "measure"]
    of_measure.__signature__ = own.replace(parameters=kept)  # type: ignore[attr-defined]
    of_measure.__name__ = of_measure.__qualname__ = name
    of_measure.__doc__ = doc
    return keyword_only("by", "every", "quantiles", "min_count")(of_measure)


latency_percentiles = _percentiles_of(
    "latency_s",
    "latency_percentiles",
    """Percentiles of ``latency_s``; see :func:`percentiles` for the columns and the NULL rule.

    Keyword-only after ``calls``: ``by``, ``every``, ``quantiles``, ``min_count``, ``where``,
    ``approx``.

    Example:
        >>> latency_percentiles(calls, by=["model"], every="1h")  # model, bucket, n, p50, p95, p99
    """,
)
ttft_percentiles = _percentiles_of(
    "ttft_s",
    "ttft_percentiles",
    """Percentiles of ``ttft_s`` over streamed calls (NULL TTFT is not counted in ``n``).

    Keyword-only after ``calls``: ``by``, ``every``, ``quantiles``, ``min_count``, ``where``,
    ``approx``.

    Example:
        >>> ttft_percentiles(calls, by=["model"])  # model, n, p50, p95, p99
    """,
)
