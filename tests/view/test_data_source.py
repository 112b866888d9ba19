"""Filters reach DuckDB as parameters and narrow every query, analytics' included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.view.data_source import DataSource

from .conftest import START


def test_filter_values_become_parameters_not_sql_text():
    condition, params = Filter(models=("o'brien", "gpt-4o"), start=START).where()
    assert "o'brien" not in condition
    assert condition == "start_time >= ? AND model IN (?, ?)"
    assert params == [START, "o'brien", "gpt-4o"]


def test_a_model_name_with_a_quote_selects_exactly_its_calls(live_obs: llmobs_nb.Observer):
    calls = DataSource(live_obs).filtered(Filter(models=("o'brien",)))
    found = calls.sql("SELECT model, count(*) AS n FROM llm_calls GROUP BY model")
    assert found.to_dicts() == [{"model": "o'brien", "n": 3}]


def test_an_injection_attempt_matches_nothing_and_drops_nothing(live_obs: llmobs_nb.Observer):
    hostile = "x') OR 1=1; DROP TABLE spans; --"
    calls = DataSource(live_obs).filtered(Filter(users=(hostile,)))
    assert calls.sql("SELECT count(*) AS n FROM llm_calls")["n"][0] == 0
    assert live_obs.sql("SELECT count(*) AS n FROM spans")["n"][0] > 1_000


def test_analytics_over_a_filtered_source_sees_only_the_filtered_calls(store_file: Path):
    source = DataSource(store_file)
    day = Filter(start=START, end=START + timedelta(days=1), models=("gpt-4o",))
    totals = analytics.cost_breakdown(source.filtered(day), by=["model"])
    assert totals["model"].to_list() == ["gpt-4o"]
    direct = source.query(
        "SELECT count(*) AS n FROM llm_calls WHERE model = ? AND start_time >= ? "
        "AND start_time < ?",
        ["gpt-4o", START, START + timedelta(days=1)],
    )
    assert totals["calls"][0] == direct["n"][0]


def test_queries_that_start_with_with_keep_their_own_ctes(store_file: Path):
    calls = DataSource(store_file).filtered(Filter(models=("gpt-4o",)))
    found = calls.sql("WITH m AS (SELECT DISTINCT model FROM llm_calls) SELECT * FROM m")
    assert found["model"].to_list() == ["gpt-4o"]
    # Run whole, not spliced: a trailing comment or semicolon and an ORDER BY are kept.
    commented = calls.sql("SELECT count(*) AS n FROM llm_calls -- gpt-4o only")
    assert commented["n"][0] == calls.sql("SELECT count(*) AS n FROM llm_calls;")["n"][0] > 0
    ordered = calls.sql("SELECT start_time FROM llm_calls ORDER BY start_time DESC LIMIT ?", [5])[
        "start_time"
    ]
    assert ordered.to_list() == ordered.sort(descending=True).to_list() and len(ordered) == 5


def test_the_old_filters_name_still_works_with_a_deprecation_warning():
    import llmobs_nb.view
    import llmobs_nb.view.data_source

    for module in (llmobs_nb.view.data_source, llmobs_nb.view):
        with pytest.warns(DeprecationWarning, match="analytics.Filter"):
            old = module.Filters
        assert old is Filter
        assert old(models=("a",)) == Filter(models=("a",))


def test_bad_filters_are_refused_with_what_to_do():
    with pytest.raises(TypeError, match="tuple"):
        Filter(models="gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="swap"):
        Filter(start=START + timedelta(days=1), end=START)
    with pytest.raises(FileNotFoundError, match="no store"):
        DataSource("/nonexistent/store.duckdb")


def test_beside_asks_on_another_thread_with_the_same_answer(store_file: Path):
    import threading

    calls = DataSource(store_file).filtered(Filter(models=("gpt-4o",)))
    threads: list[str] = []

    def ask():
        threads.append(threading.current_thread().name)
        nested = calls.beside(lambda: threading.current_thread().name)  # no deadlock: inline
        return analytics.cost_breakdown(calls, by=["model"]), nested()

    answer = calls.beside(ask)
    here = analytics.cost_breakdown(calls, by=["model"])
    beside, nested = answer()
    assert threads[0] != threading.current_thread().name
    assert nested == threads[0]
    assert beside.equals(here) and here["model"].to_list() == ["gpt-4o"]


def test_beside_raises_what_the_question_raised(store_file: Path, live_obs: llmobs_nb.Observer):
    for source in (DataSource(store_file), DataSource(live_obs)):
        calls = source.filtered(Filter())

        def ask(calls=calls):
            calls.sql("SELECT no_such_column FROM llm_calls")

        with pytest.raises(Exception, match="no_such_column"):
            calls.beside(ask)()


def test_beside_asks_an_observers_calls_in_the_callers_thread(live_obs: llmobs_nb.Observer):
    import threading

    calls = DataSource(live_obs).filtered(Filter())
    assert calls.beside(lambda: threading.current_thread())() is threading.current_thread()


def test_beside_works_in_a_forked_child(store_file: Path):
    # The child inherits the side thread's executor but not its thread: it gets its own.
    import multiprocessing

    calls = DataSource(store_file).filtered(Filter())
    assert calls.beside(lambda: 1)() == 1  # the parent's side thread exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply_async(_count_beside, (str(store_file),)).get(timeout=60) > 0


def _count_beside(path: str) -> int:
    calls = DataSource(path).filtered(Filter())
    return int(calls.beside(lambda: calls.sql("SELECT count(*) AS n FROM llm_calls"))()["n"][0])
