"""Quality drift: finds an injected regression and when it began; quiet when nothing happened."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from tests.analytics.synthetic import T0, calls_frame, scores_frame

DAYS = 7
DROP_AT = T0 + timedelta(days=5, hours=7)


def test_finds_the_injected_regression_and_dates_its_onset_within_5_percent() -> None:
    calls = calls_frame(n=20_000, days=DAYS, seed=3)
    scores = scores_frame(calls, seed=3, drop_model="gpt-4o", drop_at=DROP_AT, drop_factor=0.6)
    result = analytics.quality_drift(calls, scores=scores, by=["model"])
    hit = result.filter(pl.col("model") == "gpt-4o").row(0, named=True)
    assert hit["alert"] and hit["rule_breached"]
    assert hit["p_value"] < 1e-6
    assert hit["degradation_pct"] == pytest.approx(40, abs=5)
    assert abs(hit["onset"] - DROP_AT) <= 0.05 * timedelta(days=DAYS)
    assert (hit["n_baseline"], hit["n_recent"]) == (100, 20)
    others = result.filter(pl.col("model") != "gpt-4o")
    assert not others["alert"].any()
    assert others["onset"].is_null().all()


def test_no_alert_without_an_incident_in_20_seeds() -> None:
    false_alarms = 0
    for seed in range(20):
        calls = calls_frame(n=4000, days=DAYS, seed=seed)
        result = analytics.quality_drift(calls, scores=scores_frame(calls, seed=seed))
        false_alarms += int(result["alert"].sum())
    assert false_alarms == 0


def test_a_group_with_too_few_scores_gets_no_statistics_and_no_alert() -> None:
    calls = calls_frame(n=800, seed=1)
    result = analytics.quality_drift(calls, scores=scores_frame(calls, seed=1), by=["model"])
    small = result.filter(pl.col("model") == "local-llama").row(0, named=True)
    assert small["n"] < 120
    assert (small["baseline"], small["p_value"], small["onset"]) == (None, None, None)
    assert small["alert"] is False


def test_scores_by_trace_join_the_traces_llm_call_and_names_are_kept_apart() -> None:
    calls = calls_frame(n=3000, seed=2)
    scores = scores_frame(calls, seed=2, by_trace_share=1.0)  # every score by trace_id only
    other = scores.with_columns(pl.lit("faithfulness").alias("name"), pl.col("value") / 2)
    result = analytics.quality_drift(calls, scores=pl.concat([scores, other]), by=["use_case"])
    assert result.height == 3 * 2
    assert result.group_by("score_name").agg(pl.col("n").sum())["n"].to_list() == [3000, 3000]
    only = analytics.quality_drift(
        calls, scores=pl.concat([scores, other]), score_name="faithfulness"
    )
    assert set(only["score_name"]) == {"faithfulness"}
    assert only["baseline"].max() < 0.5


def test_every_source_gives_the_same_drift(sources) -> None:
    calls = calls_frame(n=3000, seed=4)
    scores = scores_frame(calls, seed=4, drop_model="gpt-4o", drop_at=DROP_AT)
    expected = analytics.quality_drift(calls, scores=scores, by=["model"])
    assert expected["alert"].any()
    for name, (source, given) in sources(calls, scores).items():
        got = analytics.quality_drift(source, scores=given, by=["model"])
        assert_frame_equal(got, expected), name
