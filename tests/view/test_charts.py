"""Every chart is a valid Vega-Lite spec, ships a small table, and survives empty input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from llmobs_nb import analytics, demo
from llmobs_nb.view import charts
from llmobs_nb.view.buckets import MAX_ROWS, choose_every

from .conftest import START


def rows_shipped(chart: Any) -> int:
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    return sum(len(values) for values in spec.get("datasets", {}).values())


def call_charts(calls: Any, scores: Any = None) -> dict[str, Any]:
    return {
        "latency": charts.latency_chart(calls),
        "ttft": charts.ttft_chart(calls),
        "tokens": charts.token_rate_chart(calls),
        "cost": charts.cost_chart(calls),
        "errors": charts.error_chart(calls, by="model"),
        "top_users": charts.top_users_chart(calls),
        "quality_distribution": charts.quality_distribution_chart(calls, scores),
        "quality": charts.quality_chart(calls, scores),
    }


def test_charts_over_200k_calls_ship_at_most_a_few_thousand_rows(big_sample: demo.SampleData):
    drawn = call_charts(big_sample.calls, big_sample.scores)
    for name, chart in drawn.items():
        shipped = rows_shipped(chart)
        assert 0 < shipped <= MAX_ROWS + 10, f"{name} ships {shipped} rows"


def test_a_too_fine_bucket_is_coarsened_to_keep_the_chart_small(big_sample: demo.SampleData):
    chart = charts.latency_chart(big_sample.calls, every="1m")
    assert rows_shipped(chart) <= MAX_ROWS
    assert "per 1m" not in chart.to_dict()["title"]


def test_the_latency_chart_draws_the_percentiles_analytics_computed(sample: demo.SampleData):
    chart = charts.latency_chart(sample.calls, every="6h", quantiles=(0.5, 0.95, 0.99))
    shipped = next(iter(chart.to_dict()["datasets"].values()))
    expected = analytics.latency_percentiles(sample.calls, by=["model"], every="6h")
    first = expected.drop_nulls("p95").row(0, named=True)
    bucket = first["bucket"].strftime("%Y-%m-%dT%H:%M:%S+0000")
    match = {
        r["percentile"]: r["seconds"]
        for r in shipped
        if r["model"] == first["model"] and r["bucket"] == bucket
    }
    assert match["P95"] == pytest.approx(first["p95"])
    assert match["P50"] == pytest.approx(first["p50"])


def test_the_cost_chart_shows_the_hourly_budget_as_a_line(sample: demo.SampleData):
    spec = charts.cost_chart(sample.calls, budget_usd_per_hour=20.0).to_dict()
    rule = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rule"]
    budget = [v for v in spec["datasets"].values() if "budget" in v[0]]
    assert rule and budget[0][0]["budget"] == 20.0


def test_a_budget_far_above_every_bar_is_written_not_drawn(sample: demo.SampleData):
    hourly = analytics.cost_breakdown(sample.calls, by=[], every="1h")["cost_usd"].max()
    spec = charts.cost_chart(sample.calls, budget_usd_per_hour=hourly * 10).to_dict()
    assert "layer" not in spec  # no rule squashing the bars against the axis
    assert "off the scale" in spec["title"]["subtitle"]
    assert "the busiest 1h spent 10% of it" in spec["title"]["subtitle"]


def test_charts_on_no_calls_say_so_instead_of_raising(sample: demo.SampleData):
    empty = sample.calls.head(0)
    for name, chart in call_charts(empty, sample.scores.head(0)).items():
        spec = chart.to_dict()
        assert "no " in str(spec), name


def test_the_run_comparison_shows_each_metric_with_its_interval(sample: demo.SampleData):
    comparison = analytics.compare_runs(
        sample.calls, "prompt-v1", "prompt-v2", scores=sample.scores
    )
    spec = charts.run_comparison_chart(comparison).to_dict()
    shipped = next(v for v in spec["datasets"].values() if "metric" in v[0])
    assert {r["metric"] for r in shipped} >= {"latency_p50_s", "error_rate"}
    assert all(r["ci_low_pct"] <= r["change_pct"] <= r["ci_high_pct"] for r in shipped)


def test_run_comparison_refuses_a_frame_that_is_not_a_comparison(sample: demo.SampleData):
    with pytest.raises(ValueError, match="compare_runs"):
        charts.run_comparison_chart(sample.calls)


def test_charts_read_a_store_file_as_well_as_a_frame(store_file: Path, sample: demo.SampleData):
    from_file = next(iter(charts.top_users_chart(str(store_file)).to_dict()["datasets"].values()))
    from_frame = next(iter(charts.top_users_chart(sample.calls).to_dict()["datasets"].values()))
    assert [r["user_id"] for r in from_file] == [r["user_id"] for r in from_frame]


def test_the_bucket_follows_the_time_range():
    from datetime import timedelta

    assert choose_every(START, START + timedelta(hours=2)) == "1m"
    assert choose_every(START, START + timedelta(days=14)) == "1h"
    assert choose_every(START, START + timedelta(days=365)) == "1d"


@pytest.mark.slow
def test_charts_over_a_million_calls_in_a_store_stay_small(tmp_path: Path):
    path = tmp_path / "million.duckdb"
    demo.generate(1_000_000, days=14, seed=0, start=START, store=path)
    for name, chart in call_charts(str(path)).items():
        shipped = rows_shipped(chart)
        assert 0 < shipped <= MAX_ROWS + 10, f"{name} ships {shipped} rows"


def test_the_waterfall_of_a_rag_trace_nests_spans_under_the_root(sample: demo.SampleData):
    rag = sample.spans.filter(pl.col("kind") == "retrieval")["trace_id"][0]
    spans = sample.spans.filter(pl.col("trace_id") == rag)
    spec = charts.waterfall_chart(spans).to_dict()
    shipped = next(iter(spec["datasets"].values()))
    labels = [r["label"] for r in sorted(shipped, key=lambda r: r["row"])]
    assert not labels[0].startswith(" ")
    assert all(label.startswith("  ") for label in labels[1:])
    assert [r["kind"] for r in sorted(shipped, key=lambda r: r["row"])][1:] == [
        "retrieval",
        "rerank",
        "llm",
    ]
    assert shipped[0]["start_ms"] == 0.0


def test_a_failed_span_is_marked_in_the_waterfall(sample: demo.SampleData):
    failed = sample.spans.filter(pl.col("status") == "error")["trace_id"][0]
    spans = sample.spans.filter(pl.col("trace_id") == failed)
    spec = charts.waterfall_chart(spans).to_dict()
    shipped = next(iter(spec["datasets"].values()))
    assert any(r["failed"] for r in shipped)
    assert any(layer["mark"].get("text") == "✕" for layer in spec["layer"])
