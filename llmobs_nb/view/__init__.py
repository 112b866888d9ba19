"""The view layer: Altair charts, the ipywidgets dashboard, rich HTML, a standalone report.

Importing it registers the ``llmobs`` Altair theme and the offline renderer (Vega inlined, no
CDN), and makes them active unless the user already chose another theme or renderer.

Example::

    from llmobs_nb.view import charts, Dashboard
    charts.latency_chart(obs)
    Dashboard(obs)
"""

from llmobs_nb.view import offline, theme
from llmobs_nb.view.charts import (
    cost_chart,
    error_chart,
    latency_chart,
    quality_chart,
    quality_distribution_chart,
    run_comparison_chart,
    token_rate_chart,
    top_users_chart,
    ttft_chart,
    waterfall_chart,
)
from llmobs_nb.view.dashboard import Dashboard
from llmobs_nb.view.html import observer_html
from llmobs_nb.view.report import write_report
from llmobs_nb.view.source import DataSource, Filter, FilteredCalls
from llmobs_nb.view.trace import Trace

theme.enable()
offline.enable()


def __getattr__(name: str) -> object:
    # Filters: renamed analytics.Filter (one filter for dashboard, analytics and evals).
    if name == "Filters":
        from llmobs_nb.view import source

        return source.Filters
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Dashboard",
    "DataSource",
    "Filter",
    "FilteredCalls",
    "Trace",
    "cost_chart",
    "error_chart",
    "latency_chart",
    "observer_html",
    "quality_chart",
    "quality_distribution_chart",
    "run_comparison_chart",
    "token_rate_chart",
    "top_users_chart",
    "ttft_chart",
    "waterfall_chart",
    "write_report",
]
