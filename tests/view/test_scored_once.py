"""A dashboard selection joins the scores to the calls once for drift and the quality chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics, demo
from llmobs_nb.analytics import Filter
from llmobs_nb.view import panels
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.score_stats import score_over_time


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scored") / "s.duckdb"
    demo.generate(4_000, days=3, seed=5, store=path)
    return path


def _recording(source: DataSource) -> list[str]:
    sent: list[str] = []
    query = source.query

    def recorded(sql: str, params=None):
        sent.append(sql)
        return query(sql, params)

    source.query = recorded  # type: ignore[method-assign]
    return sent


@pytest.mark.parametrize("where", [Filter(), Filter(models=("gpt-4o", "gpt-4o-mini"))])
def test_drift_and_the_quality_chart_share_one_scored_join(store: Path, where: Filter) -> None:
    source = DataSource(str(store))
    sent = _recording(source)
    calls = source.filtered(where)
    found = panels.drift_and_anomalies(calls)
    assert sum("FROM scores" in sql for sql in sent) == 1
    assert found["drift"].height > 0
    # The same answers as asking the store each time (a fresh selection remembers nothing).
    fresh = DataSource(str(store)).filtered(where)
    asked_drift = analytics.quality_drift(fresh, by="model", score_name="quality")
    assert_frame_equal(found["drift"], asked_drift, rel_tol=1e-12)
    remembered = score_over_time(calls, score_name="quality", every="1h")
    asked = score_over_time(DataSource(str(store)).filtered(where), every="1h")
    assert remembered.height > 0
    assert_frame_equal(remembered, asked, rel_tol=1e-9)


def test_an_aggregate_asked_first_still_runs_in_the_store(store: Path) -> None:
    source = DataSource(str(store))
    sent = _recording(source)
    calls = source.filtered(Filter())
    score_over_time(calls, every="1h")
    score_over_time(calls, every="1h")
    assert sum("FROM scores" in sql for sql in sent) == 2  # no rows fetched, nothing kept
    assert not calls._scored
