"""Backfilled history: promtool turns it into blocks and Prometheus answers from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmobs_nb.export.backfill import openmetrics_backfill
from llmobs_nb.metrics import ObserverMetrics

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def history(realistic_calls) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three hours of calls (one every 27 s) and a quality score on every third call."""
    rows = realistic_calls(400, seed=11)
    calls = pl.DataFrame(
        [
            {
                **row,
                "span_id": f"span-{i}",
                "end_time": START + timedelta(seconds=27 * i),
            }
            for i, row in enumerate(rows)
        ]
    ).with_columns(pl.col("end_time").dt.cast_time_unit("us"))
    scores = calls.filter(pl.int_range(pl.len()) % 3 == 0).select(
        "span_id",
        created_at=pl.col("end_time") + pl.duration(seconds=5),
        value=(pl.int_range(pl.len()) % 10) / 10,
    )
    return calls, scores


@pytest.fixture(scope="module")
def backfilled(history, tmp_path_factory, promtool, start_prometheus):
    calls, scores = history
    work = tmp_path_factory.mktemp("backfill")
    path = openmetrics_backfill(calls, work / "history.om", scores=scores, step="1m")
    blocks = work / "data"
    blocks.mkdir()
    result = promtool("tsdb", "create-blocks-from", "openmetrics", str(path), str(blocks))
    assert result.returncode == 0, result.stdout + result.stderr
    prometheus = start_prometheus(
        "global: {}\n", blocks, "--storage.tsdb.retention.time=100y", workdir=work
    )
    last = max(calls["end_time"].max(), scores["created_at"].max())
    at = (int(last.timestamp()) // 60 + 1) * 60  # the last step boundary
    return prometheus, at, path


def test_file_is_openmetrics_ending_with_eof(backfilled):
    _, _, path = backfilled
    text = path.read_text()
    assert text.endswith("# EOF\n")
    assert "# TYPE llm_tokens counter\n" in text
    assert "# TYPE llm_request_duration_seconds histogram\n" in text


def test_prometheus_totals_at_the_last_step_equal_the_frame_sums(backfilled, history):
    prometheus, at, _ = backfilled
    calls, scores = history
    sums = calls.select(
        pl.col("input_tokens").sum(), pl.col("output_tokens").sum(), pl.col("cost_usd").sum()
    ).row(0, named=True)

    assert prometheus.scalar('sum(llm_tokens_total{type="input"})', at) == sums["input_tokens"]
    assert prometheus.scalar('sum(llm_tokens_total{type="output"})', at) == sums["output_tokens"]
    assert prometheus.scalar("sum(llm_cost_usd_total)", at) == pytest.approx(
        sums["cost_usd"], rel=1e-12
    )
    assert prometheus.scalar("sum(llm_request_duration_seconds_count)", at) == len(calls)
    assert prometheus.scalar("sum(llm_errors_total)", at) == calls["status"].eq("error").sum()
    assert prometheus.scalar("sum(llm_quality_score_count)", at) == len(scores)


def test_increase_over_the_whole_range_counts_every_call(backfilled, history):
    # each series starts with a zero sample, so the first calls are not lost to rate()/increase()
    prometheus, at, _ = backfilled
    calls, _ = history
    total = prometheus.scalar("sum(increase(llm_request_duration_seconds_count[4h]))", at)
    assert total == pytest.approx(len(calls), rel=0.05)


def test_backfilled_series_are_the_ones_a_live_scrape_would_show(backfilled, history):
    prometheus, at, _ = backfilled
    calls, scores = history
    live = ObserverMetrics()
    live.record_calls(calls.to_dicts())
    owners = dict(zip(calls["span_id"], calls.select("model", "use_case").rows(), strict=True))
    for span_id, value in scores.select("span_id", "value").rows():
        live.record_score(*owners[span_id], value)

    def key(name: str, labels: dict[str, str]) -> tuple:
        # Prometheus drops empty labels, as it does when it scrapes
        return (name, tuple(sorted((k, v) for k, v in labels.items() if v and k != "__name__")))

    expected = {
        key(s.name, s.labels): s.value
        for family in text_string_to_metric_families(live.text())
        for s in family.samples
        if not s.name.endswith("_created")
    }
    stored = {
        key(r["metric"]["__name__"], r["metric"]): float(r["value"][1])
        for r in prometheus.query('{__name__=~"llm_.+|gen_ai_.+"}', at)
    }
    assert stored.keys() == expected.keys()
    for series, value in expected.items():
        assert stored[series] == pytest.approx(value, rel=1e-9), series


def test_missing_columns_are_named(tmp_path):
    with pytest.raises(ValueError, match="calls has no column 'latency_s'"):
        openmetrics_backfill(pl.DataFrame({"end_time": [START]}), tmp_path / "x.om")
