"""The rollup view, when the table has it: the dashboard's counts and sums (cost too) are
read from it, equal to the answers from the calls; a view that is not complete, a question it
cannot answer exactly (quantiles, a time bound off the hour) and a row holding a call past a
tiered price's threshold are answered from the calls instead.

Tolerance as in ``test_same_answers`` (``rtol=1e-9, atol=1e-9``): counts and token sums are
exact; latency means and costs are summed in another order (a cost from per-row token sums
times the rates, not from per-call costs rounded to 12 decimals).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics, export
from llmobs_nb.analytics import Filter
from llmobs_nb.analytics.plan import Agg, Aggregate, Plan
from llmobs_nb.clickhouse import ClickHouseSource
from llmobs_nb.clickhouse.connect import _Chdb
from llmobs_nb.view import Dashboard

WEEK = Filter(start=datetime(2026, 11, 3, tzinfo=UTC), end=datetime(2026, 11, 10, tzinfo=UTC))
OFF_THE_HOUR = Filter(start=datetime(2026, 11, 3, 0, 30, tzinfo=UTC))
GPT4O = Filter(models=("gpt-4o", "gpt-4o-mini"), statuses=("ok",))

QUESTIONS: dict[str, Callable[[Any], pl.DataFrame]] = {
    "summary without quantiles": lambda c: analytics.summary(c, quantiles=()),
    "cost by model and use case per hour": lambda c: analytics.cost_breakdown(
        c, by=["model", "use_case"], every="1h"
    ),
    "cost, a week": lambda c: analytics.cost_breakdown(c, where=WEEK),
    "tokens by run per day": lambda c: analytics.token_usage(c, by="run", every="1d"),
    "errors by model per hour": lambda c: analytics.error_rates(c, by="model", every="1h"),
    "errors filtered": lambda c: analytics.error_rates(c, where=GPT4O),
    "top models by cost": lambda c: analytics.top_costs(c, by="model", n=3),
}


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [n for n, t in frame.schema.items() if not t.is_float() and not isinstance(t, pl.List)]
    return frame.sort(keys, nulls_last=True) if keys and frame.height else frame


@pytest.fixture(scope="module")
def rolled(sample: Any) -> ClickHouseSource:
    session = _Chdb.open(None)
    for statement in export.clickhouse_rollups("otel_traces", target="sample_rollups", fill=True):
        session.query(statement)
    source = llmobs_nb.open(sample.url + "&rollups=sample_rollups")
    assert isinstance(source, ClickHouseSource) and source.has_rollups()
    return source


def _answered(source: ClickHouseSource, plan: Plan) -> tuple[pl.DataFrame, bool]:
    with source.open_engine() as engine:
        return engine.run(plan), engine.from_rollups


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_same_answer_from_the_view(sample: Any, rolled: ClickHouseSource, name: str) -> None:
    assert not sample.source.has_rollups()  # its URL names no view: the default is not there
    expected = QUESTIONS[name](sample.source)
    found = QUESTIONS[name](rolled)
    assert expected.height > 0
    assert_frame_equal(_sorted(found), _sorted(expected), rel_tol=1e-9, abs_tol=1e-9)


def test_what_the_view_answers(rolled: ClickHouseSource) -> None:
    cost = (Agg("cost", "sum", "cost_usd"), Agg("priced", "count", "cost_usd"))
    assert _answered(rolled, Aggregate(("model",), cost))[1]
    unpriced = (Agg("n", "count_all", where_null="cost_usd"),)
    unpriced += (Agg("tokens", "sum", "input_tokens", where_null="cost_usd"),)
    assert _answered(rolled, Aggregate(("model",), unpriced))[1]
    quantile = Aggregate(("model",), (Agg("p50", "quantile", "latency_s", q=0.5),))
    assert not _answered(rolled, quantile)[1]
    narrowed = Aggregate((), cost, where=tuple(OFF_THE_HOUR.conditions()))
    assert not _answered(rolled, narrowed)[1]
    by_user = Aggregate(("user_id",), cost)
    assert not _answered(rolled, by_user)[1]


def test_a_view_filled_late_is_not_read(sample: Any) -> None:
    session = _Chdb.open(None)
    for statement in export.clickhouse_rollups("otel_traces", target="empty_rollups"):
        session.query(statement)  # no fill: it holds none of the rows already there
    source = llmobs_nb.open(sample.url + "&rollups=empty_rollups")
    assert isinstance(source, ClickHouseSource) and not source.has_rollups()
    assert analytics.summary(source, quantiles=())["calls"][0] > 0


def test_a_tiered_price_past_its_threshold_is_asked_of_the_calls(
    sample: Any, rolled: ClickHouseSource
) -> None:
    # The same price book with claude-3-5-haiku tiered from 1,000 input tokens: its calls
    # past that cost NULL, which only the calls know.
    for source in (rolled, sample.source):
        source.refresh_prices()
        prices = pl.from_arrow(source.prices())
        assert isinstance(prices, pl.DataFrame)
        tiered = prices.with_columns(
            pl.when(pl.col("model") == "claude-3-5-haiku")
            .then(pl.lit(1_000, pl.Int64))
            .otherwise(pl.col("tier_start"))
            .alias("tier_start")
        )
        source._prices = tiered.to_arrow().cast(source.prices().schema)
    try:
        plan = Aggregate(("model",), (Agg("cost", "sum", "cost_usd"), Agg("n", "count_all")))
        found, from_rollups = _answered(rolled, plan)
        expected, _ = _answered(sample.source, plan)
        assert not from_rollups
        assert_frame_equal(_sorted(found), _sorted(expected), rel_tol=1e-9, abs_tol=1e-9)
        calls = Aggregate(("model",), (Agg("n", "count_all"),))
        assert _answered(rolled, calls)[1]  # no cost asked: the view answers
    finally:
        for source in (rolled, sample.source):
            source.refresh_prices()
    assert isinstance(rolled.prices(), pa.Table)


def test_the_dashboard_reads_the_view(sample: Any, rolled: ClickHouseSource) -> None:
    dash = Dashboard(rolled)
    expected = analytics.summary(str(sample.store))
    assert dash.headline["calls"] == expected["calls"][0]
    assert abs(dash.headline["cost_usd"] - expected["cost_usd"][0]) < 1e-9
