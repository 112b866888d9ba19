"""The real Phoenix server and our REST reader: plain OpenTelemetry SDK spans carrying
OpenInference attributes, sent by the SDK's own OTLP/HTTP exporter, read back field by field."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.interop.phoenix_server import get_json, phoenix_server, wait_for_spans

pytestmark = pytest.mark.slow


def send_openinference_spans(endpoint: str, project: str) -> None:
    """An agent span with an LLM child (tokens incl. reasoning, user, metadata, a first-token
    event, messages) and a failing tool child, through the SDK's OTLP/HTTP exporter."""
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": project}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("agent") as agent:
        agent.set_attributes({"openinference.span.kind": "AGENT", "input.value": "plan a trip"})
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attributes(
                {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4o-mini",
                    "llm.token_count.prompt": 120,
                    "llm.token_count.completion": 30,
                    "llm.token_count.total": 150,
                    "llm.token_count.completion_details.reasoning": 12,
                    "llm.token_count.prompt_details.cache_read": 64,
                    "llm.input_messages.0.message.role": "user",
                    "llm.input_messages.0.message.content": "Where to?",
                    "user.id": "alice",
                    "metadata": json.dumps({"run": "prompt-v2", "use_case": "travel"}),
                }
            )
            llm.add_event("First Token Stream Event", {"index": 0})
        with tracer.start_as_current_span("lookup") as tool:
            tool.set_attribute("openinference.span.kind", "TOOL")
            tool.set_status(Status(StatusCode.ERROR, "no such city"))
    provider.shutdown()


def test_sdk_spans_with_openinference_attributes_read_back_from_phoenix(phoenix):
    send_openinference_spans(phoenix.traces_endpoint, "roundtrip")
    spans = {s["name"]: s for s in wait_for_spans(phoenix.url, "roundtrip", 3)}
    assert set(spans) == {"agent", "chat gpt-4o-mini", "lookup"}
    agent, llm, tool = spans["agent"], spans["chat gpt-4o-mini"], spans["lookup"]
    assert (agent["span_kind"], llm["span_kind"], tool["span_kind"]) == ("AGENT", "LLM", "TOOL")
    assert {s["project"] for s in spans.values()} == {"roundtrip"}
    assert llm["parent_id"] == tool["parent_id"] == agent["context"]["span_id"]
    assert agent["parent_id"] is None
    attrs = llm["attributes"]
    assert attrs["llm.model_name"] == "gpt-4o-mini"
    assert (attrs["llm.token_count.prompt"], attrs["llm.token_count.completion"]) == (120, 30)
    assert attrs["llm.token_count.completion_details.reasoning"] == 12
    assert attrs["llm.token_count.prompt_details.cache_read"] == 64
    assert attrs["user.id"] == "alice"
    # Phoenix parses the metadata JSON and its REST API flattens it
    assert (attrs["metadata.run"], attrs["metadata.use_case"]) == ("prompt-v2", "travel")
    assert attrs["llm.input_messages.0.message.content"] == "Where to?"
    assert [e["name"] for e in llm["events"]] == ["First Token Stream Event"]
    assert (tool["status_code"], tool["status_message"]) == ("ERROR", "no such city")
    assert agent["attributes"]["input.value"] == "plan a trip"
    projects = {p["name"] for p in get_json(f"{phoenix.url}/v1/projects")["data"]}
    assert "roundtrip" in projects


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_the_server_is_stopped_by_its_process_id_and_its_port_freed(tmp_path):
    with phoenix_server(tmp_path / "phoenix") as server:
        pid, port = server.process.pid, int(server.url.rsplit(":", 1)[1])
        children = _children(pid)
        assert get_json(f"{server.url}/v1/projects")["data"]
    assert server.process.returncode is not None
    assert not Path(f"/proc/{pid}").exists()  # waited for: gone, not a zombie
    for child in children:  # nothing it started outlives it
        assert not Path(f"/proc/{child}").exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
