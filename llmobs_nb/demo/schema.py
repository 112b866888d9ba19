"""Polars schemas of the store's tables, in the store's column order.

They mirror ``llmobs_nb/store/migrations.py`` (tests check that they match it), so demo frames
can be written to a store or handed to analytics as they are.
"""

from __future__ import annotations

import polars as pl

from llmobs_nb.capture.rows import SPAN_SCHEMA

UTC_US = pl.Datetime("us", "UTC")

# The capture layer's Arrow schema is the one definition of a span row on the Python side.
SPANS: dict[str, pl.DataType] = dict(pl.from_arrow(SPAN_SCHEMA.empty_table()).schema)

LLM_CALLS: tuple[str, ...] = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time",
    "end_time",
    "latency_s",
    "ttft_s",
    "provider",
    "model",
    "operation",
    "use_case",
    "user_id",
    "run",
    "response_model",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost_usd",
    "attributes",
)

SCORES: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "span_id": pl.String(),
    "name": pl.String(),
    "value": pl.Float64(),
    "source": pl.String(),
    "comment": pl.String(),
    "created_at": UTC_US,
    "label": pl.String(),
}

PRICES: dict[str, pl.DataType] = {
    "price_version": pl.String(),
    "provider": pl.String(),
    "model": pl.String(),
    "input_mtok": pl.Float64(),
    "cached_input_mtok": pl.Float64(),
    "cache_write_mtok": pl.Float64(),
    "output_mtok": pl.Float64(),
    "reasoning_mtok": pl.Float64(),
    "valid_from": UTC_US,
    "valid_to": UTC_US,
    "source": pl.String(),
    "recorded_at": UTC_US,
}

RUNS: dict[str, pl.DataType] = {
    "name": pl.String(),
    "project": pl.String(),
    "params": pl.String(),
    "started_at": UTC_US,
    "ended_at": UTC_US,
}


def llm_calls(spans: pl.DataFrame) -> pl.DataFrame:
    """The rows and columns of the store's ``llm_calls`` view, taken from a spans frame.

    Example: ``llm_calls(sample.spans).height == sample.calls.height``.
    """
    is_call = pl.col("kind").is_in(["llm", "embedding"]) | (
        (pl.col("kind") == "evaluator") & pl.col("model").is_not_null()
    )
    return spans.filter(is_call).select(LLM_CALLS)
