"""The view layer: Altair charts, the ipywidgets dashboard, rich HTML, a standalone report.

Importing it changes no global Altair setting: every chart made here displays itself offline
(Vega inlined, no CDN) in the ``llmobs`` theme (:mod:`llmobs_nb.view.chart_display`).
:func:`enable_altair_defaults` makes that theme and renderer Altair's own, for every chart of
the session.

Example::

    from llmobs_nb.view import charts, Dashboard
    charts.latency_chart(obs)
    Dashboard(obs)
    charts.agent_timeline(Trace.load(obs, trace_id)); SessionsView(obs)
    table(analytics.cost_breakdown(obs, by="model"))   # a frame shown for people
"""

from llmobs_nb._deprecated import moved_names
from llmobs_nb.view import charts
from llmobs_nb.view.chart_display import enable_altair_defaults
from llmobs_nb.view.charts import *  # noqa: F403  (the chart functions, listed in charts.__all__)
from llmobs_nb.view.dashboard import Dashboard
from llmobs_nb.view.data_source import DataSource, Filter, FilteredCalls
from llmobs_nb.view.html import observer_html
from llmobs_nb.view.report import write_report
from llmobs_nb.view.sessions_view import SessionsView
from llmobs_nb.view.tables import Table, record_table, table
from llmobs_nb.view.trace import Trace

# view.Filters became analytics.Filter (one filter for the dashboard, analytics and evals).
__getattr__ = moved_names(__name__, {"Filters": "llmobs_nb.analytics:Filter"})

__all__ = [
    "Dashboard",
    "DataSource",
    "Filter",
    "FilteredCalls",
    "SessionsView",
    "Table",
    "Trace",
    "enable_altair_defaults",
    "observer_html",
    "record_table",
    "table",
    "write_report",
    *charts.__all__,
]
