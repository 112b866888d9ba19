"""llmobs_nb.ingest(path): the OpenTelemetry collector's file exporter output into the store."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import llmobs_nb
from llmobs_nb.otlp.decode import decode_request

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
                for item in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in item:
                            item[key] = base64.b64decode(item[key]).hex()
    return json.dumps(document)


def test_decoding_keeps_every_field_of_a_real_sdk_span():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", "zone": "eu"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("my.lib", "1.2")
    with tracer.start_as_current_span("root") as root:
        link = trace.Link(root.get_span_context(), {"why": "retry"})
    with tracer.start_as_current_span("call", kind=trace.SpanKind.CLIENT, links=[link]) as span:
        span.set_attributes({"n": 3, "ok": True, "x": 0.5, "tags": ["a", "b"]})
        span.add_event("first token", {"at": 7})
        span.set_status(trace.Status(trace.StatusCode.ERROR, "boom"))
    provider.shutdown()
    original = memory.get_finished_spans()[1]
    request = encode_spans([original])
    as_json = _collector_line([original]).encode()
    for decoded in (
        decode_request(request.SerializeToString()),
        decode_request(as_json, "application/json"),
    ):
        assert decoded.refused == 0
        (span,) = decoded.spans
        assert span.context.trace_id == original.context.trace_id
        assert span.context.span_id == original.context.span_id
        assert span.parent is None and span.kind is trace.SpanKind.CLIENT
        assert (span.start_time, span.end_time) == (original.start_time, original.end_time)
        assert dict(span.attributes) == {"n": 3, "ok": True, "x": 0.5, "tags": ("a", "b")}
        assert [(e.name, dict(e.attributes), e.timestamp) for e in span.events] == [
            ("first token", {"at": 7}, original.events[0].timestamp)
        ]
        assert span.links[0].context.span_id == link.context.span_id
        assert dict(span.links[0].attributes) == {"why": "retry"}
        assert (span.status.status_code, span.status.description) == (
            trace.StatusCode.ERROR,
            "boom",
        )
        assert span.resource.attributes["zone"] == "eu"
        assert (span.instrumentation_scope.name, span.instrumentation_scope.version) == (
            "my.lib",
            "1.2",
        )


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
