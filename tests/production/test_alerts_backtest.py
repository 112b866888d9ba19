"""Backtesting the alert rules over stored calls: episodes start and end when Prometheus's would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from llmobs_nb.export import backtest_alert_rules

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def traffic(n: int, **columns) -> pl.DataFrame:
    """``n`` calls, one every 30 s from T0; columns are functions of the call index."""
    base = {"latency_s": lambda i: 1.0, "status": lambda i: "ok", "cost_usd": lambda i: 0.01}
    base.update(columns)
    return pl.DataFrame(
        {
            "end_time": [T0 + timedelta(seconds=30 * i) for i in range(n)],
            **{name: [f(i) for i in range(n)] for name, f in base.items()},
        }
    ).with_columns(pl.col("end_time").dt.cast_time_unit("us"))


def episodes(frame: pl.DataFrame, alert: str) -> list[dict]:
    return frame.filter(pl.col("alert") == alert).drop("alert").to_dicts()


def test_latency_incident_fires_after_five_minutes_and_resolves_when_p95_drops():
    # calls at 10:20:00 … 10:34:30 take 15 s; the rest 1 s
    calls = traffic(120, latency_s=lambda i: 15.0 if 40 <= i < 70 else 1.0)

    found = episodes(backtest_alert_rules(calls), "LLMHighLatency")

    # 10:21 is the first evaluation whose 5m window holds enough slow calls (3 of 11) for an
    # exact P95 above 10 s; held for 5m, it fires at 10:26. At 10:39 the window holds one slow
    # call in ten (P95 = 8.7 s), so it resolves.
    assert found == [
        {
            "severity": "warning",
            "fired_at": at(26),
            "resolved_at": at(39),
            "peak": 15.0,
            "threshold": 10.0,
        }
    ]


def test_error_burst_fires_after_two_minutes_as_critical():
    # calls 80 … 89 (10:40:00 … 10:44:30) fail
    calls = traffic(200, status=lambda i: "error" if 80 <= i < 90 else "ok")

    (episode,) = episodes(backtest_alert_rules(calls), "LLMHighErrorRate")

    assert (episode["fired_at"], episode["resolved_at"]) == (at(42), at(50))
    assert episode["severity"] == "critical"
    assert episode["peak"] == pytest.approx(0.9)  # 9 of the 10 calls in (10:40, 10:45]


def test_cost_alert_fires_at_once_and_is_still_firing_at_the_end_of_the_data():
    # 1 USD per call, 2 calls a minute, for 40 minutes
    calls = traffic(80, cost_usd=lambda i: 1.0)

    (episode,) = episodes(backtest_alert_rules(calls, cost_per_hour_usd=50), "LLMCostBudgetAlert")

    # the window ending 10:25 holds 51 calls: over 50 USD, and the rule has no `for`
    assert episode["fired_at"] == at(25)
    assert episode["resolved_at"] is None
    assert episode["peak"] == 80.0


def test_quality_degradation_uses_the_mean_score_over_the_window():
    calls = traffic(240)
    scores = pl.DataFrame(
        {
            "created_at": calls["end_time"],
            "value": [0.9 if i < 120 else 0.3 for i in range(240)],
        }
    )

    found = backtest_alert_rules(calls, scores, quality_min=0.7)
    (episode,) = episodes(found, "LLMQualityDegradation")

    # at 11:20 the hour holds 79 scores of 0.9 and 41 of 0.3: mean 0.695 < 0.7; +10m `for`
    assert episode["fired_at"] == at(90)
    assert episode["resolved_at"] is None
    assert episode["peak"] == pytest.approx(0.3)


def test_thresholds_are_the_rule_thresholds():
    calls = traffic(120, latency_s=lambda i: 15.0 if 40 <= i < 70 else 1.0)
    assert episodes(backtest_alert_rules(calls, latency_p95_s=20), "LLMHighLatency") == []


def test_quiet_traffic_raises_no_alert():
    result = backtest_alert_rules(traffic(300), pl.DataFrame({"created_at": [T0], "value": [0.95]}))
    assert result.is_empty()
    assert result.columns == ["alert", "severity", "fired_at", "resolved_at", "peak", "threshold"]


def test_step_must_divide_the_rule_windows():
    with pytest.raises(ValueError, match="step '7m' must divide LLMHighLatency's window '5m'"):
        backtest_alert_rules(traffic(10), step="7m")


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"no column\(s\) \['latency_s'\]"):
        backtest_alert_rules(pl.DataFrame({"end_time": [T0], "status": ["ok"], "cost_usd": [0.1]}))
