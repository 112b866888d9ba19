"""llmobs_nb.ingest(path): the OpenTelemetry collector's file exporter output into the store."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import llmobs_nb

SECRET = "sk-" + "Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc3Vb5Nm7Q"[:40]


def _sdk_spans() -> list:
    """Real SDK spans: an LLM call (GenAI attributes, a secret) and its child tool span."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "batch-job"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
        llm.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
                "debug.header": f"Authorization: Bearer {SECRET}",
            }
        )
        with tracer.start_as_current_span("lookup") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
    provider.shutdown()
    return list(memory.get_finished_spans())


def _collector_line(spans: list) -> str:
    """One line as the collector's file exporter writes it: OTLP/JSON, ids in hex."""
    document = json_format.MessageToDict(encode_spans(spans))
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document)


@pytest.fixture
def obs(tmp_path):
    observer = llmobs_nb.init(db=tmp_path / "ingest.duckdb", project="ingest")
    yield observer
    observer.close()


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_collector_file_with_a_broken_line(obs, tmp_path, suffix):
    lines = [_collector_line(_sdk_spans()), '{"resourceSpans": [ broken', "", "plain log text"]
    text = "\n".join(lines) + "\n"
    path = tmp_path / f"traces{suffix}"
    path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())

    result = llmobs_nb.ingest(path)  # the newest open observer: obs

    assert (result.spans_read, result.spans_refused, result.lines_not_otlp) == (2, 0, 2)
    assert [error.split(":")[0] for error in result.errors] == ["line 2", "line 4"]
    call = obs.calls().row(0, named=True)  # no flush needed: ingest flushed
    assert (call["model"], call["input_tokens"], call["output_tokens"]) == ("gpt-4o-mini", 120, 30)
    spans = {row["name"]: row for row in obs.spans().iter_rows(named=True)}
    assert spans["lookup"]["kind"] == "tool"
    assert spans["lookup"]["parent_span_id"] == call["span_id"]
    assert SECRET not in call["attributes"]
    obs.close()
    assert SECRET.encode() not in (tmp_path / "ingest.duckdb").read_bytes()


def test_a_bad_span_costs_only_itself_and_an_explicit_observer(obs, tmp_path):
    good = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "good", "startTimeUnixNano": "5"}
    bad = {"traceId": "ab" * 16, "spanId": "", "name": "no-span-id"}
    line = {"resourceSpans": [{"scopeSpans": [{"spans": [good, bad]}]}]}
    path = tmp_path / "one.json"
    path.write_text(json.dumps(line) + "\n")
    result = llmobs_nb.ingest(path, observer=obs)
    assert (result.spans_read, result.spans_refused, result.lines_not_otlp) == (1, 1, 0)
    assert "no-span-id" in result.errors[0]
    assert obs.spans()["name"].to_list() == ["good"]


def test_no_writable_observer(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    closed = llmobs_nb.init(db=tmp_path / "closed.duckdb", project="c")
    closed.close()
    with pytest.raises(PermissionError):
        llmobs_nb.ingest(path, observer=closed)
