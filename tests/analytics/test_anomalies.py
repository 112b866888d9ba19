"""Cost anomalies: the injected spike trips every rule; quiet traffic trips none."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics.anomalies import robust_z
from llmobs_nb.view.data_source import DataSource
from tests.analytics.conftest import write_store
from tests.analytics.synthetic import T0, calls_frame

SPIKE = T0 + timedelta(days=4, hours=13)


def test_an_injected_spike_trips_the_hourly_user_and_robust_rules() -> None:
    calls = calls_frame(n=20_000, seed=5, spike_at=SPIKE, spike_calls=600, spike_cost_usd=0.08)
    alerts = analytics.cost_anomalies(calls)
    assert set(alerts["rule"]) == {"hourly_total", "user_model_hourly", "hourly_mad"}
    assert (alerts["window_start"] == SPIKE).all()
    assert (alerts["window_end"] == SPIKE + timedelta(hours=1)).all()
    user = alerts.filter(pl.col("rule") == "user_model_hourly").row(0, named=True)
    assert (user["user_id"], user["model"]) == ("u-flood", "gpt-4o")
    assert user["value"] == pytest.approx(600 * 0.08) and user["threshold"] == 5.0
    mad = alerts.filter(pl.col("rule") == "hourly_mad").row(0, named=True)
    assert mad["z_score"] > 6 and mad["value"] > mad["threshold"]


def test_a_day_over_budget_is_reported_for_that_day() -> None:
    calls = calls_frame(n=20_000, seed=5, spike_at=SPIKE, spike_calls=2000, spike_cost_usd=0.08)
    daily = analytics.cost_anomalies(calls).filter(pl.col("rule") == "daily_budget")
    day = datetime(SPIKE.year, SPIKE.month, SPIKE.day, tzinfo=SPIKE.tzinfo)
    assert daily.select("window_start", "window_end", "threshold").to_dicts() == [
        {"window_start": day, "window_end": day + timedelta(days=1), "threshold": 100.0}
    ]
    assert daily["value"].item() > 160


def test_no_alert_without_an_incident_in_20_seeds() -> None:
    alerts = pl.concat([analytics.cost_anomalies(calls_frame(seed=seed)) for seed in range(20)])
    assert alerts.height == 0


def test_robust_z_ignores_a_window_without_spread_and_the_start_of_history() -> None:
    values = np.array([1.0] * 30 + [5.0])
    z, median, _ = robust_z(values, window=24, min_history=12)
    assert np.isnan(z[:12]).all()
    assert np.isnan(z[-1]) and median[-1] == 1.0  # flat window: no spread, no verdict
    noisy = np.r_[np.random.default_rng(0).normal(10, 1, 48), 30.0]
    z, median, scale = robust_z(noisy, window=24, min_history=12)
    assert z[-1] == pytest.approx((30 - np.median(noisy[-25:-1])) / scale[-1])
    assert z[-1] > 10


def test_budget_forecast_projects_spend_at_run_rate() -> None:
    calls = calls_frame(n=5000, days=7)
    now = T0 + timedelta(days=6, hours=12)
    forecast = analytics.budget_forecast(calls, daily_budget_usd=10, now=now)
    day = forecast.filter(pl.col("period") == "day").row(0, named=True)
    spent = calls.filter(
        (pl.col("start_time") >= now - timedelta(hours=12)) & (pl.col("start_time") <= now)
    )["cost_usd"].sum()
    assert day["spent_usd"] == pytest.approx(spent)
    assert day["elapsed_fraction"] == pytest.approx(0.5)
    assert day["projected_usd"] == pytest.approx(2 * spent)
    assert day["over_budget"] == (2 * spent > 10)
    month = forecast.filter(pl.col("period") == "month").row(0, named=True)
    assert month["budget_usd"] == 310.0  # March: 31 days × 10 USD
    assert (
        month["unpriced_calls"]
        == calls.filter(pl.col("cost_usd").is_null() & (pl.col("start_time") <= now)).height
    )


def test_every_source_gives_the_same_alerts(sources) -> None:
    calls = calls_frame(n=5000, seed=5, spike_at=SPIKE)
    expected = analytics.cost_anomalies(calls)
    assert expected.height == 3
    for name, (source, _) in sources(calls).items():
        assert_frame_equal(analytics.cost_anomalies(source), expected), name
        assert_frame_equal(analytics.budget_forecast(source), analytics.budget_forecast(calls))


@pytest.mark.parametrize("negative", [False, True])
def test_user_hours_over_the_limit_are_every_such_hour(tmp_path, negative: bool) -> None:
    # The per-user rule asks only the users of days over the limit (when no cost is
    # negative): it must find exactly the hours a full grouping finds, from a frame and from
    # a store's rollups, and still when a negative cost makes that shortcut unsound.
    rng = np.random.default_rng(7)
    calls = calls_frame(n=4_000, seed=8).with_columns(
        pl.Series("cost_usd", rng.exponential(0.4, 4_000)),
        pl.Series("user_id", [f"u{i}" for i in rng.integers(0, 40, 4_000)]),
    )
    if negative:  # a refund the shortcut could hide: -5 USD on one user's busy day
        calls = calls.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(-5.0).otherwise("cost_usd").alias("cost_usd")
        )
    limit = 1.5
    want = (
        calls.group_by("user_id", "model", pl.col("start_time").dt.truncate("1h"))
        .agg(pl.col("cost_usd").sum())
        .filter(pl.col("cost_usd") > limit)
        .height
    )
    assert want > 0
    store = write_store(tmp_path / "a.duckdb", calls, None)
    for source, approx in ((calls, False), (str(store), True), (str(store), False)):
        found = (
            analytics.cost_anomalies(
                source,
                user_hourly_threshold_usd=limit,
                hourly_threshold_usd=1e9,
                daily_budget_usd=1e9,
                z_threshold=1e9,
            )
            if not approx
            else _anomalies_approx(str(store), limit)
        )
        assert (found["rule"] == "user_model_hourly").sum() == want, (source, approx)


def _anomalies_approx(path: str, limit: float) -> pl.DataFrame:
    calls = DataSource(path, approx=True).filtered(analytics.Filter())
    return analytics.cost_anomalies(
        calls,
        user_hourly_threshold_usd=limit,
        hourly_threshold_usd=1e9,
        daily_budget_usd=1e9,
        z_threshold=1e9,
    )
