"""Score distribution and score over time: the two score aggregates the charts need.

Both are analytics plans over the scored rows (``analytics.plan.Scored``: the one score → call
rule), so they run in DuckDB on a store and in polars on frames, with the same answer.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from llmobs_nb.analytics.plan import Agg, Aggregate, Scored, TimeBucket, ValueBin, every_to_us
from llmobs_nb.analytics.source import open_source

_SUMMARY = (
    Agg("n", "count_all"),
    Agg("total", "sum", "value"),
    Agg("lo", "min", "value"),
    Agg("hi", "max", "value"),
)


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
    with open_source(calls, scores) as engine:
        while True:
            width = (hi - lo) / bins
            key = ValueBin("value", lo, width, bins)
            plan = Aggregate((key,), _SUMMARY, over=Scored((), score_name))
            counts = engine.run(plan).sort("i")
            if counts.height == 0:
                return pl.DataFrame(schema=schema), 0, None
            low, high = float(counts["lo"].min()), float(counts["hi"].max())  # type: ignore[arg-type]
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
    keys = tuple(by)
    plan = Aggregate(
        (*keys, TimeBucket(every_us, "time")),
        (Agg("n", "count_all"), Agg("mean", "mean", "value")),
        over=Scored(keys, score_name),
    )
    with open_source(calls, scores) as engine:
        return engine.run(plan).sort([*keys, "bucket"])
