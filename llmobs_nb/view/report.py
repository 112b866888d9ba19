"""A standalone HTML report: headline figures and the main charts, viewable with no network.

The page uses its whole width: every chart is as wide as its grid cell (Vega's container
width, as the dashboard draws it), two or more cells a row on a wide page, one on a narrow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmobs_nb.view import offline, panels
from llmobs_nb.view.chart_board import for_board
from llmobs_nb.view.data_source import DataSource, Filter
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.html import STYLE, cards_html, headline_figures, table_html

# A cell is at least 560 px wide (the charts' own width), or the page's width when narrower.
LAYOUT = """<style>
body{margin:0}
.llmobs-report{margin:16px 24px}
.llmobs-report .charts{display:grid;gap:16px;
 grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr))}
.llmobs-report .charts>div{min-width:0}
.llmobs-report .llmobs-chart{display:block;width:100%}
.llmobs-report table{max-width:100%;overflow-x:auto;display:block}
</style>"""


def report_html(source: Any, *, title: str | None = None, filters: Filter | None = None) -> str:
    """The report as one HTML page (Vega inlined once in its head). See :func:`write_report`.

    Example:
        >>> report_html("experiments.duckdb")[:15]   # doctest: +SKIP
        '<!DOCTYPE html>'
    """
    data = DataSource(source, approx=False)  # a report is kept: its figures are exact
    calls = data.filtered(filters or Filter())
    with data.session():
        numbers, charts = panels.fast_panels(calls)
        slow = panels.drift_and_anomalies(calls)
    numbers["alerts"] = slow["alerts"]
    order = ["latency", "ttft", "cost", "tokens", "errors", "top_users", "quality_distribution"]
    ordered = [charts[name] for name in order]
    ordered.insert(2, slow["quality"])
    drawn = [
        offline.spec_html(for_board(chart.to_dict(validate=False)), loader=False)
        for chart in ordered
    ]
    drift = slow["drift"]
    drift_table = ""
    if drift.height:
        columns = [
            c
            for c in (
                "model",
                "score_name",
                "n",
                "baseline",
                "current",
                "degradation_pct",
                "p_value",
                "alert",
                "onset",
            )
            if c in drift.columns
        ]
        drift_table = "<h2>Quality drift</h2>" + table_html(drift.select(columns))
    anomalies = slow["cost_anomalies"]
    anomaly_table = ""
    if anomalies.height:
        anomaly_table = f"<h2>Cost alerts ({anomalies.height:,})</h2>" + table_html(
            anomalies, max_rows=15
        )
    heading = title or f"LLM observability report — {Path(data.label).name}"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    alerts = ("alerts",) if numbers["alerts"] else ()
    body = (
        f'{STYLE}{LAYOUT}<div class="llmobs llmobs-report">'
        f"<h1>{html_text(heading)}</h1>"
        f"<div class='muted'>{html_text(data.label)} · written {created}</div>"
        f"{cards_html(headline_figures(numbers), alerts)}"
        '<div class="charts">'
        + "".join(f"<div>{chart}</div>" for chart in drawn)
        + f"</div>{drift_table}{anomaly_table}</div>"
    )
    return offline.page_html(heading, body)


def write_report(source: Any, path: str | Path, *, title: str | None = None) -> Path:
    """Write a standalone HTML report of ``source`` (an observer or a DuckDB file) to ``path``:
    headline figures, latency, TTFT, quality, cost, tokens, errors, top users, drift and cost
    alerts. Vega is inlined, so the file opens offline. Returns the path written.

    Example:
        >>> write_report("demo.duckdb", "report.html")   # doctest: +SKIP
        PosixPath('report.html')
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(report_html(source, title=title), encoding="utf-8")
    return target
