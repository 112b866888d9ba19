"""The columns analytics reads and returns, with their polars types.

``LLM_CALLS_COLUMNS`` is defined here only (the analytics contract of docs/design.md, the
``llm_calls`` view of the store); issue #12 moves it to one schema module for the package.

Example:
    >>> LLM_CALLS_COLUMNS["latency_s"]
    Float64
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

LLM_CALLS_COLUMNS: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "span_id": pl.String(),
    "parent_span_id": pl.String(),
    "name": pl.String(),
    "kind": pl.String(),
    "start_time": pl.Datetime("us", "UTC"),
    "end_time": pl.Datetime("us", "UTC"),
    "latency_s": pl.Float64(),
    "ttft_s": pl.Float64(),
    "provider": pl.String(),
    "model": pl.String(),
    "operation": pl.String(),
    "use_case": pl.String(),
    "user_id": pl.String(),
    "run": pl.String(),
    "response_model": pl.String(),
    "status": pl.String(),
    "error_type": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cached_input_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
}
#: The scores columns the score → call rule reads.
SCORE_COLUMNS = ("trace_id", "span_id", "name", "value")
#: The columns of a scored row besides the call's: see :class:`llmobs_nb.analytics.plan.Scored`.
SCORED_COLUMNS: dict[str, pl.DataType] = {
    "score_name": pl.String(),
    "value": pl.Float64(),
    "time": pl.Datetime("us", "UTC"),
}
BUCKET = "bucket"


def column_type(name: str, default: pl.DataType) -> pl.DataType:
    """The polars type of a call or scored-row column, ``default`` for any other.

    Example:
        >>> column_type("time", pl.String())
        Datetime(time_unit='us', time_zone='UTC')
    """
    return LLM_CALLS_COLUMNS.get(name) or SCORED_COLUMNS.get(name) or default


def check_columns(available: Sequence[str], needed: Sequence[str], what: str) -> None:
    """Raise a ValueError naming the first needed column the input does not have.

    Example:
        >>> check_columns(["model"], ["model"], "token_usage")
    """
    for column in needed:
        if column not in available:
            raise ValueError(
                f"{what} needs column {column!r}, which the input does not have "
                f"(it has {sorted(available)}); pass a frame with the llm_calls columns "
                "(see docs/design.md)"
            )
