"""Nothing dropped silently on the standards bridge: the OTLP export's and the OTLP receiver's
counts appear in ``obs.health()`` and as Prometheus counters, read at scrape time."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client.parser import text_string_to_metric_families

import llmobs_nb

CALLS = 12


def closed_port_url() -> str:
    """An OTLP endpoint on a loopback port bound and closed: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"


def counts(text: str, name: str) -> dict[str, float]:
    return {
        s.labels["outcome"]: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    }


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_spans_lost_on_export_are_counted_in_health_and_in_the_metrics(tmp_path, promtool):
    obs = llmobs_nb.init(db=tmp_path / "x.duckdb", otlp_endpoint=closed_port_url())
    server = obs.serve_metrics(port=0)

    @obs.observe(model="gpt-4o", operation="chat", provider="openai")
    def ask(i: int) -> dict:
        return {"usage": {"prompt_tokens": 10, "completion_tokens": 2}}

    for i in range(CALLS):
        ask(i)
    live = scrape(server.url)
    before = counts(live, "llmobs_export_spans_total")
    assert set(before) == {"sent", "dropped_queue_full", "failed", "unsent_at_close"}
    assert before["sent"] == 0  # nothing can reach a closed port
    obs.flush()
    obs.score(obs.calls()["span_id"][0], name="quality", value=0.5)  # exported as an event
    obs.close()  # export gets at most a second: the rest is counted unsent

    health = obs.health()
    assert health.export["sent"] == 0
    assert health.export_lost == CALLS  # every span counted once: failed or unsent
    assert health.received == {}  # no receiver
    assert "export=" in repr(health) and "received" not in repr(health)
    exposition = obs.metrics_text()  # the same registry the endpoint served
    assert counts(exposition, "llmobs_export_spans_total") == {
        k: float(health.export[k])
        for k in before  # the span outcomes (scores are apart)
    }
    assert counts(exposition, "llmobs_received_spans_total") == {}
    # the score could not be sent either: counted in its own family
    assert counts(exposition, "llmobs_export_scores_total") == {
        "sent": 0.0,
        "dropped_queue_full": 0.0,
        "failed": 1.0,
    }
    for text in (live, exposition):
        result = promtool("check", "metrics", stdin=text)
        assert result.returncode == 0, result.stdout + result.stderr


def test_received_spans_and_requests_are_counted_in_health_and_in_the_scrape(tmp_path, promtool):
    obs = llmobs_nb.init(db=tmp_path / "x.duckdb")
    try:
        receiver = obs.receive_otlp(port=0)
        server = obs.serve_metrics(port=0)
        # a real OTel SDK exporter sends three spans
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=receiver.url)))
        tracer = provider.get_tracer("sender")
        for i in range(3):
            with tracer.start_as_current_span(f"step {i}"):
                pass
        provider.shutdown()
        # one request with two malformed spans and a good one, then two refused requests
        good = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "good", "startTimeUnixNano": "1"}
        zero = {"traceId": "00" * 16, "spanId": "cd" * 8, "name": "zero-trace"}
        bad = {"traceId": "zz", "spanId": "cd" * 8, "name": "not-hex"}
        body = {"resourceSpans": [{"scopeSpans": [{"spans": [good, zero, bad]}]}]}
        assert post(receiver.url, json.dumps(body).encode(), "application/json") == 200
        assert post(receiver.url, b"garbage", "application/x-protobuf") == 400
        assert post(receiver.url, b"{}", "text/plain") == 415

        expected = {"requests": 4, "requests_refused": 2, "spans_received": 4, "spans_refused": 2}
        received = obs.health().received
        assert {k: received[k] for k in expected} == expected
        assert received["logs_received"] == received["scores_written"] == 0  # no logs sent
        assert obs.health().export == {}  # no endpoint
        scraped = scrape(server.url)
        assert counts(scraped, "llmobs_received_spans_total") == {"accepted": 4, "refused": 2}
        assert counts(scraped, "llmobs_received_requests_total") == {"accepted": 4, "refused": 2}
        assert counts(scraped, "llmobs_export_spans_total") == {}
        result = promtool("check", "metrics", stdin=scraped)
        assert result.returncode == 0, result.stdout + result.stderr
        # read at scrape time, never added twice: a second scrape says the same
        assert counts(scrape(server.url), "llmobs_received_spans_total") == {
            "accepted": 4,
            "refused": 2,
        }
    finally:
        obs.close()
    # counts outlive the receiver's close (counters never go down)
    assert obs.health().received["spans_received"] == 4


def test_health_repr_stays_short_without_the_bridge(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "x.duckdb")
    try:
        text = repr(obs.health())
    finally:
        obs.close()
    assert text.startswith("Health(rows_written=") and "export" not in text
    assert "received" not in text and "last_error" not in text


@pytest.mark.parametrize("broken", ["export", "receiver"])
def test_a_count_that_cannot_be_read_costs_only_its_family(broken):
    from llmobs_nb.metrics import ObserverMetrics

    def fails() -> dict:
        raise RuntimeError("gone")

    metrics = ObserverMetrics()
    export, receiver = (
        (fails, lambda: {"spans_received": 1})
        if broken == "export"
        else (
            lambda: {"sent": 2},
            fails,
        )
    )
    metrics.watch_bridge(export, receiver)
    text = metrics.text()
    assert "llm_request_duration_seconds" in text  # the scrape still answers
    if broken == "export":
        assert counts(text, "llmobs_export_spans_total") == {}
        assert counts(text, "llmobs_received_spans_total") == {"accepted": 1}
    else:
        assert counts(text, "llmobs_export_spans_total") == {"sent": 2}
        assert counts(text, "llmobs_received_spans_total") == {}
