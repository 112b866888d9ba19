"""One query layer: a plan rendered for polars and for DuckDB gives one answer; one Filter."""

from __future__ import annotations

import inspect
import warnings
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, Rows, Scored
from llmobs_nb.analytics.render_sql import SqlRenderer
from llmobs_nb.analytics.source import open_source, time_extent
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.score_stats import score_over_time, score_summary
from tests.analytics.synthetic import T0, calls_frame, scores_frame

FILTERS = [
    Filter(),
    Filter(models=("gpt-4o", "local-llama")),
    Filter(start=T0 + timedelta(days=1), end=T0 + timedelta(days=3), runs=("prompt-v2",)),
    Filter(users=("u01", "u02", "u03"), statuses=("error",)),
    Filter(use_cases=("search",), start=T0 + timedelta(days=5)),
    Filter(models=("no-such-model",)),
]


@pytest.mark.parametrize("where", FILTERS, ids=lambda f: repr(f)[7:50])
def test_a_filter_selects_the_same_calls_on_every_engine(sources, where: Filter) -> None:
    calls = calls_frame(n=3_000, seed=4)
    scores = scores_frame(calls)
    expected_cost = analytics.cost_breakdown(calls.filter(where.expr()), by=["model", "run"])
    expected_errors = analytics.error_rates(calls.filter(where.expr()), by="model", every="1d")
    expected_drift = analytics.quality_drift(
        calls.filter(where.expr()), scores=scores, baseline_n=20, recent_n=5
    )
    for name, (source, given) in sources(calls, scores).items():
        got = analytics.cost_breakdown(source, by=["model", "run"], where=where)
        assert_frame_equal(got, expected_cost, rel_tol=1e-9), name
        got = analytics.error_rates(source, by="model", every="1d", where=where)
        assert_frame_equal(got, expected_errors), name
        got = analytics.quality_drift(source, scores=given, where=where, baseline_n=20, recent_n=5)
        assert_frame_equal(got, expected_drift, rel_tol=1e-9), name


def test_the_dashboard_filter_and_analytics_where_are_the_same_selection(tmp_path) -> None:
    from tests.analytics.conftest import write_store

    calls = calls_frame(n=2_000, seed=5)
    db = write_store(tmp_path / "s.duckdb", calls, scores_frame(calls))
    where = Filter(models=("gpt-4o",), start=T0 + timedelta(days=2))
    through_view = analytics.token_usage(DataSource(db).filtered(where), by=[])
    through_where = analytics.token_usage(str(db), by=[], where=where)
    assert_frame_equal(through_view, through_where)
    assert through_view["calls"][0] == calls.filter(where.expr()).height > 0
    assert time_extent(DataSource(db).filtered(where))[2] == through_view["calls"][0]


def test_values_never_enter_the_sql_text() -> None:
    hostile = "x'); DROP TABLE spans; --"
    plan = Aggregate(
        ("model",),
        (Agg("n", "count_all"),),
        where=Filter(users=(hostile,), models=("o'brien",)).conditions(),
        over=Scored(("model",), hostile),
    )
    query = SqlRenderer(Filter(runs=(hostile,)).conditions()).render(plan)
    assert hostile not in query.sql and "o'brien" not in query.sql
    # score name once, the run filter twice (matched calls, orphans' first calls), user once
    assert query.params.count(hostile) == 4 and "o'brien" in query.params
    assert query.sql.count("?") == len(query.params)


def test_rows_and_empty_in_lists_render_alike() -> None:
    frame = calls_frame(n=200)
    with open_source(frame) as engine:
        none = engine.run(Rows(("model",), (Condition("model", "in", ()),)))
    assert none.height == 0
    assert SqlRenderer().render(Rows(("model",), (Condition("model", "in", ()),))).params == []


def test_a_score_on_a_span_that_is_not_a_call_counts_for_the_traces_first_call(sources) -> None:
    calls = calls_frame(n=400, seed=6)
    scores = scores_frame(calls, by_trace_share=0.0)
    # Half the scores name a span the calls do not have (an agent or retrieval span).
    scores = scores.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit("not-a-call"))
        .otherwise(pl.col("span_id"))
        .alias("span_id")
    )
    expected = score_summary(calls, scores, score_name="quality", bins=10)
    over_time = score_over_time(calls, scores, score_name="quality", every="1d")
    assert expected[1] == calls.height
    for name, (source, given) in sources(calls, scores).items():
        got = score_summary(source, given, score_name="quality", bins=10)
        assert_frame_equal(got[0], expected[0]), name
        assert got[1] == expected[1] and got[2] == pytest.approx(expected[2]), name
        got_time = score_over_time(source, given, score_name="quality", every="1d")
        assert_frame_equal(got_time, over_time, rel_tol=1e-9), name


