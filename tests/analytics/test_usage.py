"""Tokens and cost add up; unpriced calls are counted apart, never as $0; top spenders."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from tests.analytics.synthetic import calls_frame


def test_token_usage_sums_every_token_kind_per_model() -> None:
    calls = calls_frame(n=3000)
    result = analytics.token_usage(calls, by=["model"])
    for row in result.iter_rows(named=True):
        mine = calls.filter(pl.col("model") == row["model"])
        assert row["calls"] == mine.height
        for column in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"):
            assert row[column] == mine[column].sum()
        assert row["calls_without_usage"] == 0


def test_calls_without_token_counts_are_counted_not_hidden() -> None:
    calls = calls_frame(n=200).with_columns(
        pl.when(pl.int_range(pl.len()) < 30).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("input_tokens", "output_tokens")
    )
    total = analytics.token_usage(calls, by=[]).row(0, named=True)
    assert total["calls"] == 200 and total["calls_without_usage"] == 30
    assert total["input_tokens"] == calls["input_tokens"].sum()


def test_unpriced_model_shows_null_cost_and_its_calls_and_tokens_apart() -> None:
    calls = calls_frame(n=3000)
    result = analytics.cost_breakdown(calls, by=["model"])
    local = result.filter(pl.col("model") == "local-llama").row(0, named=True)
    unpriced = calls.filter(pl.col("model") == "local-llama")
    assert local["cost_usd"] is None  # unknown, not $0
    assert local["priced_calls"] == 0
    assert local["unpriced_calls"] == unpriced.height
    assert (
        local["unpriced_tokens"] == unpriced["input_tokens"].sum() + unpriced["output_tokens"].sum()
    )
    gpt = result.filter(pl.col("model") == "gpt-4o").row(0, named=True)
    priced = calls.filter(pl.col("model") == "gpt-4o")
    assert gpt["cost_usd"] == pytest.approx(priced["cost_usd"].sum())
    assert gpt["cost_per_call_usd"] == pytest.approx(priced["cost_usd"].mean())
    assert gpt["unpriced_calls"] == 0
    # Most expensive first, the unknown last.
    assert result["model"][-1] == "local-llama"
    assert result["cost_usd"].drop_nulls().is_sorted(descending=True)


def test_cost_by_model_and_use_case_per_day_covers_every_priced_dollar() -> None:
    calls = calls_frame(n=3000)
    result = analytics.cost_breakdown(calls, by=["model", "use_case"], every="1d")
    assert result["cost_usd"].sum() == pytest.approx(calls["cost_usd"].sum())
    assert result["calls"].sum() == calls.height


def test_top_costs_ranks_users_traces_and_single_calls() -> None:
    calls = calls_frame(n=3000)
    top_users = analytics.top_costs(calls, by="user_id", n=3)
    expected = (
        calls.group_by("user_id")
        .agg(pl.col("cost_usd").sum())
        .sort("cost_usd", descending=True)
        .head(3)
    )
    assert top_users["user_id"].to_list() == expected["user_id"].to_list()
    assert top_users["cost_usd"].to_list() == pytest.approx(expected["cost_usd"].to_list())
    top_calls = analytics.top_costs(calls, by="span_id", n=5)
    assert top_calls["cost_usd"].to_list() == pytest.approx(
        calls["cost_usd"].drop_nulls().sort(descending=True).head(5).to_list()
    )
    assert top_calls.columns == [
        "span_id",
        "cost_usd",
        "calls",
        "unpriced_calls",
        "first_call",
        "last_call",
    ]


def test_every_source_gives_the_same_usage_and_cost(sources) -> None:
    calls = calls_frame(n=2000)
    for name, (source, _) in sources(calls).items():
        for fn, kwargs in [
            (analytics.token_usage, {"by": ["model"], "every": "1d"}),
            (analytics.cost_breakdown, {"by": ["model", "use_case"]}),
            (analytics.top_costs, {"by": "user_id", "n": 5}),
        ]:
            assert_frame_equal(fn(source, **kwargs), fn(calls, **kwargs), rel_tol=1e-9), name
