"""The injected incidents are in the data where the ground truth says, and nowhere else."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from llmobs_nb import demo


def quality_of(sample: demo.SampleData) -> pl.DataFrame:
    return sample.scores.filter(pl.col("name") == "quality").join(
        sample.calls.select("span_id", "model", "use_case", "start_time"), on="span_id"
    )


def test_quality_falls_from_the_baseline_to_the_degraded_mean_at_the_regression_start(sample):
    truth = sample.truth.quality_regression
    assert (truth.model, truth.use_case, truth.score_name) == (
        "gpt-4o-mini",
        "customer_service",
        "quality",
    )
    assert sample.start < truth.start < truth.end == sample.end
    group = quality_of(sample).filter(
        pl.col("model") == truth.model, pl.col("use_case") == truth.use_case
    )
    before = group.filter(pl.col("start_time") < truth.start)["value"]
    after = group.filter(pl.col("start_time") >= truth.start)["value"]
    assert before.mean() == pytest.approx(truth.baseline_mean, abs=0.02)
    assert after.mean() == pytest.approx(truth.degraded_mean, abs=0.02)
    assert after.len() > 300


def test_quality_of_every_other_model_and_use_case_does_not_move(sample):
    truth = sample.truth.quality_regression
    others = quality_of(sample).filter(
        (pl.col("model") != truth.model) | (pl.col("use_case") != truth.use_case)
    )
    shift = others.group_by("model", "use_case").agg(
        (
            pl.col("value").filter(pl.col("start_time") >= truth.start).mean()
            - pl.col("value").filter(pl.col("start_time") < truth.start).mean()
        ).alias("shift")
    )
    assert shift["shift"].abs().max() < 0.03


def test_the_spike_user_spends_the_truths_amount_in_the_spike_hour_and_little_otherwise(sample):
    spike = sample.truth.cost_spike
    hourly = (
        sample.calls.filter(pl.col("user_id") == spike.user_id)
        .group_by(pl.col("start_time").dt.truncate("1h").alias("hour"))
        .agg(pl.col("cost_usd").sum())
    )
    spend = dict(hourly.iter_rows())
    assert spend[spike.hour] == pytest.approx(spike.usd)
    assert spike.usd > 10  # well above the 5 USD per user-hour seed threshold
    assert max(v for h, v in spend.items() if h != spike.hour) < 1


def test_the_latency_incident_makes_one_model_about_factor_times_slower(sample):
    incident = sample.truth.latency_incident
    ok = sample.calls.filter(pl.col("status") == "ok")
    inside = pl.col("start_time").is_between(incident.start, incident.end, closed="left")
    # Compare with the same clock hours on the other days: same traffic mix.
    same_hours = (
        pl.col("start_time")
        .dt.hour()
        .is_between(incident.start.hour, incident.end.hour, closed="left")
    )

    def ratio(model: str) -> float:
        calls = ok.filter(pl.col("model") == model, same_hours)
        during = calls.filter(inside)["latency_s"].median()
        usual = calls.filter(~inside)["latency_s"].median()
        return during / usual

    assert incident.end - incident.start == timedelta(hours=3)
    assert ratio(incident.model) == pytest.approx(incident.factor, rel=0.15)
    assert ratio("claude-sonnet-4-5") == pytest.approx(1.0, rel=0.15)


def test_without_incidents_the_truth_is_empty_but_the_experiment_remains(quiet):
    truth = quiet.truth
    assert (truth.quality_regression, truth.cost_spike, truth.latency_incident) == (None,) * 3
    assert truth.experiment.candidate == "prompt-v2"


@pytest.mark.parametrize("seed", range(5))
def test_quiet_traffic_stays_far_below_the_seed_cost_thresholds(seed, start):
    calls = demo.generate(20_000, days=7, seed=seed, start=start, incidents=False).calls
    hour = pl.col("start_time").dt.truncate("1h")
    per_user_hour = calls.group_by(hour, "user_id").agg(pl.col("cost_usd").sum())
    per_hour = calls.group_by(hour).agg(pl.col("cost_usd").sum())
    per_day = calls.group_by(pl.col("start_time").dt.truncate("1d")).agg(pl.col("cost_usd").sum())
    assert per_user_hour["cost_usd"].max() < 1.0  # threshold 5 USD
    assert per_hour["cost_usd"].max() < 2.5  # threshold 10 USD
    assert per_day["cost_usd"].max() < 30.0  # threshold 100 USD