def _two_call_traces(n: int = 600) -> tuple[pl.DataFrame, pl.DataFrame]:
    # Traces of two calls (often of two models); per trace a score on each call, one on the
    # trace (no span_id) and one on a span that is not a call (the agent's own span).
    calls = calls_frame(n=n, seed=9)
    calls = calls.with_columns(
        (pl.lit("t") + (pl.int_range(pl.len()) // 2).cast(pl.String)).alias("trace_id")
    )
    on_calls = scores_frame(calls, by_trace_share=0.0)
    traces = calls.group_by("trace_id").agg(pl.col("end_time").max())
    by_trace = traces.select(
        "trace_id",
        pl.lit(None, pl.String).alias("span_id"),
        pl.lit("quality").alias("name"),
        (pl.int_range(pl.len()) % 7 / 10).alias("value"),
        pl.lit("judge").alias("source"),
        pl.lit(None, pl.String).alias("comment"),
        pl.col("end_time").alias("created_at"),
    )
    on_agent = by_trace.with_columns(
        (pl.lit("agent-") + pl.col("trace_id")).alias("span_id"), pl.col("value") + 0.05
    )
    return calls, pl.concat([on_calls, by_trace, on_agent], how="vertical_relaxed")


def _expected_scored(calls: pl.DataFrame, scores: pl.DataFrame, keep: Filter) -> list[float]:
    # The rule in plain Python: the call a score names, else its trace's first call (kind
    # 'llm' first, then the earliest start), chosen among all calls; kept if that call passes.
    rows = {r["span_id"]: r for r in calls.iter_rows(named=True)}
    first: dict[str, dict] = {}
    for r in sorted(rows.values(), key=lambda r: (r["kind"] != "llm", r["start_time"])):
        first.setdefault(r["trace_id"], r)
    passing = set(calls.filter(keep.expr())["span_id"])
    values = []
    for s in scores.iter_rows(named=True):
        call = rows.get(s["span_id"]) or first.get(s["trace_id"])
        if call is not None and call["span_id"] in passing:
            values.append(s["value"])
    return sorted(values)


@pytest.mark.parametrize(
    "keep",
    [Filter(), Filter(models=("gpt-4o",)), Filter(models=("local-llama", "claude-sonnet"))],
    ids=lambda f: repr(f)[7:40],
)
def test_a_score_belongs_to_one_call_whatever_the_filter(sources, keep: Filter) -> None:
    calls, scores = _two_call_traces()
    expected = _expected_scored(calls, scores, keep)
    assert len(expected) > 0 and (keep.empty or len(expected) < scores.height)
    for name, (source, given) in sources(calls, scores).items():
        with open_source(source, given) as engine:
            got = engine.narrowed(keep.conditions()).run(Scored(("model",), "quality"))
        assert sorted(got["value"].to_list()) == pytest.approx(expected), name
    board = DataSource(sources(calls, scores)["duckdb_file"][0]).filtered(keep)
    histogram, n, _ = score_summary(board, score_name="quality", bins=10)
    assert n == len(expected) == histogram["n"].sum()


def test_time_extent_is_one_question_for_every_input(sources) -> None:
    calls = calls_frame(n=500, seed=7)
    lo, hi = calls["start_time"].min(), calls["start_time"].max()
    for name, (source, _) in sources(calls).items():
        assert time_extent(source) == (lo, hi, 500), name
    assert time_extent(calls, where=Filter(models=("nobody",))) == (None, None, 0)


def test_a_missing_store_is_one_error_everywhere(tmp_path) -> None:
    missing = str(tmp_path / "nope.duckdb")
    with pytest.raises(FileNotFoundError) as from_analytics:
        analytics.token_usage(missing)
    with pytest.raises(FileNotFoundError) as from_view:
        DataSource(missing)
    assert str(from_analytics.value) == str(from_view.value)


def test_where_names_a_column_the_calls_lack_and_refuses_sql_text() -> None:
    with pytest.raises(ValueError, match="where= needs column 'region'"):
        analytics.token_usage(calls_frame(n=50), where={"region": "eu"})
    with pytest.raises(TypeError, match="raw SQL is not accepted"):
        analytics.token_usage(calls_frame(n=50), where="model = 'gpt-4o'")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be pushed down"):
        analytics.token_usage(calls_frame(n=50), where=pl.col("model") == "gpt-4o")


def test_a_filter_is_frozen_and_checks_what_it_is_given() -> None:
    where = Filter(models=["gpt-4o"])  # type: ignore[arg-type]
    assert where.models == ("gpt-4o",)
    with pytest.raises(AttributeError):
        where.models = ("other",)  # type: ignore[misc]
    with pytest.raises(TypeError, match="tuple"):
        Filter(statuses="error")  # type: ignore[arg-type]
    assert Filter().empty and not where.empty
    assert Filter(start=T0.replace(tzinfo=None)).start == T0


# -- the calling convention ------------------------------------------------------------------

KEYWORD_ONLY = {
    analytics.percentiles: ["calls", "measure"],
    analytics.latency_percentiles: ["calls"],
    analytics.ttft_percentiles: ["calls"],
    analytics.error_rates: ["calls"],
    analytics.token_usage: ["calls"],
    analytics.cost_breakdown: ["calls"],
    analytics.top_costs: ["calls"],
    analytics.quality_drift: ["calls"],
    analytics.compare_runs: ["calls", "a", "b"],
    analytics.cost_anomalies: ["calls"],
    analytics.budget_forecast: ["calls"],
    analytics.sessions: ["source"],
    analytics.tool_usage: ["source"],
    analytics.agent_paths: ["source"],
    analytics.tool_loops: ["source"],
    analytics.agent_graph: ["source"],
}


def test_every_function_takes_the_data_positionally_and_the_rest_by_keyword() -> None:
    for fn, positional in KEYWORD_ONLY.items():
        parameters = inspect.signature(fn).parameters.values()
        assert [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD] == positional
        named = {p.name: p for p in parameters}
        assert named["where"].kind is inspect.Parameter.KEYWORD_ONLY, fn.__name__
        if "scores" in named:
            assert named["scores"].kind is inspect.Parameter.KEYWORD_ONLY, fn.__name__
    assert inspect.signature(analytics.token_usage).parameters["by"].default == ("model",)


def test_old_positional_calls_still_work_with_a_deprecation_warning() -> None:
    calls = calls_frame(n=2_000, seed=8)
    scores = scores_frame(calls)
    with pytest.warns(DeprecationWarning, match=r"quality_drift\(\): pass scores=, by= by keyword"):
        old = analytics.quality_drift(calls, scores, ["use_case"])
    assert_frame_equal(old, analytics.quality_drift(calls, scores=scores, by=["use_case"]))
    with pytest.warns(DeprecationWarning, match=r"pass by=, n= by keyword"):
        old = analytics.top_costs(calls, "user_id", 3)
    assert_frame_equal(old, analytics.top_costs(calls, by="user_id", n=3))
    with pytest.warns(DeprecationWarning, match="scores="):
        old = analytics.compare_runs(calls, "prompt-v1", "prompt-v2", scores, 200)
    new = analytics.compare_runs(calls, "prompt-v1", "prompt-v2", scores=scores, n_boot=200)
    assert_frame_equal(old, new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analytics.latency_percentiles(calls, by="model")  # the new form warns nothing


def test_a_positional_call_that_never_fitted_still_fails() -> None:
    calls = calls_frame(n=50)
    with pytest.raises(TypeError, match="positional arguments"):
        analytics.token_usage(calls, ["model"], "1d", "extra")
    with pytest.raises(TypeError, match="multiple values for 'by'"):
        analytics.token_usage(calls, ["model"], by=["run"])


def test_by_is_a_column_or_a_sequence_of_columns() -> None:
    calls = calls_frame(n=1_000, seed=9)
    assert_frame_equal(
        analytics.latency_percentiles(calls, by="model"),
        analytics.latency_percentiles(calls, by=["model"]),
    )
    assert_frame_equal(
        analytics.quality_drift(calls, scores=scores_frame(calls), by="use_case"),
        analytics.quality_drift(calls, scores=scores_frame(calls), by=("use_case",)),
    )


def test_above_keeps_the_same_groups_on_every_engine(sources) -> None:
    calls = calls_frame(n=3_000, seed=5)
    keys = ("user_id", "model")
    plan = Aggregate(keys, (Agg("cost", "sum", "cost_usd"),), above=("cost", 0.05))
    every = Aggregate(keys, (Agg("cost", "sum", "cost_usd"),))
    answers = {}
    for name, (source, _) in sources(calls).items():
        for approx in (False, True):
            with open_source(source, approx=approx) as engine:
                answers[name, approx] = engine.run(plan).sort(keys, nulls_last=True)
                whole = engine.run(every)
    expected = whole.filter(pl.col("cost") > 0.05).sort(keys, nulls_last=True)
    assert 0 < expected.height < whole.height  # the limit keeps some groups, not all
    for name, got in answers.items():
        assert_frame_equal(got, expected, rel_tol=1e-9), name
