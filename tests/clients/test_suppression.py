"""Suppression goes through OpenTelemetry's own context key, both ways: our
``suppress_instrumentation`` silences third-party instrumentations (they ask
``opentelemetry.instrumentation.utils.is_instrumentation_enabled``), and OpenTelemetry's
helper silences our client instrumentation. Instrumenting takes the observer's tracer."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.instrumentation import utils as otel_utils

from llmobs_nb.capture.tracer import Tracer, instrumentation_suppressed, suppress_instrumentation
from llmobs_nb.clients import instrument_openai

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def make_client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test-0000000000000000")


def test_third_party_instrumentations_see_our_suppression():
    assert otel_utils.is_instrumentation_enabled()
    with suppress_instrumentation():
        assert not otel_utils.is_instrumentation_enabled()
        assert instrumentation_suppressed()
    assert otel_utils.is_instrumentation_enabled()
    assert not instrumentation_suppressed()


def test_opentelemetry_suppression_silences_our_client_instrumentation(obs, server):
    client = obs.instrument_openai(make_client(server))
    with otel_utils.suppress_instrumentation():
        answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content  # the call itself is untouched
    assert obs.calls().height == 0
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert obs.calls().height == 1


def test_our_suppression_silences_our_client_instrumentation(obs, server):
    client = obs.instrument_openai(make_client(server))
    with suppress_instrumentation():
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert obs.spans().height == 0


def test_a_tracer_can_be_instrumented_into_directly(obs, server):
    assert isinstance(obs.tracer, Tracer)
    client = instrument_openai(obs.tracer, make_client(server))
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    row = obs.calls().row(0, named=True)
    assert (row["model"], row["input_tokens"]) == ("gpt-4o", 1200)


def test_the_old_import_path_warns_and_still_works():
    from llmobs_nb.clients import patching

    new = "use llmobs_nb.capture.tracer.suppress_instrumentation"
    with pytest.warns(DeprecationWarning, match=new):
        old = patching.suppress_instrumentation
    assert old is suppress_instrumentation
    with pytest.raises(AttributeError):
        patching.no_such_name  # noqa: B018
