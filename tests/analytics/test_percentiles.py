"""Percentiles are exact (numpy's linear interpolation), grouped, bucketed, and honest when thin."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from tests.analytics.synthetic import T0, calls_frame

QUANTILES = (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)


def random_calls(seed: int) -> pl.DataFrame:
    """Few values with many ties, a model with one call, one whose TTFT is all NULL."""
    rng = np.random.default_rng(seed)
    n = 500
    models = rng.choice(["a", "b", "c"], size=n).astype(object)
    models[0], models[1:3] = "single", "no-ttft"
    latency = rng.integers(1, 8, size=n) / 4  # heavy ties
    ttft = np.where(rng.uniform(size=n) < 0.4, np.nan, rng.exponential(0.3, size=n))
    ttft[1:3] = np.nan
    return pl.DataFrame(
        {
            "model": models,
            "start_time": [T0 + timedelta(minutes=int(m)) for m in rng.integers(0, 600, n)],
            "latency_s": latency,
            "ttft_s": ttft,
        }
    ).with_columns(pl.col("ttft_s").fill_nan(None))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("measure", ["latency_s", "ttft_s"])
def test_every_percentile_equals_numpy_per_model_and_hour(seed: int, measure: str) -> None:
    calls = random_calls(seed)
    result = analytics.percentiles(
        calls, measure, by=["model"], every="1h", quantiles=QUANTILES, min_count=1
    )
    bucketed = calls.with_columns(pl.col("start_time").dt.truncate("1h").alias("bucket"))
    for (model, bucket), group in bucketed.group_by("model", "bucket"):
        values = group[measure].drop_nulls().to_numpy()
        row = result.filter((pl.col("model") == model) & (pl.col("bucket") == bucket))
        assert row["n"].item() == len(values)
        for q in QUANTILES:
            got = row[analytics.quantile_column(q)].item()
            if len(values) == 0:
                assert got is None  # an empty group: no number
            else:
                assert got == pytest.approx(np.quantile(values, q), rel=1e-12, abs=1e-12)


def test_a_single_call_is_its_own_median_and_too_few_for_a_tail() -> None:
    calls = random_calls(0)
    result = analytics.latency_percentiles(calls, by=["model"])
    single = result.filter(pl.col("model") == "single").row(0, named=True)
    assert single["n"] == 1
    # Defaults: P50 needs 2 values, P95 20, P99 100 — a single call gives none of them.
    assert (single["p50"], single["p95"], single["p99"]) == (None, None, None)
    forced = analytics.latency_percentiles(calls, by=["model"], min_count=1)
    one = calls.filter(pl.col("model") == "single")["latency_s"].item()
    assert forced.filter(pl.col("model") == "single")["p99"].item() == one


def test_a_group_whose_ttft_is_all_null_has_n_zero_and_null_percentiles() -> None:
    result = analytics.ttft_percentiles(random_calls(0), by=["model"])
    row = result.filter(pl.col("model") == "no-ttft").row(0, named=True)
    assert row == {"model": "no-ttft", "n": 0, "p50": None, "p95": None, "p99": None}


def test_a_tail_percentile_is_null_until_the_bucket_has_enough_calls() -> None:
    values = np.arange(1, 101, dtype=float)
    calls = pl.DataFrame({"start_time": [T0] * 100, "latency_s": values})
    for n, p99_shown in [(99, False), (100, True)]:
        row = analytics.latency_percentiles(calls.head(n)).row(0, named=True)
        assert row["p95"] == pytest.approx(np.quantile(values[:n], 0.95))
        assert (row["p99"] is not None) == p99_shown
    assert analytics.latency_percentiles(calls, min_count=101)["p50"].item() is None


def test_columns_are_named_after_the_quantile_and_prefixed_by_measure_when_several() -> None:
    calls = calls_frame(n=500)
    one = analytics.latency_percentiles(calls, quantiles=(0.5, 0.999))
    assert one.columns == ["n", "p50", "p99.9"]
    both = analytics.percentiles(calls, ["latency_s", "ttft_s"], by=["model"], quantiles=(0.95,))
    assert both.columns == ["model", "latency_s_n", "latency_s_p95", "ttft_s_n", "ttft_s_p95"]


def test_every_source_gives_the_same_percentiles(sources) -> None:
    calls = calls_frame(n=3000)
    expected = analytics.latency_percentiles(calls, by=["model", "use_case"], every="6h")
    for name, (source, _) in sources(calls).items():
        got = analytics.latency_percentiles(source, by=["model", "use_case"], every="6h")
        assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12), name
    ttft = analytics.ttft_percentiles(calls, by=["model"], every="1d")
    for name, (source, _) in sources(calls).items():
        assert_frame_equal(analytics.ttft_percentiles(source, by=["model"], every="1d"), ttft), name


def test_buckets_start_on_the_interval_in_utc_and_are_sorted() -> None:
    calls = calls_frame(n=2000, days=2)
    result = analytics.latency_percentiles(calls, every="15m")
    assert result["bucket"].dtype == pl.Datetime("us", "UTC")
    assert result["bucket"].is_sorted()
    assert (result["bucket"].dt.minute() % 15 == 0).all()
    assert result["n"].sum() == calls.height


def test_an_open_duckdb_connection_to_a_store_is_a_source_too(tmp_path) -> None:
    import duckdb

    from tests.analytics.conftest import write_store

    calls = calls_frame(n=1000)
    con = duckdb.connect(str(write_store(tmp_path / "s.duckdb", calls)), read_only=True)
    try:
        got = analytics.latency_percentiles(con, by=["model"])
    finally:
        con.close()
    assert_frame_equal(got, analytics.latency_percentiles(calls, by=["model"]))
