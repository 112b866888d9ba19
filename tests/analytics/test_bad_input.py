"""Bad input gets a clear error naming the problem; empty input gets empty, well-typed results."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from llmobs_nb import analytics
from tests.analytics.synthetic import T0, calls_frame, scores_frame


def test_a_missing_column_is_named() -> None:
    calls = calls_frame(n=100).drop("latency_s")
    with pytest.raises(ValueError, match="needs column 'latency_s'"):
        analytics.latency_percentiles(calls)
    with pytest.raises(ValueError, match="needs column 'cost_usd'"):
        analytics.cost_breakdown(calls_frame(n=100).drop("cost_usd"))
    with pytest.raises(ValueError, match="needs column 'region'"):
        analytics.error_rates(calls_frame(n=100), by=["region"])


def test_an_unknown_run_lists_the_runs_that_exist() -> None:
    with pytest.raises(ValueError, match=r"unknown run 'prompt-v3'.*\['prompt-v1', 'prompt-v2'\]"):
        analytics.compare_runs(calls_frame(n=100), "prompt-v1", "prompt-v3")


def test_an_every_that_is_not_a_duration_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match=r"every='hourly'.*'1h'"):
        analytics.latency_percentiles(calls_frame(n=10), every="hourly")


def test_a_path_that_does_not_exist_says_so(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no DuckDB file or Parquet files"):
        analytics.token_usage(str(tmp_path / "nope.duckdb"))


def test_drift_on_a_frame_without_scores_asks_for_them() -> None:
    with pytest.raises(ValueError, match="pass scores="):
        analytics.quality_drift(calls_frame(n=100))


@pytest.mark.parametrize(
    ("call", "columns"),
    [
        (
            lambda c: analytics.latency_percentiles(c, by=["model"], every="1h"),
            ["model", "bucket", "n", "p50", "p95", "p99"],
        ),
        (lambda c: analytics.ttft_percentiles(c), ["n", "p50", "p95", "p99"]),
        (
            lambda c: analytics.token_usage(c),
            [
                "model",
                "calls",
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "reasoning_tokens",
                "calls_without_usage",
            ],
        ),
        (
            lambda c: analytics.cost_breakdown(c, by=[]),
            [
                "calls",
                "priced_calls",
                "cost_usd",
                "cost_per_call_usd",
                "unpriced_calls",
                "unpriced_tokens",
            ],
        ),
        (
            lambda c: analytics.top_costs(c, by="user_id"),
            ["user_id", "cost_usd", "calls", "unpriced_calls", "first_call", "last_call"],
        ),
        (
            lambda c: analytics.error_rates(c, every="1h"),
            ["bucket", "error_type", "calls", "errors", "error_rate"],
        ),
        (
            lambda c: analytics.cost_anomalies(c),
            [
                "rule",
                "window_start",
                "window_end",
                "user_id",
                "model",
                "value",
                "threshold",
                "z_score",
            ],
        ),
        (
            lambda c: analytics.budget_forecast(c),
            [
                "period",
                "period_start",
                "period_end",
                "spent_usd",
                "unpriced_calls",
                "elapsed_fraction",
                "projected_usd",
                "budget_usd",
                "over_budget",
            ],
        ),
        (
            lambda c: analytics.quality_drift(c, scores=scores_frame(c)),
            [
                "model",
                "score_name",
                "n",
                "n_baseline",
                "n_recent",
                "baseline",
                "current",
                "degradation_pct",
                "p_value",
                "rule_breached",
                "alert",
                "onset",
                "last_score_at",
            ],
        ),
    ],
)
def test_empty_calls_give_empty_results_with_the_right_columns(call, columns) -> None:
    empty = calls_frame(n=50).clear()
    result = call(empty)
    assert result.height == 0
    assert result.columns == columns


def test_filtered_to_nothing_still_types_buckets_as_utc_datetimes() -> None:
    calls = calls_frame(n=50).filter(pl.col("start_time") > T0 + timedelta(days=365))
    result = analytics.error_rates(calls, every="1h")
    assert result.schema["bucket"] == pl.Datetime("us", "UTC")
