"""obs.receive_otlp(): another process's real OTel SDK exporter sends spans into this store."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import llmobs_nb
from llmobs_nb.otlp.receiver import OtlpReceiver

SECRET = "sk-" + "Zq7Xw2Lp9Rt4Vn8Bc3Md6Hf1Jk5Gs0Ya2Ue7Io4P"[:40]

SENDER = f"""
import sys
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider(resource=Resource.create({{"service.name": "sender"}}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1])))
tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
with tracer.start_as_current_span("chat gpt-4o") as llm:
    llm.set_attributes({{
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 500,
        "request.note": "called with {SECRET}",
        "retry.delays": [0.5, 1.0],
    }})
    with tracer.start_as_current_span("post-process") as chain:
        chain.set_attribute("openinference.span.kind", "CHAIN")
provider.shutdown()
"""


def _send(url: str) -> None:
    subprocess.run([sys.executable, "-c", SENDER, url], check=True, timeout=60)


@pytest.fixture
def obs(tmp_path):
    observer = llmobs_nb.init(db=tmp_path / "recv.duckdb", project="recv")
    yield observer
    observer.close()


def _post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type, **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _request_bytes(tmp_path) -> bytes:
    """The sender's spans, received once and encoded again by the SDK's own encoder."""
    spans: list = []
    with OtlpReceiver(spans.append) as receiver:
        _send(receiver.url)
    assert len(spans) == 2
    return encode_spans(spans).SerializeToString()


def _check_stored(obs) -> None:
    obs.flush()
    calls = obs.calls()
    assert calls.height == 1
    call = calls.row(0, named=True)
    assert (call["kind"], call["model"], call["provider"]) == ("llm", "gpt-4o", "openai")
    assert (call["input_tokens"], call["output_tokens"]) == (1000, 500)
    spans = {row["name"]: row for row in obs.spans().iter_rows(named=True)}
    assert spans["post-process"]["kind"] == "chain"
    assert spans["post-process"]["parent_span_id"] == call["span_id"]
    assert spans["post-process"]["trace_id"] == call["trace_id"]
    attributes = json.loads(call["attributes"])
    assert SECRET not in call["attributes"] and "[REDACTED]" in attributes["request.note"]
    assert attributes["retry.delays"] == [0.5, 1.0]


def test_real_sdk_exporter_in_a_subprocess_lands_in_the_store_redacted(obs, tmp_path):
    receiver = obs.receive_otlp()
    _send(receiver.url)
    _check_stored(obs)
    assert receiver.counts()["spans_received"] == 2
    assert receiver.counts()["spans_refused"] == 0
    obs.close()
    raw = (tmp_path / "recv.duckdb").read_bytes()
    assert SECRET.encode() not in raw
    assert b"gpt-4o" in raw  # the test reads the right file


def test_the_same_request_as_otlp_json_and_gzipped(obs, tmp_path):
    request = ExportTraceServiceRequest.FromString(_request_bytes(tmp_path))
    as_json = json_format.MessageToDict(request)
    for resource in as_json["resourceSpans"]:  # OTLP/JSON: ids in hex, not base64
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    receiver = obs.receive_otlp()
    body = gzip.compress(json.dumps(as_json).encode())
    status, answer = _post(receiver.url, body, "application/json", **{"Content-Encoding": "gzip"})
    assert status == 200
    assert "partialSuccess" not in json.loads(answer)
    _check_stored(obs)


def test_gzipped_protobuf(obs, tmp_path):
    receiver = obs.receive_otlp()
    body = gzip.compress(_request_bytes(tmp_path))
    status, answer = _post(
        receiver.url, body, "application/x-protobuf", **{"Content-Encoding": "gzip"}
    )
    assert status == 200
    assert not ExportTraceServiceResponse.FromString(answer).HasField("partial_success")
    _check_stored(obs)


def test_garbage_is_400_and_nothing_stored_wrong_type_is_415(obs):
    receiver = obs.receive_otlp()
    status, answer = _post(receiver.url, b"\xff\x00 not protobuf", "application/x-protobuf")
    assert status == 400
    assert Status.FromString(answer).message.startswith("not an OTLP protobuf request")
    assert _post(receiver.url, b"{not json", "application/json")[0] == 400
    assert _post(receiver.url, b"hello", "text/plain")[0] == 415
    obs.flush()
    assert obs.spans().height == 0
    assert receiver.counts()["requests_refused"] == 3


def test_over_the_size_limit_is_413_compressed_or_not():
    with OtlpReceiver(lambda span: None, max_bytes=1000) as receiver:
        too_big = b"\x00" * 1001
        assert _post(receiver.url, too_big, "application/x-protobuf")[0] == 413
        bomb = gzip.compress(b"\x00" * 100_000)  # 100 kB from a few hundred bytes
        assert len(bomb) < 1000
        gzipped = {"Content-Encoding": "gzip"}
        assert _post(receiver.url, bomb, "application/x-protobuf", **gzipped)[0] == 413
        assert receiver.counts()["requests_refused"] == 2


def test_a_malformed_span_costs_only_itself(obs):
    receiver = obs.receive_otlp()
    good = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "good", "startTimeUnixNano": "1"}
    bad_id = {"traceId": "00" * 16, "spanId": "cd" * 8, "name": "zero-trace"}
    bad_hex = {"traceId": "zz", "spanId": "cd" * 8, "name": "not-hex"}
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [good, bad_id, bad_hex]}]}]}
    status, answer = _post(receiver.url, json.dumps(body).encode(), "application/json")
    assert status == 200
    partial = json.loads(answer)["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "zero-trace" in partial["errorMessage"] and "not-hex" in partial["errorMessage"]
    obs.flush()
    assert obs.spans()["name"].to_list() == ["good"]
    assert receiver.counts() == {
        "requests": 1,
        "requests_refused": 0,
        "spans_received": 1,
        "spans_refused": 2,
        "logs_received": 0,
        "logs_ignored": 0,
        "logs_refused": 0,
        "scores_written": 0,
        "evaluations_refused": 0,
        "scores_failed": 0,
    }


def _remote_llmobs_span(span_id: str, error_in_event: bool = False) -> bytes:
    """A span as another llmobs_nb process with content capture on sends it; its error type
    as ``error.type`` or (``error_in_event``) only in an exception event."""

    def attr(key: str, text: str) -> dict:
        return {"key": key, "value": {"stringValue": text}}

    span = {
        "traceId": "ef" * 16,
        "spanId": span_id,
        "name": "ask",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
        "attributes": [
            attr("llmobs.kind", "llm"),
            attr("llmobs.input", "my private prompt"),
            attr("gen_ai.request.model", "gpt-4o"),
        ],
        "status": {"code": 2, "message": "failed on my private prompt"},
    }
    if error_in_event:
        event = [attr("exception.type", "ValueError"), attr("exception.message", "my private")]
        span["events"] = [{"timeUnixNano": "1500", "name": "exception", "attributes": event}]
    else:
        span["attributes"].append(attr("error.type", "ValueError"))
    scope = {"scope": {"name": "llmobs_nb"}, "spans": [span]}
    return json.dumps({"resourceSpans": [{"scopeSpans": [scope]}]}).encode()


def test_received_content_obeys_this_stores_capture_content(obs):
    receiver = obs.receive_otlp()
    assert _post(receiver.url, _remote_llmobs_span("01" * 8), "application/json")[0] == 200
    obs.flush()
    row = obs.spans().row(0, named=True)
    assert row["input_text"] is None
    assert "private" not in (row["error_message"] or "") + row["attributes"]
    assert row["error_type"] == "ValueError"
    obs.capture_content = True
    assert _post(receiver.url, _remote_llmobs_span("02" * 8), "application/json")[0] == 200
    obs.flush()
    kept = obs.sql("SELECT * FROM spans WHERE span_id = ?", ["02" * 8]).row(0, named=True)
    assert kept["input_text"] == "my private prompt"


def test_a_received_error_keeps_its_type_from_an_exception_event_without_content(obs):
    receiver = obs.receive_otlp()
    body = _remote_llmobs_span("03" * 8, error_in_event=True)
    assert _post(receiver.url, body, "application/json")[0] == 200
    obs.flush()
    row = obs.spans().row(0, named=True)
    assert row["error_type"] == "ValueError"
    assert row["error_message"] == "ValueError"
    assert "private" not in row["error_message"] + row["attributes"]


def test_close_is_fast_idempotent_and_done_by_obs_close(obs):
    first, second = obs.receive_otlp(), obs.receive_otlp()
    assert first.port != second.port
    started = time.monotonic()
    first.close()
    first.close()
    assert time.monotonic() - started < 1.0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(first.url, data=b"", timeout=2)
    started = time.monotonic()
    obs.close()
    assert time.monotonic() - started < 5.0
    assert second.closed
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(second.url, data=b"", timeout=2)


def test_a_kept_alive_connection_takes_nothing_after_close():
    received: list = []
    receiver = OtlpReceiver(received.append)
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    body = json.dumps({"resourceSpans": []}).encode()
    headers = {"Content-Type": "application/json"}
    connection.request("POST", "/v1/traces", body, headers)
    first = connection.getresponse()
    assert (first.status, first.getheader("Connection")) == (200, None)  # kept alive
    first.read()
    good = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "late"}
    late = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [good]}]}]}).encode()
    receiver.close()
    connection.request("POST", "/v1/traces", late, headers)  # the same, kept-alive socket
    assert connection.getresponse().status == 503
    assert received == []
    connection.close()


def test_a_non_loopback_host_warns(caplog):
    with caplog.at_level("WARNING"), OtlpReceiver(lambda span: None, host="0.0.0.0") as r:
        assert r.port > 0
    assert "no authentication" in caplog.text
