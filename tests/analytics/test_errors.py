"""Error rates: per error type and dimension, per bucket, as a count and a share of all calls."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from tests.analytics.synthetic import calls_frame


def test_error_rate_per_model_and_type_divides_by_all_calls_of_the_model() -> None:
    calls = calls_frame(n=5000)
    result = analytics.error_rates(calls, by=["model"])
    for row in result.iter_rows(named=True):
        mine = calls.filter(pl.col("model") == row["model"])
        errors = mine.filter(
            (pl.col("status") == "error") & (pl.col("error_type") == row["error_type"])
        )
        assert row["calls"] == mine.height
        assert row["errors"] == errors.height
        assert row["error_rate"] == pytest.approx(errors.height / mine.height)
    assert result["errors"].sum() == calls.filter(pl.col("status") == "error").height


def test_overall_rate_without_types_is_one_row() -> None:
    calls = calls_frame(n=5000)
    result = analytics.error_rates(calls, by_error_type=False)
    errors = calls.filter(pl.col("status") == "error").height
    assert result.to_dicts() == [
        {"calls": 5000, "errors": errors, "error_rate": pytest.approx(errors / 5000)}
    ]


def test_an_hour_without_errors_shows_zero_not_a_gap_and_untyped_errors_are_unknown() -> None:
    calls = calls_frame(n=2000, days=1).with_columns(
        pl.when(pl.col("start_time").dt.hour() == 3)
        .then(pl.lit("ok"))
        .otherwise(pl.col("status"))
        .alias("status"),
        pl.when(pl.col("start_time").dt.hour() == 5)
        .then(None)
        .otherwise(pl.col("error_type"))
        .alias("error_type"),
    )
    result = analytics.error_rates(calls, every="1h")
    quiet = result.filter(pl.col("bucket").dt.hour() == 3)
    assert quiet.select("error_type", "errors", "error_rate").to_dicts() == [
        {"error_type": None, "errors": 0, "error_rate": 0.0}
    ]
    assert quiet["calls"].item() == calls.filter(pl.col("start_time").dt.hour() == 3).height
    untyped = result.filter(pl.col("bucket").dt.hour() == 5)
    assert untyped["error_type"].to_list() == ["unknown"]
    assert result.group_by("bucket").agg(pl.col("calls").n_unique())["calls"].max() == 1


def test_every_source_gives_the_same_error_rates(sources) -> None:
    calls = calls_frame(n=3000)
    expected = analytics.error_rates(calls, by=["model"], every="1d")
    for name, (source, _) in sources(calls).items():
        assert_frame_equal(analytics.error_rates(source, by=["model"], every="1d"), expected), name
