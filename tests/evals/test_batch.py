"""Batch evaluation over stored calls: filters, sampling, references, errors, resumability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.analytics import Filter
from llmobs_nb.evals import (
    CapturedCall,
    EvalResult,
    EvaluationError,
    ExactMatch,
    LengthWithin,
    NonEmpty,
    Refusal,
    evaluate,
)

ANSWERS = ["Paris.", "", "I'm sorry, but I can't help with that.", "Berlin is big.", "Lyon"]


def capture(cobs, answers=ANSWERS, model="gpt-4o-mini", **attrs) -> list[str]:
    @cobs.observe(model=model, **attrs)
    def ask(question: str) -> dict:
        return {"choices": [{"message": {"content": answers[int(question[1:])]}}]}

    for i in range(len(answers)):
        ask(f"q{i}")
    cobs.flush()
    return cobs.sql("select span_id from spans order by start_time")["span_id"].to_list()


class Flaky:
    """A custom evaluator that fails on some calls, as user code does."""

    name, version = "flaky", "1"

    def evaluate(self, call: CapturedCall) -> EvalResult:
        if call.output == "":
            raise EvaluationError("nothing to grade")
        if "sorry" in (call.output or ""):
            raise ZeroDivisionError("division by zero")
        return EvalResult("flaky", 1.0)


def test_evaluate_scores_every_captured_call_with_every_evaluator(cobs):
    capture(cobs)
    scores = evaluate(cobs, [NonEmpty(), Refusal()], progress=False)
    assert scores.height == 10
    by_name = scores.group_by("name").agg(pl.col("value").sum()).sort("name")
    assert by_name.rows() == [("non_empty", 4.0), ("refusal", 1.0)]
    stored = cobs.scores()
    assert stored.height == 10
    assert set(stored["source"]) == {"eval:non_empty@1", "eval:refusal@1"}


def test_rerun_skips_pairs_already_scored_and_new_version_runs_anew(cobs):
    capture(cobs)
    assert evaluate(cobs, [LengthWithin(max_chars=10)], progress=False).height == 5
    assert evaluate(cobs, [LengthWithin(max_chars=10)], progress=False).height == 0
    # Other bounds are another version: scored anew, never mixed with the old scores.
    assert evaluate(cobs, [LengthWithin(max_chars=20)], progress=False).height == 5
    assert cobs.sql("select count(distinct source) as n from scores")["n"][0] == 2


def test_errors_become_null_rows_counted_in_the_result_and_batch_continues(cobs):
    capture(cobs)
    scores = evaluate(cobs, [Flaky()], progress=False)
    assert scores.height == 5
    assert scores["error"].sum() == 2
    comments = sorted(scores.filter(pl.col("error"))["comment"].to_list())
    assert comments == [
        "evaluation error: ZeroDivisionError: division by zero",
        "evaluation error: nothing to grade",
    ]
    assert cobs.sql("select count(*) as n from scores where value is null")["n"][0] == 2


def test_retry_errors_replaces_error_rows(cobs):
    capture(cobs)
    evaluate(cobs, [Flaky()], progress=False)
    assert evaluate(cobs, [Flaky()], progress=False).height == 0  # errors count as done
    retried = evaluate(cobs, [Flaky()], progress=False, retry_errors=True)
    assert retried.height == 2
    assert cobs.sql("select count(*) as n from scores")["n"][0] == 5


def test_where_dict_filters_with_parameters(cobs):
    capture(cobs, model="gpt-4o-mini")
    capture(cobs, model="gpt-4o")
    scores = evaluate(cobs, [NonEmpty()], where={"model": "gpt-4o"}, progress=False)
    assert scores.height == 5
    both = evaluate(cobs, [Refusal()], where={"model": ["gpt-4o", "gpt-4o-mini"]}, progress=False)
    assert both.height == 10
    hostile = {"model": "x' OR 1=1 --"}
    assert evaluate(cobs, [LengthWithin(max_chars=1)], where=hostile, progress=False).height == 0


def test_where_takes_the_same_filter_as_the_dashboard_and_analytics(cobs):
    capture(cobs, model="gpt-4o-mini")
    capture(cobs, model="gpt-4o")
    where = Filter(models=("gpt-4o",), statuses=("ok",))
    scores = evaluate(cobs, [NonEmpty()], where=where, progress=False)
    assert scores.height == 5
    assert set(scores["span_id"]) == set(
        cobs.sql("select span_id from llm_calls where model = 'gpt-4o'")["span_id"]
    )
    later = Filter(start=datetime.now(UTC) + timedelta(days=1))
    none = evaluate(cobs, [Refusal()], where=[later, {"model": "gpt-4o"}], progress=False)
    assert none.height == 0


def test_where_polars_expression_and_dict_combine(cobs):
    capture(cobs)
    scores = evaluate(
        cobs,
        [NonEmpty()],
        where=[{"model": "gpt-4o-mini"}, pl.col("output_text").str.contains("(?i)paris|lyon")],
        progress=False,
    )
    assert scores.height == 2


def test_where_rejects_raw_sql_and_unknown_columns(cobs):
    capture(cobs)
    with pytest.raises(TypeError, match="raw SQL is not accepted"):
        evaluate(cobs, [NonEmpty()], where="model = 'gpt-4o'", progress=False)
    with pytest.raises(ValueError, match="column 'model; drop table spans'"):
        evaluate(cobs, [NonEmpty()], where={"model; drop table spans": 1}, progress=False)


def test_sample_is_reproducible_and_resumes_the_same_calls(cobs):
    capture(cobs, answers=[f"answer {i}" for i in range(40)])
    first = evaluate(cobs, [NonEmpty()], sample=10, seed=7, progress=False)
    assert first.height == 10
    assert evaluate(cobs, [NonEmpty()], sample=10, seed=7, progress=False).height == 0
    fraction = evaluate(cobs, [Refusal()], sample=0.5, progress=False)
    assert fraction.height == 20


def test_references_from_dict_or_span_attribute(cobs):
    ids = capture(cobs)
    scores = evaluate(
        cobs, [ExactMatch()], reference={ids[0]: "paris", ids[4]: "Marseille"}, progress=False
    )
    by_span = {r["span_id"]: r for r in scores.iter_rows(named=True)}
    assert by_span[ids[0]]["value"] == 1.0
    assert by_span[ids[4]]["value"] == 0.0
    assert by_span[ids[1]]["error"]  # no reference: recorded as a failed evaluation
    assert "needs a reference answer" in by_span[ids[1]]["comment"]

    with cobs.span("answer", kind="llm", model="gpt-4o") as span:
        span.set_output("Paris")
        span.set_attributes({"llmobs.reference": "Paris"})
    found = evaluate(cobs, [ExactMatch(name="em2")], where={"name": "answer"}, progress=False)
    assert found["value"].to_list() == [1.0]


def test_concurrency_gives_the_same_scores(cobs):
    capture(cobs, answers=[f"answer {i}" if i % 3 else "" for i in range(60)])
    serial = evaluate(cobs, [NonEmpty()], progress=False)
    threaded = evaluate(cobs, [NonEmpty(name="non_empty_threads")], concurrency=4, progress=False)
    assert sorted(serial["value"].to_list()) == sorted(threaded["value"].to_list())
    assert threaded.height == 60


def test_evaluator_spans_and_uncaptured_calls_are_not_evaluated(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "plain.duckdb", project="p", capture_content=False)
    try:

        @obs.observe(model="gpt-4o")
        def ask(q):
            return {"choices": [{"message": {"content": "hi"}}]}

        ask("x")
        assert evaluate(obs, [NonEmpty()], progress=False).height == 0
    finally:
        obs.close()


def test_evaluate_checks_its_arguments(cobs, tmp_path):
    with pytest.raises(ValueError, match="non-empty list of evaluators"):
        evaluate(cobs, [], progress=False)
    with pytest.raises(TypeError, match="is not an evaluator"):
        evaluate(cobs, [lambda call: 1.0], progress=False)
    with pytest.raises(ValueError, match="share the source 'eval:non_empty@1'"):
        evaluate(cobs, [NonEmpty(), NonEmpty()], progress=False)
    with pytest.raises(ValueError, match="concurrency must be an int >= 1, got 0"):
        evaluate(cobs, [NonEmpty()], concurrency=0, progress=False)
    with pytest.raises(ValueError, match="sample=0 must be >= 1"):
        evaluate(cobs, [NonEmpty()], sample=0, progress=False)
    cobs.flush()
    reader = llmobs_nb.open(cobs.db_path)
    with pytest.raises(PermissionError, match="read-only"):
        evaluate(reader, [NonEmpty()], progress=False)


def test_progress_bar_counts_evaluations(cobs, capsys):
    capture(cobs)
    evaluate(cobs, [NonEmpty(), Refusal()], progress=True)
    assert "10/10" in capsys.readouterr().err
    evaluate(cobs, [NonEmpty(), Refusal(), LengthWithin(max_chars=3)], progress=True)
    assert "5/5" in capsys.readouterr().err  # only the new evaluator's pairs are left
