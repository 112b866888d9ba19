"""The project's own detectors find the injected incidents, and stay silent without them."""

from __future__ import annotations

import pytest

from llmobs_nb import analytics, demo


def test_quality_drift_alerts_on_the_regressed_model_with_the_true_onset(sample):
    truth = sample.truth.quality_regression
    drift = analytics.quality_drift(
        sample.calls, scores=sample.scores, by=["model"], score_name="quality"
    )
    alerts = drift.filter("alert")
    assert alerts["model"].to_list() == [truth.model]
    onset = alerts["onset"][0]
    assert abs(onset - truth.start) <= 0.05 * (sample.end - sample.start)


def test_cost_anomalies_flag_the_spike_user_in_the_spike_hour(sample):
    spike = sample.truth.cost_spike
    alerts = analytics.cost_anomalies(sample.calls)
    per_user = alerts.filter(rule="user_model_hourly")
    assert per_user.select("user_id", "window_start").rows() == [(spike.user_id, spike.hour)]
    assert set(alerts["window_start"]) == {spike.hour}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quiet_traffic_raises_no_drift_and_no_cost_alert(seed, start):
    quiet = demo.generate(20_000, days=7, seed=seed, start=start, incidents=False)
    drift = analytics.quality_drift(quiet.calls, scores=quiet.scores, by=["model"])
    assert not drift["alert"].any()
    assert analytics.cost_anomalies(quiet.calls).is_empty()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_quiet_traffic_raises_no_alert_in_twenty_seeds(seed, start):
    quiet = demo.generate(20_000, days=7, seed=seed, start=start, incidents=False)
    drift = analytics.quality_drift(quiet.calls, scores=quiet.scores, by=["model", "use_case"])
    assert not drift["alert"].any()
    assert analytics.cost_anomalies(quiet.calls).is_empty()
