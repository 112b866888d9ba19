"""What the dashboard and the report show, asked of analytics over the selected calls.

Fast panels (one DuckDB aggregation each) are drawn on every filter change; the slow ones —
quality drift, which tests every group's scores, and cost anomalies — are computed apart so the
dashboard can draw them a moment later without holding up the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.analytics.columns import LLM_CALLS_COLUMNS
from llmobs_nb.analytics.errors import IS_ERROR
from llmobs_nb.analytics.percentiles import min_calls_for, quantile_column
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, grouping
from llmobs_nb.analytics.rollup_engine import error_bound
from llmobs_nb.analytics.source import open_source, open_spans
from llmobs_nb.analytics.span_sql import Sql
from llmobs_nb.view.alert_details import alert_list
from llmobs_nb.view.buckets import stable_every
from llmobs_nb.view.cost_charts import (
    HOURLY_BUDGET_USD,
    cost_chart,
    token_rate_chart,
    top_users_chart,
)
from llmobs_nb.view.data_source import HEADLINE_QUANTILES, FilteredCalls
from llmobs_nb.view.error_charts import error_chart
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.html import format_cost, format_duration, format_percent
from llmobs_nb.view.latency_charts import CALLS_PER_BUCKET, percentile_charts
from llmobs_nb.view.quality_charts import quality_chart, quality_distribution_chart
from llmobs_nb.view.score_stats import score_summary

FAST_PANELS = ("latency", "ttft", "tokens", "cost", "errors", "top_users", "quality_distribution")
# Drawn from the dashboard's background thread (trace lists go there too).
SLOW_PANELS = ("quality",)
#: The panels the dashboard's percentile switch redraws, and the percentiles it offers.
PERCENTILE_PANELS = ("latency", "ttft")
PERCENTILES = (0.5, 0.95, 0.99)
#: The latency percentile of the per-model table (the headline's).
TABLE_QUANTILE = HEADLINE_QUANTILES[0]
#: Rows of the per-model table (the busiest models); the rest are counted below it.
TABLE_ROWS = 12


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
    models: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    quantile: float = 0.95,
    early: Callable[[dict[str, Any], dict[str, alt.TopLevelMixin]], None] | None = None,
) -> tuple[dict[str, Any], dict[str, alt.TopLevelMixin]]:
    """The headline figures and the charts drawn on every filter change (by panel name, see
    :data:`FAST_PANELS`); the score histogram and mean come from one pass. ``models``: every
    model of the store in a fixed order, so a model keeps its colour across filters, or a
    function that returns them (called when a chart first needs them: the dashboard's first
    draw starts while they are asked). The time buckets come from the filter's time range
    (:func:`buckets.stable_every`), so they do not change when a model is chosen.
    ``quantile``: the percentile the latency and TTFT charts draw (:func:`percentile_panels`).
    The cost bars share the tokens chart's bucket (the budget line is scaled to it).
    ``early``: called with the headline figures and every chart but the latency and TTFT
    ones (the sketches', asked on the side thread, which take longest) as soon as they are
    made, while those are still asked.

    Example:
        >>> figures, charts = fast_panels(DataSource(obs).filtered(Filter()))  # doctest: +SKIP
        >>> figures["calls"], sorted(charts)[:2]                               # doctest: +SKIP
        (1000, ['cost', 'errors'])
    """
    every = stable_every(calls)  # the time extent, which both threads read, asked first
    domain = models if callable(models) else lambda: models

    def ask_percentiles() -> dict[str, alt.TopLevelMixin]:
        return percentile_panels(calls, quantile=quantile, models=domain())

    if isinstance(calls, FilteredCalls):  # the sketches' two charts, beside the rest
        percentiles = calls.beside(ask_percentiles)
    else:
        answered = ask_percentiles()
        percentiles = lambda: answered  # noqa: E731
    histogram, _, mean = score_summary(calls, score_name=score_name)
    figures = headline(calls, score_name, mean)
    rest = {
        "tokens": token_rate_chart(calls, every=every),
        # The time range's bucket, as the other charts: hourly bars over a month are 720
        # slivers per model (the budget line is scaled to the bucket).
        "cost": cost_chart(
            calls, every=every, budget_usd_per_hour=budget_usd_per_hour, domain=domain()
        ),
        "errors": error_chart(calls),
        "top_users": top_users_chart(calls),
        "quality_distribution": quality_distribution_chart(
            calls, score_name=score_name, histogram=histogram
        ),
    }
    if early is not None:
        early(figures, rest)
    return figures, {**percentiles(), **rest}


def percentile_panels(
    calls: Any, *, quantile: float = 0.95, models: Sequence[str] | None = None
) -> dict[str, alt.TopLevelMixin]:
    """The latency and TTFT charts (:data:`PERCENTILE_PANELS`) at percentile ``quantile``:
    what the dashboard's percentile switch redraws, alone. Their time bucket is
    :func:`fast_panels`' (from the filter's time range), so switching keeps it."""
    per = stable_every(calls, CALLS_PER_BUCKET)
    return percentile_charts(calls, every=per, quantile=quantile, domain=models)


def model_table(calls: Any, *, quantile: float = TABLE_QUANTILE) -> pl.DataFrame:
    """Per model: ``calls``, ``errors``, ``error_rate``, ``cost_usd``, ``latency_n`` and
    ``latency_p95`` (at ``quantile``), busiest model first, in ONE aggregation — answered from
    the rollups where the source allows it, as the headline is (a dashboard's filtered calls:
    its ``approx``; any other source: ``approx=True``). Each figure follows analytics' rule
    (:func:`~llmobs_nb.analytics.summary`): an error is a ``status`` of ``"error"``, the cost
    is NULL when no call of the model is priced, the percentile NULL below
    ``min_calls_for(quantile)`` calls. ``rel_error``: the percentile's bound (0.0 when exact).

    Example:
        >>> model_table(DataSource(obs).filtered(Filter()))   # doctest: +SKIP
        shape: (5, 8)  model, calls, errors, error_rate, cost_usd, latency_n, latency_p95, …
    """
    p = f"latency_{quantile_column(quantile)}"
    aggs = (
        Agg("calls", "count_all"),
        Agg("errors", "count_all", where=IS_ERROR),
        Agg("cost_usd", "sum", "cost_usd"),
        Agg("latency_n", "count", "latency_s"),
        Agg(p, "quantile", "latency_s", quantile),
    )
    with open_source(calls, approx=True) as engine:
        found = engine.run(Aggregate(grouping(["model"], None), aggs))
        bound = error_bound(engine)
    enough = pl.col("latency_n") >= min_calls_for(quantile)
    return (
        found.with_columns(
            (pl.col("errors") / pl.col("calls")).alias("error_rate"),
            pl.when(enough).then(pl.col(p)).alias(p),
            pl.lit(bound).alias("rel_error"),
        )
        .select("model", "calls", "errors", "error_rate", "cost_usd", "latency_n", p, "rel_error")
        .sort(["calls", "model"], descending=[True, False], nulls_last=True)
    )


def model_table_html(table: pl.DataFrame, max_rows: int = TABLE_ROWS) -> str:
    """:func:`model_table` as a small HTML table, figures written for people ("1.8 s",
    "2.3 %", "$12.40"; "≈" before a percentile from the rollups' sketches), every text
    escaped (:func:`~llmobs_nb.view.escaping.html_text`). Empty when there are no calls.

    Example:
        >>> "gpt-4o" in model_table_html(model_table(calls))   # doctest: +SKIP
        True
    """
    if table.height == 0:
        return ""
    p = next(c for c in table.columns if c.startswith("latency_p"))
    label = p.removeprefix("latency_").upper()
    head = "".join(
        f"<th>{html_text(c)}</th>"
        for c in ("model", "calls", f"{label} latency", "error rate", "cost")
    )
    rows = []
    for row in table.head(max_rows).iter_rows(named=True):
        about = "≈" if row.get("rel_error") else ""
        model = "—" if row["model"] is None else row["model"]
        figures = (
            f"{row['calls']:,}",
            "—" if row[p] is None else about + format_duration(row[p]),
            format_percent(row["error_rate"]),
            format_cost(row["cost_usd"]),
        )
        cells = "".join(f'<td class="num">{html_text(text)}</td>' for text in figures)
        rows.append(f"<tr><td>{html_text(model)}</td>{cells}</tr>")
    more = ""
    if table.height > max_rows:
        more = f'<div class="muted">{html_text(f"{table.height - max_rows:,} more models")}</div>'
    return (
        f'<table class="llmobs-models"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def drift_and_anomalies(
    calls: Any, score_name: str = "quality", threshold: float = 0.7
) -> dict[str, Any]:
    """Quality drift per model and cost anomalies, their alert count, and the quality chart.

    Returns ``drift`` and ``cost_anomalies`` (analytics frames), ``alerts`` (drift alerts +
    cost alerts), ``alert_list`` (each alert in words:
    :func:`~llmobs_nb.view.alert_details.alert_list`) and ``quality`` (the quality-over-time
    chart with baselines).
    """
    drift = analytics.quality_drift(calls, by=["model"], score_name=score_name, threshold=threshold)
    anomalies = analytics.cost_anomalies(calls)
    count = int(drift["alert"].sum()) if drift.height else 0
    return {
        "drift": drift,
        "cost_anomalies": anomalies,
        "alerts": count + anomalies.height,
        "alert_list": alert_list(drift, anomalies, threshold=threshold),
        "quality": quality_chart(calls, score_name=score_name, threshold=threshold, drift=drift),
    }


#: The trace lists: how each picks its candidate calls, and its order.
TRACE_LISTS: dict[str, tuple[tuple[Condition, ...], str, str]] = {
    "slowest": ((), "latency_s DESC NULLS LAST", "duration_s"),
    "most expensive": ((), "cost_usd DESC NULLS LAST", "cost_usd"),
    "failed": ((IS_ERROR,), "start_time DESC", "started"),
}
"""Each list: the calls it picks from (conditions), their order, and the figure it sorts by."""
_TRACE_COLUMNS = ("trace_id", "start_time", "end_time", "status", "error_type", "user_id")


def _trace_lists_sql(q: Sql, selected: Sequence[Condition], n: int) -> str:
    # Written in text order: each placeholder's value is appended as its text is written.
    d = q.dialect
    branches = " UNION ALL ".join(
        f"SELECT DISTINCT '{name}' AS list, trace_id FROM ("
        f"SELECT trace_id FROM llm_calls WHERE {q.where((*selected, *only))} "
        f"ORDER BY {pick}, trace_id LIMIT {int(3 * n)})"  # ties broken: picked is read thrice
        for name, (only, pick, _) in TRACE_LISTS.items()
    )
    return f"""
        WITH picked AS ({branches}),
        per_call AS (
            SELECT trace_id, count(*) AS calls, sum(cost_usd) AS cost_usd,
                   count(*) FILTER (WHERE {q.where((IS_ERROR,))}) AS errors,
                   {d.joined_distinct("model", "', '")} AS models
            FROM llm_calls WHERE {q.where(selected)}
            AND trace_id IN (SELECT trace_id FROM picked) GROUP BY trace_id),
        per_trace AS (
            SELECT trace_id, min(start_time) AS started, max(end_time) AS ended,
                   count(*) AS spans, count(*) FILTER (WHERE {q.where((IS_ERROR,))})
                   AS failed_spans,
                   min(error_type) FILTER (WHERE {q.where((IS_ERROR,))}) AS error_type,
                   {d.joined_distinct("user_id", "', '")} AS user_id
            FROM spans WHERE trace_id IN (SELECT trace_id FROM picked) GROUP BY trace_id)
        SELECT p.list AS list, p.trace_id AS trace_id, t.started AS started,
               ({d.epoch_us("t.ended")} - {d.epoch_us("t.started")}) / 1e6 AS duration_s,
               t.user_id AS user_id,
               CASE WHEN t.failed_spans = 0 THEN 'ok' ELSE coalesce(t.error_type, 'error')
               END AS status,
               c.cost_usd AS cost_usd, c.models AS models, c.calls AS calls,
               c.errors AS errors, t.spans AS spans, t.failed_spans AS failed_spans
        FROM picked p JOIN per_call c ON c.trace_id = p.trace_id
        JOIN per_trace t ON t.trace_id = p.trace_id"""


def trace_lists(calls: FilteredCalls, n: int = 10) -> dict[str, pl.DataFrame]:
    """The slowest, most expensive and failed traces of the selection, ``n`` of each, in one
    query, in the store's SQL dialect (DuckDB, or ClickHouse for a ClickHouse source: the
    query is written once, ``analytics.span_sql``).

    Candidates are the traces of the slowest, most expensive and latest failed LLM calls (a
    top-N the store answers without grouping every trace). Per trace, over its selected LLM
    calls: ``calls``, ``cost_usd``, ``errors`` (failed calls), ``models``; over all its spans:
    ``started``, ``duration_s`` (first start to last end), ``user_id``, ``spans``,
    ``failed_spans``, ``status`` (``ok``, or the error type of a failed span). Each list is
    ordered by its figure (duration, cost, start), largest first, then ``trace_id``.

    Example:
        >>> trace_lists(DataSource(obs).filtered(Filter()), 5)["slowest"]   # doctest: +SKIP
    """
    with open_spans(calls.source, _TRACE_COLUMNS) as reader:
        q = Sql(reader.dialect)
        found = reader.run(_trace_lists_sql(q, calls.filters.conditions(), n), q.params)
    found = found.with_columns(
        pl.col("started").cast(LLM_CALLS_COLUMNS["start_time"]),
        *(pl.col(c).cast(pl.Int64) for c in ("calls", "errors", "spans", "failed_spans")),
    )
    return {
        name: found.filter(pl.col("list") == name)
        .drop("list")
        .sort([figure, "trace_id"], descending=[True, False], nulls_last=True)
        .head(n)
        for name, (_, _, figure) in TRACE_LISTS.items()
    }
