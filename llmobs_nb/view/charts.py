"""Every llmobs_nb chart in one namespace. Each takes calls (a polars frame with the llm_calls
columns, an observer, a DuckDB path or a filtered source) or an analytics result, asks
analytics for a small aggregate, and returns an Altair chart that displays itself offline in the
llmobs theme (:mod:`llmobs_nb.view.chart_display`); none has side effects. The trace charts
(``waterfall_chart``, ``agent_timeline``) take one trace's spans or a ``Trace``.

``llmobs_nb.view`` re-exports every name of ``__all__`` here: add a chart here only."""

from llmobs_nb.view.agent_charts import agent_graph_chart, agent_timeline
from llmobs_nb.view.cost_charts import cost_chart, token_rate_chart, top_users_chart
from llmobs_nb.view.error_charts import error_chart
from llmobs_nb.view.latency_charts import latency_chart, ttft_chart
from llmobs_nb.view.quality_charts import (
    quality_chart,
    quality_distribution_chart,
    run_comparison_chart,
)
from llmobs_nb.view.trace_charts import waterfall_chart

__all__ = [
    "agent_graph_chart",
    "agent_timeline",
    "cost_chart",
    "error_chart",
    "latency_chart",
    "quality_chart",
    "quality_distribution_chart",
    "run_comparison_chart",
    "token_rate_chart",
    "top_users_chart",
    "ttft_chart",
    "waterfall_chart",
]
