"""Latency and TTFT charts that read at a glance (issue #16): one percentile, timeouts clipped
and marked, a legend that highlights; the dashboard's percentile switch and per-model table."""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb import analytics, demo
from llmobs_nb.demo.writing import write_tables
from llmobs_nb.view import Dashboard, latency_chart, ttft_chart
from llmobs_nb.view import panels as panels_module
from llmobs_nb.view.chart_board import for_board, split_spec
from llmobs_nb.view.data_source import DataSource, Filter
from llmobs_nb.view.html import format_cost, format_duration, format_percent
from llmobs_nb.view.latency_charts import axis_cap, highlight_name, percentile_charts

from .conftest import START

SPIKE_HOUR = 9
SPIKE_MODEL = "gpt-4o"
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def spike_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A day of calls taking about 1 s (0.9–1.08 s), except in hour 9, where a third of
    gpt-4o's calls time out at 60 s: that hour's gpt-4o P95 (and P99) is 60 s."""
    sample = demo.generate(6_000, days=1, seed=7, start=START, incidents=False)
    i = pl.int_range(pl.len())
    hour = (pl.col("start_time") - pl.lit(START)).dt.total_hours()
    spike = (
        (pl.col("kind") == "llm")
        & (pl.col("model") == SPIKE_MODEL)
        & (hour == SPIKE_HOUR)
        & (i % 3 == 0)
    )
    about_one = 0.9 + 0.02 * (i % 10).cast(pl.Float64)
    latency = pl.when(spike).then(TIMEOUT_S).otherwise(about_one)
    spans = sample.spans.with_columns(
        pl.when(pl.col("kind") == "llm")
        .then(latency)
        .otherwise(pl.col("latency_s"))
        .alias("latency_s")
    ).with_columns(
        pl.when(pl.col("kind") == "llm")
        .then(pl.col("start_time") + pl.duration(microseconds=pl.col("latency_s") * 1e6))
        .otherwise(pl.col("end_time"))
        .alias("end_time")
    )
    path = tmp_path_factory.mktemp("spike") / "spike.duckdb"
    write_tables(path, dataclasses.replace(sample, spans=spans))
    return path


def rows_of(chart: Any) -> list[dict[str, Any]]:
    datasets = chart.to_dict()["datasets"]
    assert len(datasets) == 1  # one table: lines and clipped marks read the same rows
    return next(iter(datasets.values()))


def expected(store: Any, measure: str, q: float, every: str) -> pl.DataFrame:
    column = analytics.quantile_column(q)
    found = analytics.percentiles(store, measure, by=["model"], every=every, quantiles=[q])
    return found.drop_nulls(column).select(
        "model", pl.col("bucket").dt.strftime("%Y-%m-%dT%H:%M:%S+0000"), pl.col(column)
    )


def drawn(rows: list[dict[str, Any]], percentile: str) -> pl.DataFrame:
    return pl.DataFrame(
        [(r["model"], r["bucket"], r["seconds"]) for r in rows if r["percentile"] == percentile],
        schema=["model", "bucket", "seconds"],
        orient="row",
    )


def assert_same_values(rows: list[dict[str, Any]], want: pl.DataFrame, percentile: str) -> None:
    got = drawn(rows, percentile).sort("model", "bucket")
    want = want.sort("model", "bucket")
    assert got.select("model", "bucket").equals(want.select("model", "bucket"))
    assert got["seconds"].to_list() == pytest.approx(want[want.columns[-1]].to_list(), rel=1e-12)


# -- the chart -------------------------------------------------------------------------------


def test_a_timeout_spike_is_drawn_at_the_cap_with_its_true_value(spike_store: Path):
    chart = latency_chart(str(spike_store), every="1h")
    spec = chart.to_dict()
    rows = rows_of(chart)
    lines, marks = spec["layer"]
    assert lines["encoding"]["y"]["field"] == marks["encoding"]["y"]["field"] == "shown"
    top = max(r["shown"] for r in rows)
    assert top < 5  # the y axis ends near the ~1 s lines, not at 60 s
    spikes = [r for r in rows if r["seconds"] >= TIMEOUT_S - 1]
    assert [(r["model"], r["bucket"][11:13]) for r in spikes] == [(SPIKE_MODEL, f"{SPIKE_HOUR:02}")]
    assert all(r["clipped"] and r["shown"] == top for r in spikes)  # drawn at the cap
    assert not any(r["clipped"] for r in rows if r not in spikes)
    # The clipped points: a triangle layer over the clipped rows, true value in the tooltip.
    assert marks["mark"]["shape"] == "triangle-up"
    assert marks["transform"] == [{"filter": "datum.clipped"}]
    assert "seconds" in {t["field"] for t in marks["encoding"]["tooltip"]}
    assert "seconds" in {t["field"] for t in lines["encoding"]["tooltip"]}
    said = re.search(
        r"(\d+) points? above ([\d.]+) s clipped \(timeouts\?\)", spec["title"]["subtitle"]
    )
    assert said is not None, spec["title"]
    assert int(said.group(1)) == len(spikes) == 1
    assert float(said.group(2)) == pytest.approx(top, rel=5e-3)


def test_nothing_is_clipped_when_no_value_stands_out(spike_store: Path):
    chart = ttft_chart(str(spike_store), every="1h")  # TTFT was left as generated
    rows = rows_of(chart)
    assert rows and not any(r["clipped"] for r in rows)
    assert all(r["shown"] == r["seconds"] for r in rows)
    assert "clipped" not in chart.to_dict()["title"]["subtitle"]


def test_the_cap_keeps_a_slow_model_whole_and_clips_only_spikes():
    lines = pl.DataFrame(
        {
            "model": ["fast"] * 19 + ["slow"],  # a slow model seen once: its own normal
            "seconds": [1.0] * 19 + [10.0],
        }
    )
    assert axis_cap(lines, line=["model"]) is None
    spiked = pl.concat([lines, pl.DataFrame({"model": ["fast"], "seconds": [60.0]})])
    cap = axis_cap(spiked, line=["model"])
    assert cap is not None and 10.0 <= cap < 60.0


def test_p95_by_default_equals_analytics(spike_store: Path):
    chart = latency_chart(str(spike_store), every="1h")
    rows = rows_of(chart)
    assert {r["percentile"] for r in rows} == {"P95"}
    assert chart.to_dict()["title"]["text"] == "P95 latency per 1h"
    assert_same_values(rows, expected(str(spike_store), "latency_s", 0.95, "1h"), "P95")


def test_quantile_chooses_the_percentile_drawn(spike_store: Path):
    for q, name in ((0.5, "P50"), (0.99, "P99")):
        chart = latency_chart(str(spike_store), every="3h", quantile=q)
        rows = rows_of(chart)
        assert chart.to_dict()["title"]["text"] == f"{name} latency per 3h"
        assert_same_values(rows, expected(str(spike_store), "latency_s", q, "3h"), name)
    chart = ttft_chart(str(spike_store), every="3h", quantile=0.5)
    assert chart.to_dict()["title"]["text"] == "P50 time to first token per 3h"
    assert_same_values(rows_of(chart), expected(str(spike_store), "ttft_s", 0.5, "3h"), "P50")


def test_the_quantiles_keyword_still_draws_several(spike_store: Path):
    chart = latency_chart(str(spike_store), every="3h", quantiles=(0.5, 0.95, 0.99))
    spec, rows = chart.to_dict(), rows_of(chart)
    assert {r["percentile"] for r in rows} == {"P50", "P95", "P99"}
    assert spec["title"]["text"] == "P50/P95/P99 latency per 3h"
    assert spec["layer"][0]["encoding"]["strokeDash"]["field"] == "percentile"
    for q in (0.5, 0.95, 0.99):
        name = analytics.quantile_column(q).upper()
        assert_same_values(rows, expected(str(spike_store), "latency_s", q, "3h"), name)
    ttft = ttft_chart(str(spike_store), every="3h", quantiles=[0.5, 0.95])
    assert {r["percentile"] for r in rows_of(ttft)} == {"P50", "P95"}
    with pytest.raises(ValueError, match="at least one"):
        latency_chart(str(spike_store), quantiles=())


def test_a_legend_click_highlights_a_model_and_the_board_keeps_its_zoom(spike_store: Path):
    models = sorted(analytics.filter_choices(str(spike_store))[1]["models"])
    chart = latency_chart(str(spike_store), every="1h", domain=models)
    spec = chart.to_dict()
    lines, marks = spec["layer"]
    # Declared on the first layer (the merged legend binds to it), not lifted with a `views`.
    name = highlight_name("latency_s")
    highlight = {"name": name, "select": {"type": "point", "fields": ["model"]}}
    assert lines["params"] == [{**highlight, "bind": "legend"}]
    assert not any(p.get("select") for p in spec.get("params", ()))
    for layer in (lines, marks):
        assert layer["encoding"]["opacity"]["condition"]["param"] == name
        assert layer["encoding"]["color"]["scale"]["domain"] == models  # colours stay
    board = for_board(spec, zoom=True)
    assert [p["name"] for p in board["layer"][0]["params"]] == [name, "zoom"]
    # Another percentile over the same buckets: the same spec, other rows and titles — the
    # dashboard's board updates the chart in place.
    other = latency_chart(str(spike_store), every="1h", domain=models, quantile=0.5)
    (bare, data, values), (bare_50, data_50, values_50) = (
        split_spec(for_board(c.to_dict(), zoom=True)) for c in (chart, other)
    )
    assert bare == bare_50 and data != data_50 and values != values_50


# -- the dashboard ---------------------------------------------------------------------------


@pytest.fixture
def dash(store_file: Path) -> Iterator[Dashboard]:
    board = Dashboard(store_file)
    yield board
    board.close()


def bucket_of(spec: dict[str, Any]) -> str:
    title = next(p["value"] for p in spec["params"] if p["name"] == "llmobs_0")
    return title.rsplit(" per ", 1)[1]


def test_the_percentile_switch_redraws_the_latency_and_ttft_panels_only(dash: Dashboard):
    assert dash.percentile.value == 0.95
    assert [label for label, _ in dash.percentile.options] == ["P50", "P95", "P99"]
    versions, generation = dict(dash.board.versions), dash.board.generation
    redraws, headline = dash.redraw_count, dash.headline_html.value
    others = {n: dash.board.panel_spec(n) for n in versions if n not in ("latency", "ttft")}
    every = bucket_of(dash.board.panel_spec("latency"))
    dash.percentile.value = 0.5
    assert dash.board.generation == generation + 1
    assert dash.redraw_count == redraws and dash.headline_html.value == headline  # no redraw
    changed = {n for n, v in dash.board.versions.items() if v != versions.get(n)}
    assert changed == {"latency", "ttft"}
    assert {n: dash.board.panel_spec(n) for n in others} == others
    for panel, measure, what in (("latency", "latency_s", "latency"), ("ttft", "ttft_s", "time")):
        spec = dash.board.panel_spec(panel)
        assert bucket_of(spec) == every  # the same buckets as before the switch
        title = next(p["value"] for p in spec["params"] if p["name"] == "llmobs_0")
        assert title.startswith(f"P50 {what}")
        rows = next(iter(spec["datasets"].values()))
        assert_same_values(rows, expected(dash.source.path, measure, 0.5, every), "P50")
    # A filter change keeps the chosen percentile.
    dash.apply_filters(models=("gpt-4o",))
    rows = next(iter(dash.board.panel_spec("latency")["datasets"].values()))
    assert {r["percentile"] for r in rows} == {"P50"} and {r["model"] for r in rows} == {"gpt-4o"}
    dash.percentile.value = 0.99
    assert "P99 latency" in str(dash.board.panel_spec("latency")["params"])


def test_the_per_model_table_equals_analytics(dash: Dashboard, store_file: Path):
    table = dash.by_model
    path = str(store_file)
    p95 = analytics.percentiles(path, by="model", quantiles=[0.95])
    errors = analytics.error_rates(path, by="model", by_error_type=False)
    cost = analytics.cost_breakdown(path, by="model")
    want = p95.join(errors, on="model").join(cost.select("model", "cost_usd"), on="model")
    got = table.join(want, on="model", suffix="_want")
    assert got.height == table.height == want.height == 5
    assert table["calls"].to_list() == sorted(table["calls"].to_list(), reverse=True)
    for row in got.iter_rows(named=True):
        assert row["calls"] == row["calls_want"] == row["n"]
        assert row["errors"] == row["errors_want"]
        assert row["error_rate"] == pytest.approx(row["error_rate_want"], rel=1e-12)
        assert row["latency_p95"] == pytest.approx(row["p95"], rel=1e-12)
        if row["cost_usd_want"] is None:
            assert row["cost_usd"] is None
        else:
            assert row["cost_usd"] == pytest.approx(row["cost_usd_want"], rel=1e-9)
    html = dash.models_html.value
    shown = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", html)]
    assert shown[1:] == [
        [
            row["model"],
            f"{row['calls']:,}",
            format_duration(row["latency_p95"]),
            format_percent(row["error_rate"]),
            format_cost(row["cost_usd"]),
        ]
        for row in table.iter_rows(named=True)
    ]
    assert re.findall(r"<th>(.*?)</th>", html) == [
        "model",
        "calls",
        "P95 latency",
        "error rate",
        "cost",
    ]
    figures = [cell for row in shown[1:] for cell in row[2:]]
    # "1.8 s", "420 ms", "2.5 min", "2.3 %", "$12.40", "$0.4691" (html.format_*)
    people = r"[\d.]+ (s|ms|min|h)|\d+\.\d %|< 0\.1 %|0 %|\$[\d,]+\.\d\d|\$0\.\d{4}|<\$0\.0001|—"
    assert all(re.fullmatch(people, f) for f in figures), figures
    dash.apply_filters(models=("gpt-4o",))
    assert dash.by_model["model"].to_list() == ["gpt-4o"]


def test_the_table_costs_one_query(store_file: Path, monkeypatch: pytest.MonkeyPatch):
    source = DataSource(store_file)
    calls = source.filtered(Filter(start=START, end=START + timedelta(days=1)))
    asked: list[str] = []
    query = DataSource.query

    def counting(self: DataSource, sql: str, params: Any = None) -> pl.DataFrame:
        asked.append(sql)
        return query(self, sql, params)

    with source.session():
        calls.summary()  # a redraw asks it first: the columns and rollup state are known then
        monkeypatch.setattr(DataSource, "query", counting)
        table = panels_module.model_table(calls)
    assert len(asked) == 1
    assert table["calls"].sum() == calls.extent()[2]


def test_the_table_comes_from_the_rollups_like_the_headline(store_file: Path):
    fast, exact = Dashboard(store_file, approx=True), Dashboard(store_file, approx=False)
    try:
        a, b = fast.by_model, exact.by_model
        assert a.select("model", "calls", "errors").equals(b.select("model", "calls", "errors"))
        assert a["cost_usd"].fill_null(-1).to_list() == pytest.approx(
            b["cost_usd"].fill_null(-1).to_list(), rel=1e-12
        )
        for got, want in zip(a["latency_p95"], b["latency_p95"], strict=True):
            assert abs(got - want) <= 0.01 * want * (1 + 1e-9)
        assert set(a["rel_error"]) == {0.01} and set(b["rel_error"]) == {0.0}
        assert "≈" in fast.models_html.value and "≈" not in exact.models_html.value
    finally:
        fast.close()
        exact.close()


def test_model_names_reach_the_table_escaped(live_obs: llmobs_nb.Observer):
    board = Dashboard(live_obs)
    try:
        assert "o'brien" in board.by_model["model"].to_list()
        assert "o&#x27;brien" in board.models_html.value
        assert "o'brien" not in board.models_html.value
    finally:
        board.close()


def test_figures_are_written_for_people():
    assert format_duration(1.84) == "1.8 s"
    assert format_duration(0.42) == "420 ms"
    assert format_percent(0.023) == "2.3 %"
    assert format_cost(12.4) == "$12.40"
    assert format_cost(1234.5) == "$1,234.50"
    assert format_cost(None) == format_duration(None) == format_percent(None) == "—"


def test_latency_and_ttft_side_by_side_keep_a_selection_each(spike_store: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "deduplicated selection parameter" from Altair
        both = latency_chart(str(spike_store)) | ttft_chart(str(spike_store))
        spec = both.to_dict()
    names = [p["name"] for p in spec["params"] if p.get("bind") == "legend"]
    assert names == [highlight_name("latency_s"), highlight_name("ttft_s")]


def test_both_percentile_charts_come_from_one_aggregation(
    spike_store: Path, monkeypatch: pytest.MonkeyPatch
):
    # The dashboard's pair (percentile_charts) draws what latency_chart and ttft_chart draw,
    # from one question of both measures instead of two.
    source = DataSource(spike_store)
    calls = source.filtered(Filter(models=(SPIKE_MODEL, "claude-3-5-haiku")))
    alone = {
        "latency": latency_chart(calls, every="1h", quantile=0.99),
        "ttft": ttft_chart(calls, every="1h", quantile=0.99),
    }
    asked: list[str] = []
    query = DataSource.query

    def counting(self: DataSource, sql: str, params: Any = None) -> pl.DataFrame:
        asked.append(sql)
        return query(self, sql, params)

    with source.session():
        calls.summary()  # a redraw asks it first
        monkeypatch.setattr(DataSource, "query", counting)
        pair = percentile_charts(calls, every="1h", quantile=0.99)
    assert len(asked) == 1
    assert "latency_s" in asked[0] and "ttft_s" in asked[0]
    for name, chart in alone.items():
        assert pair[name].to_dict() == chart.to_dict()
    assert rows_of(pair["latency"]) and rows_of(pair["ttft"])
