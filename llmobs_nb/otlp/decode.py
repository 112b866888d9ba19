"""OTLP trace data (an ``ExportTraceServiceRequest``, protobuf bytes or OTLP/JSON) turned into
the OpenTelemetry SDK's ``ReadableSpan`` objects, so received spans take the same path as the
process's own: the processor's ``on_end``, row conversion, redaction and content policy.

A malformed span costs only that span: it is counted and named in the result, and the other
spans of the request are decoded. OTLP/JSON ids are hex (per the OTLP JSON encoding), enums
may be numbers or names, 64-bit integers numbers or strings.

Example:
    >>> result = decode_request(b'{"resourceSpans": []}', "application/json")
    >>> result.spans, result.refused
    ([], 0)
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope as SdkScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

MAX_NAMED_ERRORS = 20  # errors kept by name in a result; all are counted


class DecodeError(ValueError):
    """The request as a whole cannot be read (not OTLP, not protobuf, not JSON)."""


@dataclass
class DecodeResult:
    """The spans decoded from one request, and those refused (counted, named).

    Example:
        >>> DecodeResult().refused
        0
    """

    spans: list[ReadableSpan] = field(default_factory=list)
    refused: int = 0
    errors: list[str] = field(default_factory=list)

    def refuse(self, what: str, exc: BaseException) -> None:
        """Count one refused span; keep its reason (the first few)."""
        self.refused += 1
        if len(self.errors) < MAX_NAMED_ERRORS:
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")


def decode_request(body: bytes, content_type: str = "application/x-protobuf") -> DecodeResult:
    """Decode an ``ExportTraceServiceRequest`` given as protobuf bytes or OTLP/JSON.

    Raises :class:`DecodeError` when the body as a whole is unreadable.

    Example:
        >>> decode_request(ExportTraceServiceRequest().SerializeToString()).spans
        []
    """
    if "json" in content_type.lower():
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"not JSON: {exc}") from exc
        return decode_json(document)
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise DecodeError(f"not an OTLP protobuf request: {exc}") from exc
    result = DecodeResult()
    for resource_spans in request.resource_spans:
        resource = _resource(resource_spans.resource, resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope, scope_spans.schema_url)
            for index, span in enumerate(scope_spans.spans):
                _add(result, span, resource, scope, index)
    return result


def decode_json(document: Any) -> DecodeResult:
    """Decode an OTLP/JSON ``ExportTraceServiceRequest`` already parsed into Python objects.

    Example:
        >>> decode_json({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"}]}]}]}).refused
        1
    """
    if not isinstance(document, dict) or not isinstance(
        document.get("resourceSpans", document.get("resource_spans", [])), list
    ):
        raise DecodeError("not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans list)")
    result = DecodeResult()
    for resource_spans in _list(document, "resourceSpans"):
        try:
            proto_resource = ProtoResource()
            json_format.ParseDict(resource_spans.get("resource") or {}, proto_resource)
            resource = _resource(proto_resource, str(resource_spans.get("schemaUrl") or ""))
        except Exception as exc:
            # the resource is unreadable: its spans are refused, the other resources' kept
            for scope_spans in _list(resource_spans, "scopeSpans"):
                for _ in _list(scope_spans, "spans"):
                    result.refuse("resource", exc)
            continue
        for scope_spans in _list(resource_spans, "scopeSpans"):
            try:
                proto_scope = InstrumentationScope()
                json_format.ParseDict(scope_spans.get("scope") or {}, proto_scope)
                scope = _scope(proto_scope, str(scope_spans.get("schemaUrl") or ""))
            except Exception:
                scope = None  # the scope costs its own field only
            for index, span_json in enumerate(_list(scope_spans, "spans")):
                try:
                    span = ProtoSpan()
                    json_format.ParseDict(_hex_ids_to_base64(span_json), span)
                except Exception as exc:
                    result.refuse(_span_label(span_json, index), exc)
                    continue
                _add(result, span, resource, scope, index)
    return result


def _list(parent: Any, camel: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    value = parent.get(camel, parent.get(snake))
    return value if isinstance(value, list) else []


def _span_label(span_json: Any, index: int) -> str:
    name = span_json.get("name") if isinstance(span_json, dict) else None
    return f"span {name!r}" if isinstance(name, str) else f"span #{index}"


_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(span_json: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping of ``bytes`` is base64."""
    if not isinstance(span_json, dict):
        raise DecodeError("a span is not a JSON object")
    out = {key: _b64(value) if key in _ID_KEYS else value for key, value in span_json.items()}
    if isinstance(out.get("links"), list):
        out["links"] = [
            {k: _b64(v) if k in _ID_KEYS else v for k, v in link.items()}
            if isinstance(link, dict)
            else link
            for link in out["links"]
        ]
    return out


def _b64(value: Any) -> Any:
    if not isinstance(value, str) or value == "":
        return value
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _add(
    result: DecodeResult, span: ProtoSpan, resource: Resource, scope: SdkScope | None, index: int
) -> None:
    try:
        result.spans.append(to_readable(span, resource, scope))
    except Exception as exc:
        result.refuse(f"span {span.name!r}" if span.name else f"span #{index}", exc)


def _context(trace_id: bytes, span_id: bytes, flags: int = 0, state: str = "") -> SpanContext:
    if len(trace_id) != 16 or not any(trace_id):
        raise ValueError(f"trace id must be 16 non-zero bytes, got {trace_id.hex()!r}")
    if len(span_id) != 8 or not any(span_id):
        raise ValueError(f"span id must be 8 non-zero bytes, got {span_id.hex()!r}")
    trace_state = TraceState.from_header([state]) if state else None
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=True,
        trace_flags=TraceFlags(flags & 0xFF),
        trace_state=trace_state,
    )


def to_readable(span: ProtoSpan, resource: Resource, scope: SdkScope | None) -> ReadableSpan:
    """One protobuf ``Span`` as a ``ReadableSpan``; raises ``ValueError`` on bad ids or times.

    Example:
        >>> s = ProtoSpan(name="x", trace_id=b"\\1" * 16, span_id=b"\\2" * 8,
        ...               start_time_unix_nano=1, end_time_unix_nano=2)
        >>> to_readable(s, Resource.get_empty(), None).name
        'x'
    """
    context = _context(span.trace_id, span.span_id, span.flags, span.trace_state)
    parent = None
    if span.parent_span_id:
        parent = _context(span.trace_id, span.parent_span_id)
    if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
        raise ValueError("span ends before it starts")
    events = [
        Event(event.name, attributes(event.attributes), event.time_unix_nano)
        for event in span.events
    ]
    links = []
    for link in span.links:
        try:
            links.append(
                Link(_context(link.trace_id, link.span_id, link.flags), attributes(link.attributes))
            )
        except ValueError:
            continue  # a bad link costs only itself
    kind = span.kind - 1 if span.kind else 0  # protobuf counts UNSPECIFIED as 0
    code = StatusCode(span.status.code) if span.status.code in (0, 1, 2) else StatusCode.UNSET
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes(span.attributes),
        events=events,
        links=links,
        kind=SpanKind(kind) if 0 <= kind <= 4 else SpanKind.INTERNAL,
        status=Status(code, span.status.message or None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano or span.start_time_unix_nano,
        instrumentation_scope=scope,
    )


def attributes(key_values: Any) -> dict[str, Any]:
    """Protobuf ``KeyValue`` list → a plain dict (arrays as tuples, kvlists as dicts).

    Example:
        >>> from opentelemetry.proto.common.v1.common_pb2 import KeyValue
        >>> attributes([KeyValue(key="n", value=AnyValue(int_value=3))])
        {'n': 3}
    """
    return {kv.key: value_of(kv.value) for kv in key_values}


def value_of(value: AnyValue) -> Any:
    """One protobuf ``AnyValue`` as a Python value (None when empty).

    Example:
        >>> value_of(AnyValue(string_value="hi"))
        'hi'
    """
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(value_of(v) for v in value.array_value.values)
    if which == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def _resource(resource: ProtoResource, schema_url: str) -> Resource:
    return Resource(attributes(resource.attributes), schema_url or None)


def _scope(scope: InstrumentationScope, schema_url: str) -> SdkScope | None:
    if not scope.name and not scope.version:
        return None
    return SdkScope(
        scope.name, scope.version or None, schema_url or None, attributes(scope.attributes)
    )


# -- logs (``POST /v1/logs``): only what evaluation events need ------------------------------
LogEvent = tuple[str, dict[str, Any], "str | None", "str | None"]
"""One OTLP log record as ``(event_name, attributes, trace_id, span_id)``, ids in lowercase
hex (None when absent)."""


@dataclass
class LogsResult:
    """The log records decoded from one ``ExportLogsServiceRequest``, and those refused.

    Example:
        >>> LogsResult().events
        []
    """

    events: list[LogEvent] = field(default_factory=list)
    refused: int = 0
    errors: list[str] = field(default_factory=list)


def decode_logs(body: bytes, content_type: str = "application/x-protobuf") -> LogsResult:
    """Decode an ``ExportLogsServiceRequest`` (protobuf bytes or OTLP/JSON) into
    :data:`LogEvent` tuples; a malformed record costs only itself (counted, named).
    Raises :class:`DecodeError` when the body as a whole is unreadable.

    Example:
        >>> decode_logs(b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"eventName": "e",'
        ...             b' "spanId": "0102030405060708"}]}]}]}', "application/json").events
        [('e', {}, None, '0102030405060708')]
    """
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

    result = LogsResult()
    if "json" in content_type.lower():
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"not JSON: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(
            document.get("resourceLogs", document.get("resource_logs", [])), list
        ):
            raise DecodeError("not an OTLP/JSON ExportLogsServiceRequest (no resourceLogs list)")
        for resource_logs in _list(document, "resourceLogs"):
            for scope_logs in _list(resource_logs, "scopeLogs"):
                for index, record_json in enumerate(_list(scope_logs, "logRecords")):
                    try:
                        record = LogRecord()
                        json_format.ParseDict(_hex_ids_to_base64(record_json), record)
                        result.events.append(_log_event(record))
                    except Exception as exc:
                        _refuse_log(result, index, exc)
        return result
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as exc:
        raise DecodeError(f"not an OTLP protobuf logs request: {exc}") from exc
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for index, record in enumerate(scope_logs.log_records):
                try:
                    result.events.append(_log_event(record))
                except Exception as exc:
                    _refuse_log(result, index, exc)
    return result


def _log_event(record: Any) -> LogEvent:
    trace_id, span_id = bytes(record.trace_id), bytes(record.span_id)
    if (trace_id and len(trace_id) != 16) or (span_id and len(span_id) != 8):
        raise ValueError("a trace id must be 16 bytes and a span id 8")
    return (
        record.event_name,
        attributes(record.attributes),
        trace_id.hex() if any(trace_id) else None,
        span_id.hex() if any(span_id) else None,
    )


def _refuse_log(result: LogsResult, index: int, exc: BaseException) -> None:
    result.refused += 1
    if len(result.errors) < MAX_NAMED_ERRORS:
        result.errors.append(f"log record #{index}: {type(exc).__name__}: {exc}")
