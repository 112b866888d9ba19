"""The hand-written protobuf bytes (``otlp.wire``) equal what the protobuf runtime serializes
from the same message, for every value kind an attribute can have (property-based), and a
whole encoded request reads back field by field."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from llmobs_nb.otlp import wire

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.one_of(st.text(), st.booleans(), INT64, st.floats(allow_nan=False))


def reference(value) -> AnyValue:
    """The AnyValue the runtime builds for a value wire.any_value takes as itself."""
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(array_value=ArrayValue(values=[reference(v) for v in value]))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        SCALARS,
        st.lists(st.text(), max_size=4),
        st.lists(INT64, max_size=4),
        st.lists(st.floats(allow_nan=False), max_size=4),
        st.lists(st.booleans(), max_size=4),
    )
)
def test_an_attribute_value_is_byte_equal_to_the_runtimes(value) -> None:
    try:
        expected = KeyValue(key="k.é", value=reference(value)).SerializeToString()
    except ValueError:  # text protobuf refuses (lone surrogates): ours refuses it too
        with pytest.raises(ValueError):
            wire.key_value("k.é", value)
        return
    assert wire.key_value("k.é", value) == expected


@given(st.integers(min_value=2**63, max_value=2**80))
def test_an_int_beyond_int64_goes_as_its_text(value) -> None:
    assert AnyValue.FromString(wire.any_value(value)).string_value == str(value)


@pytest.mark.parametrize(
    "value", [{"a": [1, {"b": None}]}, [1, "x"], [[1], [2]], [2**70], (1.5, True)]
)
def test_what_has_no_otlp_kind_goes_as_json_text(value) -> None:
    text = AnyValue.FromString(wire.any_value(value)).string_value
    assert json.loads(text) == json.loads(json.dumps(value))


def test_none_and_lone_surrogates_are_refused() -> None:
    for bad in (None, "\ud800", ["ok", "\udfff"]):
        with pytest.raises(ValueError):
            wire.any_value(bad)


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(max_size=30),
    kind=st.integers(min_value=0, max_value=5),
    start=st.integers(min_value=0, max_value=2**64 - 1),
    length=st.integers(min_value=0, max_value=10**12),
    parent=st.booleans(),
    message=st.text(max_size=20),
    code=st.integers(min_value=0, max_value=2),
    attrs=st.dictionaries(st.text(min_size=1, max_size=8), SCALARS, max_size=5),
)
def test_a_span_with_events_and_status_is_byte_equal(
    name, kind, start, length, parent, message, code, attrs
) -> None:
    end = min(start + length, 2**64 - 1)
    try:
        for text in (name, message, *attrs):
            text.encode("utf-8")
        for v in attrs.values():
            if isinstance(v, str):
                v.encode("utf-8")
    except UnicodeEncodeError:
        return  # refused, as above
    kvs = [KeyValue(key=k, value=reference(v)) for k, v in attrs.items()]
    ids = {"trace_id": b"\x01" * 16, "span_id": b"\x02" * 8}
    ids["parent_span_id"] = b"\x03" * 8 if parent else b""
    expected = Span(
        **ids,
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=kvs,
        events=[Span.Event(time_unix_nano=start, name="exception", attributes=kvs)],
        status=Status(code=code, message=message) if code or message else None,
    ).SerializeToString()
    pairs = [wire.key_value(k, v) for k, v in attrs.items()]
    got = wire.span(
        **ids,
        name=name,
        kind=kind,
        start_ns=start,
        end_ns=end,
        attributes=wire.repeated(wire.SPAN_ATTRIBUTE, pairs),
        events=wire.repeated(
            wire.SPAN_EVENT,
            [wire.event(start, "exception", wire.repeated(wire.EVENT_ATTRIBUTE, pairs))],
        ),
        status_code=code,
        status_message=message,
    )
    assert got == expected


def test_a_request_reads_back_field_by_field() -> None:
    resource = wire.repeated(wire.RESOURCE_ATTRIBUTE, [wire.key_value("service.name", "svc")])
    spans = wire.repeated(
        wire.SCOPE_ITEM,
        [
            wire.span(
                trace_id=bytes(range(1, 17)),
                span_id=bytes(range(1, 9)),
                parent_span_id=b"",
                name="ask",
                kind=3,
                start_ns=1_700_000_000_000_000_000,
                end_ns=1_700_000_000_500_000_000,
                attributes=wire.repeated(wire.SPAN_ATTRIBUTE, [wire.key_value("x", math.pi)]),
            )
        ],
    )
    body = wire.field(
        wire.REQUEST_ITEM, wire.resource_scope(resource, "llmobs_nb", "1.0", "https://s", spans)
    )
    request = ExportTraceServiceRequest.FromString(body)
    (rs,) = request.resource_spans
    assert rs.resource.attributes[0].value.string_value == "svc"
    (ss,) = rs.scope_spans
    assert (ss.scope.name, ss.scope.version, ss.schema_url) == ("llmobs_nb", "1.0", "https://s")
    (span,) = ss.spans
    assert (span.name, span.kind, span.span_id) == ("ask", 3, bytes(range(1, 9)))
    assert span.end_time_unix_nano - span.start_time_unix_nano == 500_000_000
    assert span.attributes[0].value.double_value == math.pi


def test_a_log_record_is_byte_equal() -> None:
    attrs = [wire.key_value("gen_ai.evaluation.name", "relevance")]
    got = wire.log_record(
        time_ns=5,
        attributes=wire.repeated(wire.LOG_ATTRIBUTE, attrs),
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        event_name="gen_ai.evaluation.result",
    )
    expected = LogRecord(
        time_unix_nano=5,
        observed_time_unix_nano=5,
        attributes=[
            KeyValue(key="gen_ai.evaluation.name", value=AnyValue(string_value="relevance"))
        ],
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        event_name="gen_ai.evaluation.result",
    ).SerializeToString()
    assert got == expected
    items = wire.repeated(wire.SCOPE_ITEM, [got])
    body = wire.field(wire.REQUEST_ITEM, wire.resource_scope(b"", "llmobs_nb", "", "", items))
    request = ExportLogsServiceRequest.FromString(body)
    assert request.resource_logs[0].scope_logs[0].log_records[0].event_name.endswith("result")
