"""What the dashboard and the report show, asked of analytics over the selected calls.

Fast panels (one DuckDB aggregation each) are drawn on every filter change; the slow ones —
quality drift, which tests every group's scores, and cost anomalies — are computed apart so the
dashboard can draw them a moment later without holding up the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.view.buckets import stable_every
from llmobs_nb.view.cost_charts import (
    HOURLY_BUDGET_USD,
    cost_chart,
    token_rate_chart,
    top_users_chart,
)
from llmobs_nb.view.data_source import HEADLINE_QUANTILES, FilteredCalls
from llmobs_nb.view.error_charts import error_chart
from llmobs_nb.view.latency_charts import CALLS_PER_BUCKET, latency_chart, ttft_chart
from llmobs_nb.view.quality_charts import quality_chart, quality_distribution_chart
from llmobs_nb.view.score_stats import score_summary

FAST_PANELS = ("latency", "ttft", "tokens", "cost", "errors", "top_users", "quality_distribution")
# Drawn from the dashboard's background thread (trace lists go there too).
SLOW_PANELS = ("quality",)


_ASK = object()


def headline(calls: Any, score_name: str = "quality", mean_score: Any = _ASK) -> dict[str, Any]:
    """Calls, cost, P95 latency, error rate and mean ``score_name`` of the selected calls
    (``mean_score``, when the caller already has it from :func:`score_summary`).

    Example:
        >>> headline(DataSource(obs).filtered(Filter()))   # doctest: +SKIP
        {'calls': 1000, 'cost_usd': 12.3, 'p95_latency_s': 4.1, 'error_rate': 0.015, ...}
    """
    if isinstance(calls, FilteredCalls):  # a redraw's summary, asked once
        found = calls.summary()
    else:
        found = analytics.summary(calls, quantiles=HEADLINE_QUANTILES, approx=True)
    figures = found.row(0, named=True)
    mean = score_summary(calls, score_name=score_name)[2] if mean_score is _ASK else mean_score
    return {
        "calls": figures["calls"],
        "cost_usd": figures["cost_usd"],
        "p95_latency_s": figures["latency_p95"],
        "p95_rel_error": figures.get("rel_error") or 0.0,
        "error_rate": figures["error_rate"],
        "mean_quality": mean,
        "alerts": None,
    }


def fast_panels(
    calls: Any,
    *,
    budget_usd_per_hour: float | None = HOURLY_BUDGET_USD,
    score_name: str = "quality",
    models: Sequence[str] | None = None,
) -> tuple[dict[str, Any], dict[str, alt.TopLevelMixin]]:
    """The headline figures and the charts drawn on every filter change (by panel name, see
    :data:`FAST_PANELS`); the score histogram and mean come from one pass. ``models``: every
    model of the store in a fixed order, so a model keeps its colour across filters. The
    time buckets come from the filter's time range (:func:`buckets.stable_every`), so they
    do not change when a model is chosen."""
    histogram, _, mean = score_summary(calls, score_name=score_name)
    per = stable_every(calls, CALLS_PER_BUCKET)
    return headline(calls, score_name, mean), {
        "latency": latency_chart(calls, every=per, domain=models),
        "ttft": ttft_chart(calls, every=per, domain=models),
        "tokens": token_rate_chart(calls, every=stable_every(calls)),
        "cost": cost_chart(calls, budget_usd_per_hour=budget_usd_per_hour, domain=models),
        "errors": error_chart(calls),
        "top_users": top_users_chart(calls),
        "quality_distribution": quality_distribution_chart(
            calls, score_name=score_name, histogram=histogram
        ),
    }


def drift_and_anomalies(
    calls: Any, score_name: str = "quality", threshold: float = 0.7
) -> dict[str, Any]:
    """Quality drift per model and cost anomalies, their alert count, and the quality chart.

    Returns ``drift`` and ``cost_anomalies`` (analytics frames), ``alerts`` (drift alerts +
    cost alerts) and ``quality`` (the quality-over-time chart with baselines).
    """
    drift = analytics.quality_drift(calls, by=["model"], score_name=score_name, threshold=threshold)
    anomalies = analytics.cost_anomalies(calls)
    count = int(drift["alert"].sum()) if drift.height else 0
    return {
        "drift": drift,
        "cost_anomalies": anomalies,
        "alerts": count + anomalies.height,
        "quality": quality_chart(calls, score_name=score_name, threshold=threshold, drift=drift),
    }


def trace_lists(calls: Any, n: int = 10) -> dict[str, pl.DataFrame]:
    """The slowest, most expensive and failed traces of the selection, ``n`` of each.

    Candidates are the traces of the slowest, most expensive and latest failed LLM calls (a
    top-N the store answers without grouping every trace); their totals are then computed
    over the trace's LLM calls: ``duration_s`` (first start to last end), ``calls``,
    ``cost_usd``, ``errors``, ``models``.
    """
    picks = {
        "slowest": ("latency_s DESC NULLS LAST", "TRUE", "duration_s DESC NULLS LAST"),
        "most expensive": ("cost_usd DESC NULLS LAST", "TRUE", "cost_usd DESC NULLS LAST"),
        "failed": ("start_time DESC", "status = 'error'", "started DESC"),
    }
    out = {}
    for name, (pick, where, order) in picks.items():
        out[name] = calls.sql(
            f"""
            WITH picked AS (
                SELECT DISTINCT trace_id FROM (
                    SELECT trace_id FROM llm_calls WHERE {where} ORDER BY {pick} LIMIT ?))
            SELECT trace_id, min(start_time) AS started,
                   date_diff('millisecond', min(start_time), max(end_time)) / 1000.0
                       AS duration_s,
                   count(*) AS calls, sum(cost_usd) AS cost_usd,
                   count(*) FILTER (WHERE status = 'error') AS errors,
                   string_agg(DISTINCT model, ', ') AS models
            FROM llm_calls WHERE trace_id IN (SELECT trace_id FROM picked)
            GROUP BY trace_id ORDER BY {order}, trace_id LIMIT ?
            """,
            [3 * n, n],
        )
    return out
