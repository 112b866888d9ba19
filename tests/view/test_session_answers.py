"""Inside one session (a dashboard redraw) a question asked twice of the same filtered calls
is asked of the store once; outside a session, or of other calls, it is asked again."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.view.data_source import DataSource

from .conftest import START


def _recording(source: DataSource) -> list[str]:
    sent: list[str] = []
    query = source.query

    def recorded(sql: str, params=None) -> pl.DataFrame:
        sent.append(sql)
        return query(sql, params)

    source.query = recorded  # type: ignore[method-assign]
    return sent


@pytest.mark.parametrize("approx", [False, True])
def test_one_question_asked_twice_in_a_session_is_asked_once(store_file: Path, approx: bool):
    source = DataSource(str(store_file), approx=approx)
    sent = _recording(source)
    calls = source.filtered(Filter(models=("gpt-4o",)))
    with source.session():
        analytics.summary(calls, approx=True)  # the session's own questions come first
        before = len(sent)
        first = analytics.error_rates(calls, approx=True)
        assert len(sent) == before + 1
        again = analytics.error_rates(calls, approx=True)
        assert len(sent) == before + 1  # error_chart asks this twice per redraw
        other = analytics.error_rates(source.filtered(Filter(models=("gpt-4o-mini",))))
        assert len(sent) == before + 2  # other calls: another question
    assert_frame_equal(first, again)
    assert not first.equals(other)
    outside = len(sent)
    assert_frame_equal(analytics.error_rates(calls, approx=True), first)
    assert len(sent) > outside  # outside a session the store is asked again (it may grow)


def test_a_kept_answer_keeps_its_error_bound(store_file: Path):
    # A quantile from the rollups' sketches carries "≈" (rel_error) the second time too.
    source = DataSource(str(store_file), approx=True)
    calls = source.filtered(Filter(start=START))
    with source.session():
        first = analytics.summary(calls, quantiles=(0.95,), approx=True)
        again = analytics.summary(calls, quantiles=(0.95,), approx=True)
    assert_frame_equal(first, again)
    assert again["rel_error"][0] == first["rel_error"][0]
    exact = analytics.summary(DataSource(str(store_file), approx=False).filtered(Filter()))
    assert exact["calls"][0] == first["calls"][0]
