"""capture.tracer.Tracer: one per observer (``obs.tracer``), the only maker of spans."""

from __future__ import annotations

import logging

import pytest

import llmobs_nb
from llmobs_nb.capture.errors import CaptureErrors
from llmobs_nb.capture.tracer import Tracer, static_attributes


def test_observe_and_span_go_through_the_observers_tracer(obs):
    @obs.tracer.observe(model="gpt-4o", use_case="support")
    def ask(question):
        return {"usage": {"prompt_tokens": 10, "completion_tokens": 2}}

    with obs.tracer.span("rag", user_id="alice"):
        ask("hi")
    spans = obs.spans().sort("start_time")
    assert spans["name"].to_list() == ["rag", "chat gpt-4o"]
    assert spans["kind"].to_list() == ["chain", "llm"]
    assert spans["user_id"].to_list() == ["alice", "alice"]
    assert spans["use_case"].to_list() == [None, "support"]


def test_the_content_flag_is_read_live_through_the_observer(obs):
    @obs.observe(model="gpt-4o")
    def ask(question):
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    ask("not kept")
    obs.capture_content = True
    assert obs.tracer.capture_content is True
    ask("kept")
    assert obs.spans().sort("start_time")["input_text"].to_list() == [None, "kept"]


def test_a_closed_tracer_hands_over_to_the_next_observer_of_the_file(tmp_path, caplog):
    db = tmp_path / "t.duckdb"
    first = llmobs_nb.init(db=db, project="t")
    tracer = first.tracer
    first.close()
    with caplog.at_level(logging.WARNING, logger="llmobs_nb"):
        assert tracer.live() is None
        assert tracer.live() is None
    assert sum("is closed" in r.getMessage() for r in caplog.records) == 1
    second = llmobs_nb.init(db=db, project="t")
    try:
        assert tracer.live() is second.tracer
        with tracer.span("after close") as span:
            assert span.recording
        assert second.spans()["name"].to_list() == ["after close"]
    finally:
        second.close()


def test_a_read_only_tracer_refuses_spans_and_decorations():
    tracer = Tracer(None, CaptureErrors(), where="x.duckdb")
    with pytest.raises(PermissionError, match=r"x\.duckdb is read-only"):
        tracer.span("s")
    with pytest.raises(PermissionError, match="read-only"):
        tracer.observe(lambda: None)


def test_static_attributes_check_labels_and_kind_once_for_observe_and_span():
    with pytest.raises(TypeError, match="provider must be a string"):
        static_attributes("llm", {}, provider=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind 'LLM' is not one of"):
        static_attributes("LLM", {})
    assert static_attributes("tool", {"a": 1}, operation="call") == {
        "a": 1,
        "gen_ai.operation.name": "call",
        "llmobs.kind": "tool",
    }
