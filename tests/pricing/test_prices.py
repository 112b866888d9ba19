"""Cost per call: genai-prices data, cached/cache-write/reasoning rates, overrides, unpriced."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest

import llmobs_nb
from llmobs_nb.pricing import PriceBook
from llmobs_nb.pricing.prices import UnpricedModelWarning


def test_gpt4o_matches_the_providers_own_arithmetic():
    # OpenAI lists gpt-4o at $2.50 / 1M input and $10 / 1M output: 1000 in + 500 out = $0.0075
    cost, version = PriceBook().cost("gpt-4o", input_tokens=1000, output_tokens=500)
    assert cost == pytest.approx(0.0075)
    assert version.startswith("genai-prices ")


def test_cached_input_is_priced_at_the_cache_read_rate():
    book = PriceBook()
    price = book.lookup("gpt-4o")
    cost, _ = book.cost("gpt-4o", input_tokens=1000, cached_input_tokens=800, output_tokens=0)
    expected = (200 * price.input_mtok + 800 * price.cached_input_mtok) / 1e6
    assert price.cached_input_mtok < price.input_mtok
    assert cost == pytest.approx(expected)


def test_anthropic_cache_writes_have_their_own_rate():
    book = PriceBook()
    price = book.lookup("claude-sonnet-4-5", "anthropic")
    assert price.cache_write_mtok > price.input_mtok > price.cached_input_mtok
    cost, _ = book.cost(
        "claude-sonnet-4-5",
        provider="anthropic",
        input_tokens=1000,
        cached_input_tokens=500,
        cache_write_tokens=300,
        output_tokens=100,
    )
    expected = (
        200 * price.input_mtok
        + 500 * price.cached_input_mtok
        + 300 * price.cache_write_mtok
        + 100 * price.output_mtok
    ) / 1e6
    assert cost == pytest.approx(expected)


def test_reasoning_tokens_are_part_of_output_and_priced_at_their_rate():
    book = PriceBook()
    book.add("thinker", input_mtok=1.0, output_mtok=4.0, reasoning_mtok=8.0)
    cost, _ = book.cost("thinker", input_tokens=0, output_tokens=1000, reasoning_tokens=600)
    assert cost == pytest.approx((400 * 4.0 + 600 * 8.0) / 1e6)
    # without a separate rate, reasoning is billed as output and not counted twice
    cost, _ = book.cost("o3-mini", input_tokens=0, output_tokens=1000, reasoning_tokens=600)
    assert cost == pytest.approx(1000 * book.lookup("o3-mini").output_mtok / 1e6)


def test_user_overrides_win_and_can_be_dated():
    book = PriceBook()
    book.add("gpt-4o", input_mtok=1.0, output_mtok=1.0, valid_from=datetime(2030, 1, 1, tzinfo=UTC))
    old, old_version = book.cost(
        "gpt-4o", input_tokens=1000, output_tokens=500, at=datetime(2029, 6, 1, tzinfo=UTC)
    )
    new, new_version = book.cost(
        "gpt-4o", input_tokens=1000, output_tokens=500, at=datetime(2030, 6, 1, tzinfo=UTC)
    )
    assert old == pytest.approx(0.0075) and old_version.startswith("genai-prices")
    assert new == pytest.approx(0.0015) and new_version == "user:gpt-4o@2030-01-01"


def test_bad_override_is_a_clear_error():
    with pytest.raises(ValueError, match="input_mtok=-1 for 'm' must be a number ≥ 0"):
        PriceBook().add("m", input_mtok=-1, output_mtok=1)


def test_unknown_model_costs_null_with_one_warning(obs):
    @obs.observe(model="my-private-model-7b")
    def ask():
        return {"usage": {"prompt_tokens": 100, "completion_tokens": 10}}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            ask()
        calls = obs.calls()
    unpriced = [w for w in caught if issubclass(w.category, UnpricedModelWarning)]
    assert len(unpriced) == 1
    assert "obs.prices.add('my-private-model-7b'" in str(unpriced[0].message)
    assert calls["cost_usd"].null_count() == 3
    assert calls["input_tokens"].to_list() == [100, 100, 100]
    assert "my-private-model-7b" in obs.prices.unpriced


def test_cost_and_price_version_are_stored_per_call(obs):
    @obs.observe(model="gpt-4o", provider="openai")
    def ask():
        return {
            "usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 500,
                "prompt_tokens_details": {"cached_tokens": 400},
                "completion_tokens_details": {"reasoning_tokens": 100},
            }
        }

    ask()
    row = obs.spans().row(0, named=True)
    assert row["cached_input_tokens"] == 400 and row["reasoning_tokens"] == 100
    assert row["cost_usd"] == pytest.approx((600 * 2.5 + 400 * 1.25 + 500 * 10) / 1e6)
    prices = obs.sql("select * from prices")
    assert prices["price_version"].to_list() == [row["price_version"]]
    assert prices["input_mtok"][0] == 2.5


def test_prices_passed_to_init_price_a_private_model(tmp_path):
    obs = llmobs_nb.init(
        db=tmp_path / "p.duckdb", prices={"local-llama": {"input_mtok": 0.1, "output_mtok": 0.2}}
    )
    try:
        with obs.span("x", kind="llm", model="local-llama") as span:
            span.set_usage({"input_tokens": 1_000_000, "output_tokens": 1_000_000})
        assert obs.calls()["cost_usd"][0] == pytest.approx(0.3)
    finally:
        obs.close()
