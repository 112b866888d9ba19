"""Statistics over LLM calls: a summary, percentiles, usage and cost, errors, drift, anomalies,
run comparison; and over whole traces: sessions, agents and tools.

Every function takes the calls as a polars DataFrame or LazyFrame with the ``llm_calls`` columns,
an observer, a DuckDB file path or Parquet files, and returns a polars DataFrame. On a store the
heavy lifting is pushed down to DuckDB; on a frame polars does it; the answer is the same: each
question is one plan (``plan.py``) rendered per engine (``render_polars``, ``render_sql``).

Calling convention (``convention.py``): the data first, then keywords only (``compare_runs``
keeps its two runs and ``percentiles`` its measure positional); ``scores=`` is a keyword;
``by=`` is a column or a sequence of columns; ``where=`` takes a :class:`Filter`.

Sessions (:func:`sessions`, :func:`session_turns`) and agents (:func:`tool_usage`,
:func:`agent_paths`, :func:`tool_loops`, :func:`agent_graph`) read every span, not only the
model calls: pass an observer, a store path or connection, or a frame of spans.

Example:
    >>> from llmobs_nb import analytics
    >>> v2 = analytics.Filter(runs=("v2",))
    >>> analytics.cost_breakdown(obs, by="model", where=v2)  # doctest: +SKIP
"""

from llmobs_nb.analytics.agents import (
    AgentGraph,
    agent_graph,
    agent_paths,
    tool_loops,
    tool_usage,
)
from llmobs_nb.analytics.anomalies import budget_forecast, cost_anomalies
from llmobs_nb.analytics.choices import filter_choices
from llmobs_nb.analytics.compare import compare_runs
from llmobs_nb.analytics.drift import quality_drift
from llmobs_nb.analytics.errors import error_rates
from llmobs_nb.analytics.filter import Filter
from llmobs_nb.analytics.percentiles import (
    latency_percentiles,
    percentiles,
    quantile_column,
    ttft_percentiles,
)
from llmobs_nb.analytics.sessions import session_turns, sessions
from llmobs_nb.analytics.summary import summary
from llmobs_nb.analytics.usage import cost_breakdown, token_usage, top_costs

__all__ = [
    "AgentGraph",
    "Filter",
    "agent_graph",
    "agent_paths",
    "budget_forecast",
    "compare_runs",
    "cost_anomalies",
    "cost_breakdown",
    "error_rates",
    "filter_choices",
    "latency_percentiles",
    "percentiles",
    "quality_drift",
    "quantile_column",
    "session_turns",
    "sessions",
    "summary",
    "token_usage",
    "tool_loops",
    "tool_usage",
    "top_costs",
    "ttft_percentiles",
]
