"""The check that a generated span's cost is what genai-prices says for its tokens and day."""

from __future__ import annotations

import polars as pl
import pytest

from llmobs_nb.pricing import PriceBook


def assert_priced_like_genai_prices(spans: pl.DataFrame, n: int, seed: int = 1) -> None:
    """``n`` sampled priced spans each cost what the price book computes, with its version."""
    book = PriceBook()
    for row in spans.sample(n, seed=seed).iter_rows(named=True):
        expected, version = book.cost(
            row["model"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cached_input_tokens=row["cached_input_tokens"],
            cache_write_tokens=row["cache_write_tokens"],
            reasoning_tokens=row["reasoning_tokens"],
            provider=row["provider"],
            at=row["start_time"],
        )
        assert row["cost_usd"] == pytest.approx(expected, rel=1e-9)
        assert row["price_version"] == version
