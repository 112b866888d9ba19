"""Statistics over LLM calls: percentiles, usage and cost, errors, drift, anomalies, run comparison.

Every function takes the calls as a polars DataFrame or LazyFrame with the ``llm_calls`` columns,
an observer, a DuckDB file path or Parquet files, and returns a polars DataFrame. On a store the
heavy lifting is pushed down to DuckDB; on a frame polars does it; the answer is the same.
"""

from llmobs_nb.analytics.anomalies import budget_forecast, cost_anomalies
from llmobs_nb.analytics.compare import compare_runs
from llmobs_nb.analytics.drift import quality_drift
from llmobs_nb.analytics.errors import error_rates
from llmobs_nb.analytics.percentiles import (
    latency_percentiles,
    percentiles,
    quantile_column,
    ttft_percentiles,
)
from llmobs_nb.analytics.usage import cost_breakdown, token_usage, top_costs

__all__ = [
    "budget_forecast",
    "compare_runs",
    "cost_anomalies",
    "cost_breakdown",
    "error_rates",
    "latency_percentiles",
    "percentiles",
    "quality_drift",
    "quantile_column",
    "token_usage",
    "top_costs",
    "ttft_percentiles",
]
