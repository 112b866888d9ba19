"""Content capture is opt-in, secrets never reach the store, one log record per call."""

from __future__ import annotations

import logging

import llmobs_nb

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"


def test_content_is_not_captured_by_default(obs):
    @obs.observe(model="gpt-4o")
    def ask(messages):
        return "the answer"

    ask([{"role": "user", "content": "hello"}])
    row = obs.spans().row(0, named=True)
    assert row["input_text"] is None and row["output_text"] is None


def test_captured_content_has_secrets_redacted(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "c.duckdb", capture_content=True)
    try:

        @obs.observe(model="gpt-4o")
        def ask(messages, api_key):
            return {"choices": [{"message": {"content": f"use Bearer {SECRET} now"}}]}

        ask(messages=[{"role": "user", "content": f"my key is {SECRET}"}], api_key=SECRET)
        with obs.span("tool", kind="tool", authorization=f"Bearer {SECRET}", note=SECRET):
            pass
        dump = obs.sql("select * from spans")
        text = str(dump.to_dicts())
        assert SECRET not in text
        row = dump.filter(dump["name"] == "chat gpt-4o").row(0, named=True)
        assert "my key is [REDACTED]" in row["input_text"]
        assert row["output_text"] == "use Bearer [REDACTED] now"
    finally:
        obs.close()


def test_streamed_content_is_joined(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "s.duckdb", capture_content=True)
    try:

        @obs.observe(model="gpt-4o")
        def stream(q):
            yield from ["Hel", "lo ", "world"]

        list(stream("q"))
        assert obs.spans()["output_text"][0] == "Hello world"
    finally:
        obs.close()


def test_every_finished_call_emits_one_structured_log_record(obs, caplog):
    @obs.observe(model="gpt-4o", operation="chat")
    def ask():
        return {"id": "chatcmpl-1", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}

    with caplog.at_level(logging.INFO, logger="llmobs_nb"):
        ask()
        with obs.span("retrieval", kind="retrieval"):
            pass
        obs.flush()
    records = [r for r in caplog.records if hasattr(r, "llm_call")]
    assert len(records) == 1
    call = records[0].llm_call
    assert call["model"] == "gpt-4o" and call["operation"] == "chat"
    assert call["input_tokens"] == 10 and call["status"] == "ok"
    assert call["request_id"] == "chatcmpl-1"
    assert len(call["trace_id"]) == 32 and call["cost_usd"] > 0
