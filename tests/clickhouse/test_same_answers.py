"""Every plan-layer analytics function gives the same answer on ClickHouse (chdb, the
collector's ``otel_traces``) as on the DuckDB store holding the same spans.

Tolerance: floats equal within ``rtol=1e-9, atol=1e-9``. Latencies travel as integer ns
(``Duration``), so a latency read back differs from the stored float by < 0.5 ns; exact
percentiles are numpy's linear interpolation on both sides (``quantile_cont``,
``quantilesExactInclusive``), equal to the last bits; costs are recomputed by the same
formula from the same rates (both rounded to 12 decimals). Everything else (counts, labels,
times, ids) is equal exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics import Filter

WEEK = Filter(start=datetime(2026, 11, 3, tzinfo=UTC), end=datetime(2026, 11, 10, tzinfo=UTC))
SOME = Filter(models=("gpt-4o", "gpt-4o-mini"), statuses=("ok",), use_cases=("docs_qa",))
NOW = datetime(2026, 11, 14, 12, tzinfo=UTC)

QUESTIONS: dict[str, Callable[[Any], Any]] = {
    "summary": lambda c: analytics.summary(c),
    "summary quantiles, week": lambda c: analytics.summary(
        c, quantiles=(0.5, 0.9, 0.99, 0.999), where=WEEK
    ),
    "summary filtered": lambda c: analytics.summary(c, where=SOME),
    "percentiles by model": lambda c: analytics.percentiles(c, by="model"),
    "percentiles two measures per day": lambda c: analytics.percentiles(
        c, ["latency_s", "ttft_s"], by="use_case", every="1d"
    ),
    "latency per model per hour": lambda c: analytics.latency_percentiles(
        c, by=["model"], every="1h", where=WEEK
    ),
    "ttft by run": lambda c: analytics.ttft_percentiles(c, by="run", min_count=5),
    "cost by model": lambda c: analytics.cost_breakdown(c),
    "cost by model and use case per hour": lambda c: analytics.cost_breakdown(
        c, by=["model", "use_case"], every="1h"
    ),
    "cost by user filtered": lambda c: analytics.cost_breakdown(c, by="user_id", where=SOME),
    "tokens by model": lambda c: analytics.token_usage(c),
    "tokens by run per day": lambda c: analytics.token_usage(c, by="run", every="1d"),
    "errors": lambda c: analytics.error_rates(c),
    "errors by model per hour": lambda c: analytics.error_rates(
        c, by="model", every="1h", by_error_type=False
    ),
    "top traces": lambda c: analytics.top_costs(c),
    "top users": lambda c: analytics.top_costs(c, by="user_id", n=5),
    "budget forecast": lambda c: analytics.budget_forecast(c, now=NOW),
    "cost anomalies": lambda c: analytics.cost_anomalies(c),
    "quality drift": lambda c: analytics.quality_drift(c),
    "quality drift by use case": lambda c: analytics.quality_drift(
        c, by="use_case", score_name="quality", where=WEEK
    ),
    "compare runs": lambda c: analytics.compare_runs(c, "prompt-v1", "prompt-v2", n_boot=200),
}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [n for n, t in frame.schema.items() if not t.is_float() and not isinstance(t, pl.List)]
    return frame.sort(keys, nulls_last=True) if keys and frame.height else frame


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_same_answer(sample: Any, name: str) -> None:
    duckdb = QUESTIONS[name](str(sample.store))
    clickhouse = QUESTIONS[name](sample.source)
    assert isinstance(duckdb, pl.DataFrame) and duckdb.height > 0, name
    assert_frame_equal(_sorted(clickhouse), _sorted(duckdb), rel_tol=1e-9, abs_tol=1e-9)


def test_filter_choices(sample: Any) -> None:
    assert analytics.filter_choices(sample.source) == analytics.filter_choices(str(sample.store))
