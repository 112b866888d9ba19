"""The cost chart shows every model: each priced one as a labelled total beside the stacked
bars (however small it is), each unpriced one named with the reason it has no bar."""

from __future__ import annotations

from typing import Any

import polars as pl

from llmobs_nb import analytics, demo
from llmobs_nb.view import charts
from llmobs_nb.view.cost_charts import UNPRICED_WHY, unpriced_note
from llmobs_nb.view.html import format_cost


def _rows(spec: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["datasets"][layer["data"]["name"]]


def _title(panel: dict[str, Any]) -> str:
    title = panel["title"]
    return title if isinstance(title, str) else title["text"]


def _totals_panel(spec: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in spec["hconcat"] if _title(p).startswith("Total cost"))


def test_every_priced_model_has_a_bar_labelled_with_its_total(sample: demo.SampleData):
    expected = analytics.cost_breakdown(sample.calls, by=["model"])
    priced = expected.filter(pl.col("priced_calls") > 0)
    spec = charts.cost_chart(sample.calls, every="6h", totals=True).to_dict()
    panel = _totals_panel(spec)
    bars = next(layer for layer in panel["layer"] if layer["mark"]["type"] == "bar")
    texts = next(layer for layer in panel["layer"] if layer["mark"]["type"] == "text")
    drawn = {row["model"]: row["cost_usd"] for row in _rows(spec, bars)}
    assert drawn.keys() == set(priced["model"])
    for model, cost in priced.select("model", "cost_usd").iter_rows():
        assert abs(drawn[model] - cost) < 1e-9
    labels = {row["model"]: row["label"] for row in _rows(spec, texts)}
    for model, cost in priced.select("model", "cost_usd").iter_rows():
        assert labels[model] == format_cost(cost)
    # sorted: the most expensive first, so the cheapest priced model is the last bar
    order = bars["encoding"]["y"]["sort"]
    assert order[: priced.height] == priced.sort("cost_usd", descending=True)["model"].to_list()


def test_an_unpriced_model_is_a_row_that_says_so_and_is_named_in_a_note(
    sample: demo.SampleData,
):
    expected = analytics.cost_breakdown(sample.calls, by=["model"])
    unpriced = expected.filter(pl.col("priced_calls") == 0)
    assert unpriced.height == 1  # the generated self-hosted model has no price
    name, calls = unpriced.select("model", "calls").row(0)
    spec = charts.cost_chart(sample.calls, every="6h", totals=True).to_dict()
    panel = _totals_panel(spec)
    texts = next(layer for layer in panel["layer"] if layer["mark"]["type"] == "text")
    labels = {row["model"]: row["label"] for row in _rows(spec, texts)}
    assert labels[name] == f"no price ({calls:,} calls)"
    assert panel["title"]["subtitle"] == [f"unpriced: {name} ({calls:,} calls)", UNPRICED_WHY]
    # without the totals, the stacked chart's subtitle names it instead
    alone = charts.cost_chart(sample.calls, every="6h", budget_usd_per_hour=None).to_dict()
    assert alone["title"]["subtitle"] == unpriced_note(expected, "model")
    assert name in alone["title"]["subtitle"]


def test_with_every_model_priced_there_is_no_unpriced_note(sample: demo.SampleData):
    expected = analytics.cost_breakdown(sample.calls, by=["model"])
    priced_models = expected.filter(pl.col("priced_calls") > 0)["model"].to_list()
    calls = sample.calls.filter(pl.col("model").is_in(priced_models))
    assert unpriced_note(analytics.cost_breakdown(calls, by=["model"]), "model") is None
    spec = charts.cost_chart(calls, every="6h", budget_usd_per_hour=None, totals=True).to_dict()
    panel = _totals_panel(spec)
    assert panel["title"] == "Total cost by model"  # no subtitle
    assert not str(spec).count("no price (")
