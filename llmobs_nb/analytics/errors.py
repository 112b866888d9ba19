"""Error counts and rates, per error type and any dimension."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import as_columns, keyword_only
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, every_to_us, grouping
from llmobs_nb.analytics.render_polars import condition_expr
from llmobs_nb.analytics.source import CallsLike, open_source

#: What makes a call an error, for every engine: its ``status`` is ``"error"``.
IS_ERROR = Condition("status", "==", "error")


@keyword_only("by", "every", "by_error_type")
def error_rates(
    calls: CallsLike,
    *,
    by: str | Sequence[str] = (),
    every: str | timedelta | None = None,
    by_error_type: bool = True,
    where: WhereLike = None,
    approx: bool = False,
) -> pl.DataFrame:
    """Errors as a count and a share of all calls, per group, time bucket and error type.

    A call is an error when its ``status`` is ``"error"``. Returns the ``by`` columns (and
    ``bucket`` with ``every``), then — with ``by_error_type`` — ``error_type`` (``"unknown"``
    when an error has none), followed by ``calls`` (all calls of the group and bucket, the
    denominator), ``errors`` and ``error_rate`` (errors / calls). A group without errors keeps
    one row with ``error_type`` NULL, ``errors`` 0 and ``error_rate`` 0.0, so a quiet hour shows
    as zero rather than as a gap. ``where`` (a :class:`~llmobs_nb.analytics.Filter` or a
    dict) narrows the calls first.
    ``approx=True`` answers from a store's rollups when ``by``, ``every`` and ``where``
    allow it (rollup labels, whole hours: :mod:`~llmobs_nb.analytics.rollup_engine`); the
    counts and sums there are exact, so the answer is the same.

    Example:
        >>> error_rates(calls, by=["model"], every="1h")
    """
    by = as_columns(by)
    every_us = every_to_us(every)
    with open_source(calls, where=where, approx=approx) as engine:
        check_columns(engine.columns, ["status", "error_type", *by, "start_time"], "error_rates")
        keys = grouping([*by, "status", "error_type"], every_us)
        counts = engine.run(Aggregate(keys, (Agg("n", "count_all"),)))
    keys = [*by, *(["bucket"] if every_us else [])]
    # With no dimension at all, one constant key keeps the group-and-join steps uniform.
    group = keys or ["__all"]
    is_error = condition_expr(IS_ERROR)
    counts = counts.with_columns(
        pl.lit(0).alias("__all"),
        pl.when(is_error).then(pl.col("error_type").fill_null("unknown")).alias("error_type"),
        pl.when(is_error).then(pl.col("n")).otherwise(0).alias("errors"),
    )
    # The denominator is every call of the group, whatever its status or error type.
    totals = counts.group_by(group).agg(pl.col("n").sum().alias("calls"))
    if by_error_type:
        errors = (
            counts.filter(pl.col("errors") > 0)
            .group_by([*group, "error_type"])
            .agg(pl.col("errors").sum())
        )
        quiet = totals.join(errors, on=group, how="anti", nulls_equal=True).with_columns(
            pl.lit(None, pl.String).alias("error_type"), pl.lit(0, pl.Int64).alias("errors")
        )
        noisy = errors.join(totals, on=group, nulls_equal=True)
        out = pl.concat([noisy, quiet.select(noisy.columns)], how="vertical_relaxed")
        columns = [*keys, "error_type"]
    else:
        errors = counts.group_by(group).agg(pl.col("errors").sum())
        out = errors.join(totals, on=group, nulls_equal=True)
        columns = keys
    out = out.select(
        *columns,
        pl.col("calls").cast(pl.Int64),
        pl.col("errors").cast(pl.Int64),
        (pl.col("errors") / pl.col("calls")).alias("error_rate"),
    )
    order = [*keys, "errors", *(["error_type"] if by_error_type else [])]
    return out.sort(order, descending=[c == "errors" for c in order], nulls_last=True)
