"""Score distribution and score over time: the two score aggregates the charts need.

These belong in ``llmobs_nb.analytics`` (which has drift but no histogram or time series of
scores yet); they live here until it does, with the same join rule as analytics: a score is
attached to its LLM call by ``span_id``, else to its trace's first ``llm`` call. On a store
they run in DuckDB; on frames, analytics' own join gives the rows and polars aggregates.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from llmobs_nb.analytics.source import every_to_us, open_source

_SCORED_SQL = """
WITH s AS (SELECT trace_id, span_id, value FROM scores WHERE name = ? AND value IS NOT NULL),
c AS (SELECT trace_id, span_id, kind, start_time, {dims} FROM llm_calls),
first_call AS (
    SELECT * FROM c WHERE trace_id IN (SELECT trace_id FROM s WHERE span_id IS NULL)
    QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY (kind <> 'llm'), start_time) = 1
),
scored AS (
    SELECT c.start_time AS time, {c_dims}, s.value FROM s JOIN c ON s.span_id = c.span_id
    UNION ALL
    SELECT f.start_time AS time, {f_dims}, s.value FROM s JOIN first_call f
        ON s.span_id IS NULL AND s.trace_id = f.trace_id
)
"""


def _scored_sql(by: list[str]) -> str:
    dims = by or ["kind"]
    return _SCORED_SQL.format(
        dims=", ".join(dims),
        c_dims=", ".join(f"c.{d}" for d in dims),
        f_dims=", ".join(f"f.{d}" for d in dims),
    )


def _is_store(calls: Any) -> bool:
    return hasattr(calls, "sql") and not isinstance(calls, pl.DataFrame | pl.LazyFrame)


def _frame_rows(calls: Any, scores: Any, by: list[str], score_name: str) -> pl.DataFrame:
    with open_source(calls, scores) as engine:
        return engine.scored(by, score_name)


def score_summary(
    calls: Any, scores: pl.DataFrame | None = None, score_name: str = "quality", bins: int = 20
) -> tuple[pl.DataFrame, int, float | None]:
    """Histogram of ``score_name`` in ``bins`` equal bins over [0, 1] (wider when a value falls
    outside), with the number of scores and their mean — one pass over the scores.

    Returns (histogram with ``bin_start``, ``bin_end``, ``n``; count; mean or None).

    Example:
        >>> histogram, n, mean = score_summary(obs, score_name="quality", bins=10)  # doctest: +SKIP
    """
    schema = {"bin_start": pl.Float64, "bin_end": pl.Float64, "n": pl.Int64}
    lo, hi = 0.0, 1.0
    while True:
        width = (hi - lo) / bins
        if _is_store(calls) and scores is None:
            sql = _scored_sql([]) + (
                "SELECT greatest(least(floor((value - ?) / ?), ?), 0)::BIGINT AS i, "
                "count(*) AS n, sum(value) AS total, min(value) AS lo, max(value) AS hi "
                "FROM scored GROUP BY 1 ORDER BY 1"
            )
            counts = calls.sql(sql, [score_name, lo, width, bins - 1])
        else:
            rows = _frame_rows(calls, scores, [], score_name)
            counts = (
                rows.group_by(((pl.col("value") - lo) / width).floor().clip(0, bins - 1).alias("i"))
                .agg(
                    pl.len().alias("n"),
                    pl.col("value").sum().alias("total"),
                    pl.col("value").min().alias("lo"),
                    pl.col("value").max().alias("hi"),
                )
                .sort("i")
            )
        if counts.height == 0:
            return pl.DataFrame(schema=schema), 0, None
        low, high = float(counts["lo"].min()), float(counts["hi"].max())
        if low >= lo and high <= hi:
            break
        lo, hi = min(lo, low), max(hi, high)  # unbounded scores: one more pass, wider bins
    n = int(counts["n"].sum())
    histogram = counts.select(
        (pl.col("i") * width + lo).cast(pl.Float64).alias("bin_start"),
        ((pl.col("i") + 1) * width + lo).cast(pl.Float64).alias("bin_end"),
        pl.col("n").cast(pl.Int64),
    )
    return histogram, n, float(counts["total"].sum()) / n


def score_over_time(
    calls: Any,
    scores: pl.DataFrame | None = None,
    score_name: str = "quality",
    by: tuple[str, ...] = ("model",),
    every: str = "1h",
) -> pl.DataFrame:
    """Mean of ``score_name`` per group and time bucket (of the scored call's start):
    the ``by`` columns, ``bucket`` (UTC), ``n`` and ``mean``.

    Example:
        >>> score_over_time(obs, score_name="quality", by=("model",), every="1h")  # doctest: +SKIP
    """
    every_us = every_to_us(every)
    assert every_us is not None
    keys = list(by)
    if _is_store(calls) and scores is None:
        group = ", ".join([*keys, "bucket"])
        sql = _scored_sql(keys) + (
            f"SELECT {', '.join(keys) + ', ' if keys else ''}"
            f"(epoch_us(time) // {every_us}) * {every_us} AS bucket, "
            f"count(*) AS n, avg(value) AS mean FROM scored GROUP BY {group} ORDER BY {group}"
        )
        out = calls.sql(sql, [score_name]).with_columns(
            pl.from_epoch("bucket", "us").dt.replace_time_zone("UTC")
        )
    else:
        rows = _frame_rows(calls, scores, keys, score_name)
        start = pl.col("time").dt.epoch("us")
        bucket = pl.from_epoch(start // every_us * every_us, "us").dt.replace_time_zone("UTC")
        out = (
            rows.group_by([*keys, bucket.alias("bucket")])
            .agg(pl.len().alias("n"), pl.col("value").mean().alias("mean"))
            .sort([*keys, "bucket"])
        )
    return out.select(
        *keys,
        pl.col("bucket").cast(pl.Datetime("us", "UTC")),
        pl.col("n").cast(pl.Int64),
        pl.col("mean").cast(pl.Float64),
    )
