"""analytics.summary: the headline figures from one scan, each equal to its own function's."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from tests.analytics.synthetic import calls_frame

WHERE = [Filter(), Filter(models=("gpt-4o",)), Filter(statuses=("error",)), Filter(models=("no",))]


@pytest.mark.parametrize("where", WHERE, ids=lambda f: repr(f)[7:40])
def test_each_figure_is_what_its_own_function_says(sources, where: Filter) -> None:
    calls = calls_frame(n=2_000, seed=3)
    # Unpriced calls and a few latencies unknown: the NULL rules are part of the answer.
    calls = calls.with_columns(
        pl.when(pl.col("model") == "local-llama")
        .then(None)
        .otherwise("cost_usd")
        .alias("cost_usd"),
        pl.when(pl.int_range(pl.len()) % 97 == 0)
        .then(None)
        .otherwise("latency_s")
        .alias("latency_s"),
    )
    selected = calls.filter(where.expr())
    errors = analytics.error_rates(selected, by_error_type=False)
    cost = analytics.cost_breakdown(selected, by=[])
    latency = analytics.latency_percentiles(selected, quantiles=(0.5, 0.95))
    for name, (source, _) in sources(calls).items():
        got = analytics.summary(source, where=where).row(0, named=True)
        assert got["calls"] == selected.height, name
        if selected.height == 0:
            assert got["errors"] == got["priced_calls"] == got["latency_n"] == 0, name
            assert got["error_rate"] is got["cost_usd"] is got["latency_p95"] is None, name
            continue
        assert got["errors"] == errors["errors"][0], name
        assert got["error_rate"] == pytest.approx(errors["error_rate"][0]), name
        assert got["priced_calls"] == cost["priced_calls"][0], name
        assert got["cost_usd"] == pytest.approx(cost["cost_usd"][0], rel=1e-12), name
        assert got["latency_n"] == latency["n"][0], name
        assert got["latency_p50"] == pytest.approx(latency["p50"][0], rel=1e-12), name
        assert got["latency_p95"] == pytest.approx(latency["p95"][0], rel=1e-12), name


def test_a_percentile_needs_enough_calls_and_engines_agree(sources) -> None:
    calls = calls_frame(n=15, seed=1)  # P95 needs 20 calls: NULL, as latency_percentiles says
    frames = [analytics.summary(s, quantiles=(0.5, 0.95)) for s, _ in sources(calls).values()]
    assert frames[0]["latency_p95"][0] is None and frames[0]["latency_p50"][0] is not None
    for other in frames[1:]:
        assert_frame_equal(other, frames[0], rel_tol=1e-12)
