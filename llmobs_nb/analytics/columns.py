"""The columns analytics reads and returns, with their polars types.

``LLM_CALLS_COLUMNS`` (the ``llm_calls`` view's columns) comes from the package's one schema
module, :mod:`llmobs_nb.store.schema`; the scored-row columns are analytics' own.

Example:
    >>> LLM_CALLS_COLUMNS["latency_s"]
    Float64
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from llmobs_nb.store.schema import LLM_CALLS_COLUMNS

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
                "(docs/design.md §3)"
            )
