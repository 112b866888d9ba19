"""Our spans without the SDK's span object (capture/own_spans.py): the same span to anyone
who looks — ids, parents, attributes by OpenTelemetry's rules, status, rows — and the SDK's
own spans again as soon as someone else's span processor wants to see them."""

from __future__ import annotations

import gc
import json

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

import llmobs_nb
from llmobs_nb.capture.own_spans import OwnSpan, OwnSpanFactory, start_own_span
from llmobs_nb.capture.presets import preset
from llmobs_nb.capture.rows import to_columns
from llmobs_nb.pricing import PriceBook

ROWS = "select name, trace_id, span_id, parent_span_id, status, attributes from spans"


class _Ended(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[object] = []
        self.ended: list[object] = []

    def on_start(self, span, parent_context=None):  # type: ignore[no-untyped-def]
        self.started.append(span)

    def on_end(self, span):  # type: ignore[no-untyped-def]
        self.ended.append(span)


def _rows(obs):
    obs.flush()
    return {r["name"]: r for r in obs.sql(ROWS).to_dicts()}


def test_our_spans_are_own_spans_until_another_processor_joins(obs):
    @obs.observe(model="gpt-4o", provider="openai", tags=["a", "b"])
    def ask(q):
        assert trace.get_current_span().is_recording()
        return {"usage": {"prompt_tokens": 3, "completion_tokens": 1}}

    with obs.span("before") as span:
        assert isinstance(span.otel_span, OwnSpan)
        ask("one")
    exported = InMemorySpanExporter()
    obs.capture.provider.add_span_processor(SimpleSpanProcessor(exported))
    with obs.span("after") as span:
        assert not isinstance(span.otel_span, OwnSpan)  # the SDK's, which the new one sees
        ask("two")
    seen = {s.name: s for s in exported.get_finished_spans()}
    assert sorted(seen) == ["after", "chat gpt-4o"]
    assert dict(seen["chat gpt-4o"].attributes) == {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "tags": ("a", "b"),
        "llmobs.kind": "llm",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 1,
    }
    calls = obs.sql("select input_tokens, attributes from llm_calls order by start_time")
    assert calls["input_tokens"].to_list() == [3, 3]  # both stored alike, either way made
    assert calls["attributes"].to_list()[0] == calls["attributes"].to_list()[1]


def test_a_span_of_another_tracer_nests_under_ours_in_the_same_trace(obs):
    other = TracerProvider()
    exported = InMemorySpanExporter()
    other.add_span_processor(SimpleSpanProcessor(exported))
    with obs.span("ours"):
        other.get_tracer("theirs").start_span("theirs").end()
    rows = _rows(obs)
    (theirs,) = exported.get_finished_spans()
    assert format(theirs.context.trace_id, "032x") == rows["ours"]["trace_id"]
    assert format(theirs.parent.span_id, "016x") == rows["ours"]["span_id"]
    assert theirs.parent.trace_flags.sampled


def test_a_remote_parent_gives_its_trace_ids_and_trace_state(obs):
    state = TraceState([("vendor", "x1")])
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
    try:
        with obs.span("child") as span:
            context = span.otel_span.get_span_context()
            assert context.trace_state == state and context.trace_flags.sampled
            assert not context.is_remote and context.is_valid
    finally:
        otel_context.detach(token)
    row = _rows(obs)["child"]
    assert row["trace_id"] == format(0xABC, "032x")
    assert row["parent_span_id"] == format(0xDEF, "016x")


def test_nested_own_spans_share_the_trace_and_link_parents(obs):
    with obs.span("root") as root, obs.span("leaf") as leaf:
        assert leaf.trace_id == root.trace_id
    rows = _rows(obs)
    assert rows["leaf"]["parent_span_id"] == rows["root"]["span_id"]
    assert rows["root"]["parent_span_id"] is None


VALUES = [
    "text",
    7,
    0.5,
    True,
    ["a", "b"],
    (1, 2),
    [1, "mixed"],
    b"bytes",
    None,
    {"nested": [1, 2]},
    object(),
    [],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_set_attribute_keeps_what_the_sdk_keeps(value):
    sdk = TracerProvider().get_tracer("t").start_span("s")
    own = start_own_span(SpanProcessor(), "s", None, {}, OwnSpanFactory())
    for span in (sdk, own):
        span.set_attribute("k", value)
        span.set_attributes({"m": value, "": 1})
    assert own.attributes == dict(sdk.attributes)


def test_the_attribute_count_limit_drops_the_oldest_like_the_sdk():
    limits = SpanLimits(max_span_attributes=5)
    sdk = TracerProvider(span_limits=limits).get_tracer("t").start_span("s", attributes={"a": 0})
    own = start_own_span(SpanProcessor(), "s", None, {"a": 0}, OwnSpanFactory(limits=limits))
    for span in (sdk, own):
        for i in range(8):
            span.set_attribute(f"k{i}", i)
        span.set_attribute("k7", "again")
    assert own.attributes == dict(sdk.attributes)
    assert list(own.attributes) == list(sdk.attributes)


def test_status_events_end_and_writes_after_end_follow_the_sdk():
    processor = _Ended()
    span = start_own_span(processor, "s", None, {}, OwnSpanFactory())
    assert processor.started == [span]
    span.set_status(StatusCode.ERROR, "boom")
    span.set_status(Status(StatusCode.UNSET))  # never set
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "boom"
    span.record_exception(ValueError("secret text"))
    (event,) = span.events
    assert event.name == "exception" and dict(event.attributes) == {"exception.type": "ValueError"}
    span.set_status(Status(StatusCode.OK))
    span.set_status(StatusCode.ERROR)  # OK is final
    assert span.status.status_code is StatusCode.OK
    span.update_name("renamed")
    span.end()
    span.end()  # once
    span.set_attribute("late", 1)
    span.update_name("too late")
    assert processor.ended == [span] and not span.is_recording()
    assert span.name == "renamed" and "late" not in span.attributes
    assert span.end_time >= span.start_time


def test_a_failed_call_is_stored_with_its_error_type(obs):
    @obs.observe(model="gpt-4o")
    def ask(q):
        raise TimeoutError("late")

    with pytest.raises(TimeoutError):
        ask("x")
    row = obs.sql("select status, error_type from llm_calls").to_dicts()[0]
    assert row == {"status": "error", "error_type": "TimeoutError"}


def test_a_buffered_call_is_not_tracked_by_the_garbage_collector(tmp_path):
    # Thousands of tracked dicts waiting for the flush would be promoted to the oldest
    # generation and set off full collections (see scope.finish_reasons).
    class Reply:
        def __init__(self) -> None:
            self.model = "gpt-4o-2024-08-06"
            self.id = "r-1"
            self.choices = [{"finish_reason": "stop", "message": {"content": "Hi"}}]
            self.usage = {"prompt_tokens": 4, "completion_tokens": 2}

    obs = llmobs_nb.init(db=tmp_path / "gc.duckdb", project="gc", flush_interval_s=3600)
    try:

        @obs.observe(model="gpt-4o")
        def ask(q):
            return Reply()

        ask("first")  # makes the finish reason's tuple; a collection untracks it
        gc.collect()
        ask("second")
        record = obs.capture.processor._pending[-1]  # no flush before an hour, or 8192 spans
        assert record[7]["gen_ai.response.finish_reasons"] == ("stop",)
        assert not gc.is_tracked(record[7])
        attributes = _rows(obs)["chat gpt-4o"]["attributes"]
    finally:
        obs.close()
    assert json.loads(attributes)["gen_ai.response.id"] == "r-1"


STATIC = {
    "gen_ai.request.model": "gpt-4o",
    "app.route": "/ask",
    "app.api_key": "sk-live-1234567890abcdef",  # a secret-named key: its value goes
    "app.note": "password=hunter2",  # a secret inside text: masked
    "app.tags": ["a", "b"],
    "app.ratio": float("nan"),  # written as null
    "llmobs.kind": "llm",
}


def _records(attrs_of, n=4):
    start = 1_700_000_000 * 10**9
    return [("chat", 7, 100 + i, None, start, start + 10**9, None, attrs_of(i)) for i in range(n)]


@pytest.mark.parametrize("extra_static", [{}, {"input.value": "a prompt in a preset"}])
def test_a_presets_part_of_the_row_made_once_gives_the_same_rows(extra_static):
    fixed = preset({**STATIC, **extra_static})

    def attrs(i):
        values = fixed.plain.copy()
        values.update({"gen_ai.usage.input_tokens": 10 + i, "gen_ai.response.id": f"r-{i}"})
        if i == 1:
            values["gen_ai.usage.output_tokens"] = -3  # a problem named in the JSON
        if i == 2:
            values["gen_ai.response.finish_reasons"] = ("stop",)
        return values

    made_once = {100 + i: fixed for i in range(4)}
    once = to_columns(_records(attrs), "p", PriceBook(), duplicates={103}, presets=made_once)
    assert not made_once  # each taken out as used
    full = to_columns(_records(attrs), "p", PriceBook(), duplicates={103})
    assert once.equals(full)
    first = json.loads(once.column("attributes")[0].as_py())
    assert first["app.api_key"] == "[REDACTED]" and first["app.ratio"] is None
    assert first["app.note"] == "password=[REDACTED]"
    assert json.loads(once.column("attributes")[3].as_py())["llmobs.duplicate_call"] is True
    assert (fixed.row is not None) and (fixed.row[1] == "") == bool(extra_static)


def test_a_preset_value_replaced_during_the_call_is_stored(obs):
    @obs.observe(model="gpt-4o", route="/ask")
    def ask(q):
        trace.get_current_span().set_attribute("route", "/changed")
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    @obs.observe(model="gpt-4o", route="/ask")
    def plain(q):
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}

    plain("a")
    ask("b")
    plain("c")
    routes = [json.loads(a)["route"] for a in obs.calls()["attributes"].to_list()]
    assert routes == ["/ask", "/changed", "/ask"]
