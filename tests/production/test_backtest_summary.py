"""summarise_backtest on a real backtest of the demo sample, checked against the raw episodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.export import backtest_alert_rules, summarise_backtest
from llmobs_nb.export.backtest import EPISODE_SCHEMA

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample.duckdb"


@pytest.fixture(scope="module")
def episodes() -> pl.DataFrame:
    # The notebook's backtest: the demo sample, latency 10 s and a 10 USD hourly budget.
    history = llmobs_nb.open(demo.sample_store(SAMPLE))
    return backtest_alert_rules(
        history.calls(), history.scores(), latency_p95_s=10, cost_per_hour_usd=10
    )


@pytest.fixture(scope="module")
def summary(episodes: pl.DataFrame) -> pl.DataFrame:
    return summarise_backtest(episodes)


def raw(episodes: pl.DataFrame, rule: str) -> list[dict]:
    return sorted(
        (e for e in episodes.to_dicts() if e["alert"] == rule), key=lambda e: e["fired_at"]
    )


def test_one_row_per_rule_including_the_rule_that_never_fired(summary: pl.DataFrame):
    assert sorted(summary["rule"]) == [
        "LLMCostBudgetAlert",
        "LLMHighErrorRate",
        "LLMHighLatency",
        "LLMQualityDegradation",
    ]
    quality = summary.filter(pl.col("rule") == "LLMQualityDegradation").row(0, named=True)
    assert quality["fires"] == 0 and quality["first_fired"] is None
    assert quality["meaning"] == "never fired at these thresholds"


def test_figures_match_the_raw_episodes(episodes: pl.DataFrame, summary: pl.DataFrame):
    assert summary["fires"].sum() == episodes.height
    end = max(t for e in episodes.to_dicts() for t in (e["fired_at"], e["resolved_at"]) if t)
    for row in summary.filter(pl.col("fires") > 0).to_dicts():
        rows = raw(episodes, row["rule"])
        assert row["fires"] == len(rows)
        assert row["severity"] == rows[0]["severity"]
        assert row["first_fired"] == rows[0]["fired_at"]
        assert row["last_fired"] == rows[-1]["fired_at"]
        minutes = sum(((e["resolved_at"] or end) - e["fired_at"]).total_seconds() for e in rows)
        assert row["minutes_firing"] == pytest.approx(minutes / 60)
        refires = sum(
            1
            for before, after in pairwise(rows)
            if after["fired_at"] - before["resolved_at"] <= timedelta(minutes=30)
        )
        assert row["flapping"] == refires
        assert row["still_firing"] is (rows[-1]["resolved_at"] is None)


def test_the_noisy_error_rate_alert_is_the_top_line_and_is_called_flapping(
    episodes: pl.DataFrame, summary: pl.DataFrame
):
    top = summary.row(0, named=True)
    assert top["rule"] == "LLMHighErrorRate"
    assert top["fires"] == summary["fires"].max()
    assert 3 * top["flapping"] >= top["fires"]
    assert top["meaning"].startswith(f"flapping: {top['flapping']} of its {top['fires']} alerts")


def test_refire_window_is_a_parameter(episodes: pl.DataFrame):
    tight = summarise_backtest(episodes, refire_within="5m")
    loose = summarise_backtest(episodes, refire_within="1h")
    for rule in ("LLMHighErrorRate", "LLMHighLatency"):
        t, lo = (s.filter(pl.col("rule") == rule)["flapping"].item() for s in (tight, loose))
        assert t <= lo


def test_an_episode_still_firing_counts_to_the_end_of_the_data():
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "alert": ["LLMCostBudgetAlert", "LLMHighLatency"],
            "severity": ["warning", "warning"],
            "fired_at": [t0, t0 + timedelta(minutes=20)],
            "resolved_at": [None, t0 + timedelta(minutes=50)],
            "peak": [12.0, 30.0],
            "threshold": [10.0, 10.0],
        },
        schema=EPISODE_SCHEMA,
    )
    cost = summarise_backtest(frame).filter(pl.col("rule") == "LLMCostBudgetAlert")
    assert cost.row(0, named=True)["still_firing"] is True
    assert cost["minutes_firing"].item() == 50.0
    assert cost["meaning"].item() == (
        "fired once, 50 minutes in all; read each episode before deploying it"
    )
