"""Polars schemas of the store's tables, in the store's column order.

Derived from :mod:`llmobs_nb.store.schema` (the one description of the tables, checked against
the migrations by ``tests/store/test_schema.py``), so demo frames can be written to a store or
handed to analytics as they are.
"""

from __future__ import annotations

import polars as pl

from llmobs_nb.store import schema

UTC_US = pl.Datetime("us", "UTC")

SPANS: dict[str, pl.DataType] = schema.SPANS.polars
SCORES: dict[str, pl.DataType] = schema.SCORES.polars
PRICES: dict[str, pl.DataType] = schema.PRICES.polars
RUNS: dict[str, pl.DataType] = schema.RUNS.polars
LLM_CALLS: tuple[str, ...] = schema.LLM_CALLS.names


def llm_calls(spans: pl.DataFrame) -> pl.DataFrame:
    """The rows and columns of the store's ``llm_calls`` view, taken from a spans frame: the
    model calls (:data:`~llmobs_nb.store.schema.is_model_call`), in the view's columns.

    Example:
        >>> spans = pl.DataFrame({c: pl.Series([], dtype=t) for c, t in SPANS.items()})
        >>> llm_calls(spans).columns == list(LLM_CALLS)
        True
    """
    return spans.filter(schema.is_model_call.polars()).select(LLM_CALLS)
