"""Latency and time to first token over time, per model: P50/P95/P99 lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt

from llmobs_nb import analytics
from llmobs_nb.analytics import quantile_column
from llmobs_nb.view.buckets import ask_capped
from llmobs_nb.view.chart_common import category_color, empty_chart, time_x, utc_tooltip
from llmobs_nb.view.chart_display import draws_offline

# Enough calls per bucket (over all groups) that a few models each get a P95 (20 calls).
CALLS_PER_BUCKET = 500


def _percentile_chart(
    calls: Any,
    measure: str,
    title: str,
    y_title: str,
    by: str,
    every: str | None,
    quantiles: Sequence[float],
    domain: Sequence[str] | None,
) -> alt.Chart | alt.LayerChart:
    def ask(bucket: str) -> Any:
        return analytics.percentiles(calls, measure, by=[by], every=bucket, quantiles=quantiles)

    found, used = ask_capped(ask, calls, every, calls_per_bucket=CALLS_PER_BUCKET)
    columns = [quantile_column(q) for q in quantiles]
    found = found.select(by, "bucket", "n", *columns).drop_nulls(columns[0])
    if found.height == 0:
        return empty_chart(title)
    # Wide rows, folded by Vega: one row per group and bucket is what travels to the browser.
    return (
        alt.Chart(found, title=f"{title} per {used}")
        .transform_fold(columns, as_=["percentile", "seconds"])
        .mark_line(point=alt.OverlayMarkDef(size=12) if found.height < 60 else False)
        .encode(
            x=time_x("bucket", used),
            y=alt.Y("seconds:Q", title=y_title),
            color=category_color(by, domain, sorted(found[by].drop_nulls().unique())),
            strokeDash=alt.StrokeDash("percentile:N", sort=columns, title="percentile"),
            tooltip=[
                alt.Tooltip(f"{by}:N"),
                utc_tooltip(),
                alt.Tooltip("percentile:N"),
                alt.Tooltip("seconds:Q", format=".3f"),
                alt.Tooltip("n:Q", title="calls"),
            ],
        )
    )


@draws_offline
def latency_chart(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = None,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99),
    domain: Sequence[str] | None = None,
) -> alt.Chart | alt.LayerChart:
    """Latency P50/P95/P99 over time, one colour per ``by`` value, one dash per percentile.

    ``calls``: anything analytics accepts (a frame with the llm_calls columns, an observer,
    a DuckDB path, a filtered source). ``every=None`` picks a bucket from the time range so the
    chart holds at most a few thousand rows; a too-fine ``every`` is coarsened the same way.
    A bucket with too few calls for a percentile shows no point (see analytics.percentiles).
    ``domain``: every ``by`` value in a fixed order, so a value keeps its colour across filters.

    Example:
        >>> latency_chart(obs, every="1h")   # doctest: +SKIP
    """
    return _percentile_chart(
        calls, "latency_s", "Latency", "latency (s)", by, every, tuple(quantiles), domain
    )


@draws_offline
def ttft_chart(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = None,
    quantiles: Sequence[float] = (0.5, 0.95),
    domain: Sequence[str] | None = None,
) -> alt.Chart | alt.LayerChart:
    """Time to first token P50/P95 over time for streamed calls, one colour per ``by`` value.

    Example:
        >>> ttft_chart(obs)   # doctest: +SKIP
    """
    return _percentile_chart(
        calls, "ttft_s", "Time to first token", "TTFT (s)", by, every, tuple(quantiles), domain
    )
