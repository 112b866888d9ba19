"""Received third-party spans, read completely and under this store's content policy, and
evaluation results (span events, OTLP log records) kept as scores: a real OTel SDK exporter in
a subprocess sends both signals to ``obs.receive_otlp``."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import llmobs_nb

SENDER = """
import json, sys, time
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

traces_url, logs_url = sys.argv[1], sys.argv[2]
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
tracer = provider.get_tracer("openinference.instrumentation.openai")
start = time.time_ns()
span = tracer.start_span("ChatCompletion", start_time=start)
span.set_attributes({
    "openinference.span.kind": "LLM",
    "llm.invocation_parameters": json.dumps({"model": "gpt-4o", "input": "PROMPT-in-params"}),
    "input.value": "PROMPT-input-value",
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "PROMPT-oi-message",
})
span.add_event("First Token Stream Event", timestamp=start + 200_000_000)
span.add_event("gen_ai.client.inference.operation.details", {
    "gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": "ANSWER-details"}]}]),
})
span.add_event("gen_ai.evaluation.result", {
    "gen_ai.evaluation.name": "relevance",
    "gen_ai.evaluation.score.value": 0.75,
    "gen_ai.evaluation.score.label": "relevant",
    "gen_ai.evaluation.explanation": "EXPLAINED-it said PROMPT",
})
span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "empty"})  # refused
span.end(end_time=start + 10**9)
ctx = span.get_span_context()
provider.shutdown()

logs = LoggerProvider()
logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=logs_url)))
logger = logs.get_logger("judge")
logger.emit(LogRecord(event_name="gen_ai.evaluation.result", trace_id=ctx.trace_id,
    span_id=ctx.span_id, attributes={"gen_ai.evaluation.name": "faithfulness",
    "gen_ai.evaluation.score.value": 1.0, "gen_ai.evaluation.explanation": "EXPLAINED-log"}))
logger.emit(LogRecord(trace_id=ctx.trace_id, attributes={
    "event.name": "gen_ai.evaluation.result", "gen_ai.evaluation.score.label": "toxic"}))
logger.emit(LogRecord(body="an ordinary log line", attributes={"x": 1}))
logs.shutdown()
print(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
"""


@pytest.fixture(params=[False, True], ids=["content-off", "content-on"])
def received(request, tmp_path):
    """(observer, receiver, trace id, span id) after the sender ran; content as the param."""
    obs = llmobs_nb.init(db=tmp_path / "r.duckdb", project="r", capture_content=request.param)
    receiver = obs.receive_otlp()
    done = subprocess.run(
        [sys.executable, "-c", SENDER, receiver.url, receiver.logs_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    trace_id, span_id = done.stdout.split()
    obs.flush()
    yield obs, receiver, trace_id, span_id
    obs.close()


def test_received_span_is_read_completely_and_obeys_content(received):
    obs, _, _, span_id = received
    row = obs.spans().row(0, named=True)
    assert (row["span_id"], row["kind"], row["model"]) == (span_id, "llm", "gpt-4o")
    assert row["ttft_s"] == pytest.approx(0.2)
    stored = json.dumps(row, default=str)
    if obs.capture_content:
        assert row["input_text"] == "PROMPT-input-value"
        assert row["output_text"] == "assistant: ANSWER-details"
    else:
        assert row["input_text"] is None and row["output_text"] is None
        assert "PROMPT" not in stored and "ANSWER" not in stored


def test_evaluation_events_and_log_records_become_scores(received):
    obs, receiver, trace_id, span_id = received
    scores = obs.sql("SELECT * FROM scores ORDER BY name").to_dicts()
    assert [(s["name"], s["value"], s["label"]) for s in scores] == [
        ("evaluation", None, "toxic"),
        ("faithfulness", 1.0, None),
        ("relevance", 0.75, "relevant"),
    ]
    assert {s["source"] for s in scores} == {"otel"}
    assert {s["trace_id"] for s in scores} == {trace_id}
    assert [s["span_id"] for s in scores] == [None, span_id, span_id]
    comments = [s["comment"] for s in scores]
    if obs.capture_content:
        assert comments == [None, "EXPLAINED-log", "EXPLAINED-it said PROMPT"]
    else:
        assert comments == [None, None, None]
    counts = receiver.counts()
    assert (counts["logs_received"], counts["logs_ignored"], counts["logs_refused"]) == (3, 1, 0)
    assert (counts["scores_written"], counts["evaluations_refused"]) == (3, 1)


def _post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_otlp_json_logs_and_a_malformed_record_costs_only_itself(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "j.duckdb", project="j")
    try:
        receiver = obs.receive_otlp()
        record = {
            "eventName": "gen_ai.evaluation.result",
            "traceId": "ab" * 16,
            "attributes": [
                {"key": "gen_ai.evaluation.name", "value": {"stringValue": "quality"}},
                {"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": 0.5}},
            ],
        }
        bad = {"eventName": "gen_ai.evaluation.result", "traceId": "zz"}
        body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record, bad]}]}]}
        status, answer = _post(receiver.logs_url, json.dumps(body).encode(), "application/json")
        assert status == 200
        assert json.loads(answer)["partialSuccess"]["rejectedLogRecords"] == "1"
        assert _post(receiver.logs_url, b"{not json", "application/json")[0] == 400
        rows = obs.sql("SELECT trace_id, span_id, name, value FROM scores").rows()
        assert rows == [("ab" * 16, None, "quality", 0.5)]
        assert receiver.counts()["logs_refused"] == 1
    finally:
        obs.close()
