"""A million calls generate in one go, with every id unique and the incidents intact."""

from __future__ import annotations

import polars as pl
import pytest

from llmobs_nb import demo


@pytest.mark.slow
def test_a_million_calls_generate_with_unique_ids_and_visible_incidents(start):
    sample = demo.generate(1_000_000, days=7, seed=0, start=start)

    assert sample.calls.height == 1_000_000
    assert sample.spans["span_id"].n_unique() == sample.spans.height
    assert sample.calls["trace_id"].n_unique() == 1_000_000
    truth = sample.truth.quality_regression
    group = sample.scores.filter(pl.col("name") == "quality").join(
        sample.calls.filter(
            pl.col("model") == truth.model, pl.col("use_case") == truth.use_case
        ).select("span_id", "start_time"),
        on="span_id",
    )
    after = group.filter(pl.col("start_time") >= truth.start)["value"].mean()
    assert after == pytest.approx(truth.degraded_mean, abs=0.01)
    assert sample.truth.cost_spike.usd > 10
