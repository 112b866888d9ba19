"""Spans also go to an OpenTelemetry collector over OTLP/HTTP, GenAI attributes intact."""

from __future__ import annotations

import llmobs_nb
from tests.scaleout.otlp_receiver import OTLPReceiver


def test_every_span_reaches_a_real_otlp_receiver_with_its_genai_attributes(tmp_path):
    with OTLPReceiver() as receiver:
        obs = llmobs_nb.init(db=tmp_path / "o.duckdb", otlp_endpoint=receiver.endpoint)
        try:
            # re-running the cell does not add a second exporter
            llmobs_nb.init(db=tmp_path / "o.duckdb", otlp_endpoint=receiver.endpoint)

            @obs.observe(model="gpt-4o", operation="chat", provider="openai")
            def ask(q):
                return {
                    "model": "gpt-4o-2024-08-06",
                    "usage": {
                        "prompt_tokens": 100,
                        "completion_tokens": 20,
                        "prompt_tokens_details": {"cached_tokens": 64},
                    },
                }

            with obs.span("rag", user_id="alice"):
                with obs.span("retrieval", kind="retrieval", top_k=3):
                    pass
                for i in range(50):
                    ask(i)
            obs.flush()
            stored = obs.spans()
        finally:
            obs.close()
        received = {s["span_id"]: s for s in receiver.spans}
    assert len(receiver.spans) == stored.height == 52
    assert set(received) == set(stored["span_id"])
    assert receiver.content_types == {"application/x-protobuf"}
    call = next(s for s in receiver.spans if s["name"] == "chat gpt-4o")
    attrs = call["attributes"]
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 20
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 64
    assert attrs["llmobs.user_id"] == "alice"
    rag = next(s for s in receiver.spans if s["name"] == "rag")
    assert call["parent_span_id"] == rag["span_id"]
