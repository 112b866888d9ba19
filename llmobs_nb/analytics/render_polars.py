"""Plans rendered as polars expressions, run over (lazy) frames of calls and scores.

The twin of ``render_sql``: the same plan gives the same columns, dtypes and values here as in
DuckDB (integer bucket arithmetic on epoch microseconds, NULL sums of nothing, linear
quantiles that skip NULLs).

Example:
    >>> frame = pl.LazyFrame({"model": ["a", "b"]})
    >>> frame.filter(where_expr((Condition("model", "==", "a"),))).collect()["model"].to_list()
    ['a']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

import polars as pl

from llmobs_nb.analytics.columns import SCORE_COLUMNS, check_columns
from llmobs_nb.analytics.plan import (
    ROWS,
    Agg,
    Aggregate,
    Condition,
    Key,
    Rows,
    Scored,
    TimeBucket,
    ValueBin,
    finish,
)


def condition_expr(c: Condition) -> pl.Expr:
    """One condition as a polars expression.

    Example:
        >>> condition_expr(Condition("model", "is_null"))
        <Expr ['col("model").is_null()'] at ...>
    """
    col = pl.col(c.column)
    if c.op == "==":
        return col == c.value
    if c.op == "in":
        return col.is_in(list(c.value))
    if c.op == ">=":
        return col >= c.value
    if c.op == "<":
        return col < c.value
    if c.op == "<=":
        return col <= c.value
    if c.op == "not_null":
        return col.is_not_null()
    return col.is_null()


def where_expr(conditions: Sequence[Condition]) -> pl.Expr:
    """All ``conditions`` together (``True`` when there are none).

    Example:
        >>> where_expr(())
        <Expr ['true'] at ...>
    """
    if not conditions:
        return pl.lit(True)
    return reduce(lambda a, b: a & b, (condition_expr(c) for c in conditions))


def filtered(frame: pl.LazyFrame, conditions: Sequence[Condition]) -> pl.LazyFrame:
    """``frame`` without the rows that fail a condition."""
    return frame.filter(where_expr(conditions)) if conditions else frame


def key_expr(key: Key) -> pl.Expr:
    """A group key: a column, a time bucket's start or a value bin's index."""
    if isinstance(key, TimeBucket):
        # Integer arithmetic on epoch microseconds, as in SQL: both engines cut at the same
        # instants.
        start = pl.col(key.column).dt.epoch("us")
        bucket = pl.from_epoch(start // key.every_us * key.every_us, "us")
        return bucket.dt.replace_time_zone("UTC").alias(key.name)
    if isinstance(key, ValueBin):
        index = ((pl.col(key.column) - key.lo) / key.width).floor().clip(0, key.count - 1)
        return index.cast(pl.Int64).alias(key.name)
    return pl.col(key)


def agg_expr(a: Agg) -> pl.Expr:
    """One aggregate column."""
    col = pl.col(a.column) if a.column else pl.lit(1)
    read = a.rows_read()
    kept = where_expr(read).fill_null(False)  # NULL fails, as in SQL's FILTER (WHERE ...)
    if read:
        col = col.filter(kept)
    if a.op == "count_all":
        expr = kept.sum() if read else pl.len()
    elif a.op == "count":
        expr = col.count()
    elif a.op == "sum":
        # SQL semantics: the sum of no values is NULL, not 0 (an unpriced model costs NULL).
        expr = pl.when(col.count() > 0).then(col.sum())
    elif a.op == "mean":
        expr = col.mean()
    elif a.op == "min":
        expr = col.min()
    elif a.op == "max":
        expr = col.max()
    else:
        # Same answer (quantile skips NULLs), but dropping them first halves the time when many
        # rows are NULL (ttft_s of unstreamed calls).
        expr = col.drop_nulls().quantile(a.q, interpolation="linear")
    return expr.alias(a.output)


def aggregate(rows: pl.LazyFrame, plan: Aggregate) -> pl.DataFrame:
    """Run ``plan`` over ``rows`` (the calls, or the scored rows when ``plan.over`` is set)."""
    lf = filtered(rows, plan.where)
    group = [key_expr(k) for k in plan.keys]
    exprs = [agg_expr(a) for a in plan.aggs] + [pl.len().alias(ROWS)]
    out = lf.group_by(group).agg(exprs) if group else lf.select(exprs)
    if plan.above is not None:
        column, value = plan.above
        out = out.filter(pl.col(column) > value)
    if plan.top is not None:
        column, n = plan.top
        out = out.filter(pl.col(column).is_not_null()).top_k(n, by=column)
    return finish(out.collect(), plan)


def rows(frame: pl.LazyFrame, plan: Rows) -> pl.DataFrame:
    """The rows and columns ``plan`` asks for."""
    lf = filtered(frame, plan.where)
    if plan.columns is not None:
        lf = lf.select(plan.columns)
    return (lf.sort(plan.order_by) if plan.order_by else lf).collect()


def scored(
    calls: pl.LazyFrame,
    scores: pl.LazyFrame,
    plan: Scored,
    base: Sequence[Condition] = (),
) -> pl.DataFrame:
    """The score → call rule of :class:`~llmobs_nb.analytics.plan.Scored`, in polars.

    ``calls`` are all the calls: a score is matched to its call among them, then kept when
    that call passes ``base`` and ``plan.where``.
    """
    check_columns(scores.collect_schema().names(), SCORE_COLUMNS, "scores")
    keys = list(plan.keys)
    conditions = (*base, *plan.where)
    # Casts: a hand-built frame may type an all-NULL span_id column as Null.
    scores = scores.select(
        pl.col("trace_id").cast(pl.String),
        pl.col("span_id").cast(pl.String),
        pl.col("name").cast(pl.String).alias("score_name"),
        pl.col("value").cast(pl.Float64),
    ).filter(pl.col("value").is_not_null())
    if plan.score_name is not None:
        scores = scores.filter(pl.col("score_name") == plan.score_name)
    scores = scores.with_row_index("__score")
    wanted = ["trace_id", "span_id", "kind", "start_time", *keys, *(c.column for c in conditions)]
    calls = calls.select(list(dict.fromkeys(wanted)))
    matched = (
        scores.filter(pl.col("span_id").is_not_null())
        .join(calls.drop("trace_id"), on="span_id", how="inner")
        .collect()
    )
    orphans = scores.join(matched.lazy().select("__score"), on="__score", how="anti").collect()
    parts = [matched.drop("span_id", "trace_id")]
    if orphans.height:
        # The trace's first call among all calls: kind 'llm' first, then the earliest start.
        first = (
            calls.join(orphans.lazy().select("trace_id").unique(), on="trace_id", how="semi")
            .sort([pl.col("kind") != "llm", "start_time"])
            .unique("trace_id", keep="first", maintain_order=False)
            .drop("span_id")
        )
        by_trace = orphans.lazy().drop("span_id").join(first, on="trace_id")
        parts.append(by_trace.drop("trace_id").collect())
    both = filtered(pl.concat(parts, how="diagonal_relaxed").lazy(), conditions)
    return both.select(
        *[pl.col(k) for k in keys],
        "score_name",
        pl.col("value").cast(pl.Float64),
        pl.col("start_time").alias("time"),
    ).collect()
