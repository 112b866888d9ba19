"""One row about the selected calls: how many, how many failed, what they cost, how slow.

The dashboard's headline in one scan, where asking :func:`~llmobs_nb.analytics.cost_breakdown`,
:func:`~llmobs_nb.analytics.error_rates` and :func:`~llmobs_nb.analytics.latency_percentiles`
would read the calls three times; each figure follows that function's rule (``IS_ERROR``, the
NULL sum of unpriced calls, the fewest calls a percentile needs).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.errors import IS_ERROR
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.percentiles import min_calls_for, quantile_column
from llmobs_nb.analytics.plan import Agg, Aggregate
from llmobs_nb.analytics.rollup_engine import error_bound
from llmobs_nb.analytics.source import CallsLike, open_source


def summary(
    calls: CallsLike,
    *,
    quantiles: Sequence[float] = (0.5, 0.95),
    where: WhereLike = None,
    approx: bool = False,
) -> pl.DataFrame:
    """The selected calls in one row, from one scan.

    Columns: ``calls``; ``errors`` and ``error_rate`` (as :func:`error_rates`: a call is an
    error when its ``status`` is ``"error"``); ``priced_calls`` and ``cost_usd`` (as
    :func:`cost_breakdown`: NULL when no call is priced); ``latency_n`` and one
    ``latency_p<q>`` per quantile (as :func:`latency_percentiles`: NULL with fewer calls than
    the quantile needs); ``first_call`` and ``last_call`` (the earliest and latest
    ``start_time``). No calls: one row with ``calls`` 0 and NULL figures.
    ``where`` (a :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.
    ``approx=True`` answers from a store's rollups when the filter allows it (hours and
    labels; see :mod:`~llmobs_nb.analytics.rollup_engine`) and adds ``rel_error``: the
    largest relative error of the latency quantiles (0.01 from rollups, 0.0 when exact);
    counts, sums and times stay exact.

    Example:
        >>> summary(calls, quantiles=(0.95,))  # doctest: +SKIP
        shape: (1, 9)  calls, errors, …, latency_n, latency_p95, first_call, last_call
    """
    names = {q: f"latency_{quantile_column(q)}" for q in quantiles}
    aggs = (
        Agg("calls", "count_all"),
        Agg("errors", "count_all", where=IS_ERROR),
        Agg("priced_calls", "count", "cost_usd"),
        Agg("cost_usd", "sum", "cost_usd"),
        Agg("latency_n", "count", "latency_s"),
        *(Agg(names[q], "quantile", "latency_s", q) for q in quantiles),
        Agg("first_call", "min", "start_time"),
        Agg("last_call", "max", "start_time"),
    )
    with open_source(calls, where=where, approx=approx) as engine:
        check_columns(engine.columns, ["status", "cost_usd", "latency_s", "start_time"], "summary")
        out = engine.run(Aggregate((), aggs))
        bound = error_bound(engine)
    if out.height == 0:  # no calls: counts are 0, figures NULL
        counts = ("calls", "errors", "priced_calls", "latency_n")
        out = pl.DataFrame([[0 if c in counts else None] for c in out.columns], schema=out.schema)
    guards = [
        pl.when(pl.col("latency_n") >= min_calls_for(q)).then(pl.col(name)).alias(name)
        for q, name in names.items()
    ]
    rate = (pl.col("errors") / pl.col("calls")).alias("error_rate")
    out = out.with_columns(*guards)
    out = out.with_columns(pl.when(pl.col("calls") > 0).then(rate).alias("error_rate"))
    figures = ["calls", "errors", "error_rate", "priced_calls", "cost_usd", "latency_n"]
    out = out.select(*figures, *names.values(), "first_call", "last_call")
    return out.with_columns(pl.lit(bound).alias("rel_error")) if approx else out
