"""score(): validated, stored, joined to calls by analytics."""

from __future__ import annotations

import math

import pytest


@pytest.fixture
def call_span(obs):
    with obs.span("answer", kind="llm", model="gpt-4o", use_case="qa") as span:
        span.set_usage({"input_tokens": 10, "output_tokens": 2})
    return span


def test_score_is_stored_against_span_and_trace(obs, call_span):
    obs.score(
        span_id=call_span.span_id,
        name="quality",
        value=0.82,
        source="llm_judge",
        comment="mostly right",
    )
    row = obs.scores().row(0, named=True)
    assert row["span_id"] == call_span.span_id
    assert row["trace_id"] == call_span.trace_id
    assert (row["name"], row["value"], row["source"]) == ("quality", 0.82, "llm_judge")
    assert row["created_at"] is not None
    assert 'llm_quality_score_count{model="gpt-4o",use_case="qa"} 1.0' in obs.metrics_text()


def test_a_trace_can_be_scored_as_a_whole(obs, call_span):
    obs.score(trace_id=call_span.trace_id, name="thumbs_up", value=1)
    assert obs.scores()["span_id"].to_list() == [None]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinite_scores_are_rejected(obs, call_span, bad):
    with pytest.raises(ValueError, match="is not finite"):
        obs.score(span_id=call_span.span_id, value=bad)
    assert obs.scores().height == 0
    assert obs.calls().height == 1  # nothing captured was lost


def test_out_of_range_bounded_score_is_rejected_unless_unbounded(obs, call_span):
    with pytest.raises(ValueError, match=r"outside \[0.0, 1.0\].*bounds=None"):
        obs.score(span_id=call_span.span_id, value=1.7)
    obs.score(span_id=call_span.span_id, name="latency_ratio", value=1.7, bounds=None)
    assert obs.scores()["value"].to_list() == [1.7]


def test_score_must_be_a_number_and_name_a_real_span(obs, call_span):
    with pytest.raises(TypeError, match="must be a number"):
        obs.score(span_id=call_span.span_id, value="0.5")
    with pytest.raises(TypeError, match="must be a number"):
        obs.score(span_id=call_span.span_id, value=True)
    with pytest.raises(KeyError, match="no span 'ffffffffffffffff'"):
        obs.score(span_id="f" * 16, value=0.5)
    with pytest.raises(ValueError, match="not 16 lowercase hex"):
        obs.score(span_id="nope", value=0.5)
    with pytest.raises(ValueError, match="needs span_id= or trace_id="):
        obs.score(value=0.5)
