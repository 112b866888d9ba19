"""Protocol Buffers wire format for the OTLP messages the export writes, by hand.

Building ``opentelemetry.proto`` message objects costs ~1 µs per field set; the export child
writes every span row with ~30 attributes, so it writes the bytes itself: fields in field-number
order, exactly as the protobuf runtime serializes them (``tests/otlp/test_wire.py`` checks
byte equality against it). Only what the export uses is here: ``KeyValue``/``AnyValue``,
``Span`` (with events and status), ``Event``, ``LogRecord``, and the envelopes of
``ExportTraceServiceRequest`` and ``ExportLogsServiceRequest``. Field numbers are those of
``opentelemetry/proto/{common,trace,logs,resource}/v1/*.proto``.

Example:
    >>> from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    >>> KeyValue.FromString(key_value("gen_ai.usage.input_tokens", 812)).value.int_value
    812
"""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Iterable
from typing import Any

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64 = 2**64 - 1
_SMALL = [bytes([n]) for n in range(128)]
_fixed64 = struct.Struct("<Q").pack
_double = struct.Struct("<d").pack


def varint(n: int) -> bytes:
    """``n`` (0 ≤ n < 2**64; an int64 below zero as its two's complement) as a varint.

    Example:
        >>> varint(300)
        b'\\xac\\x02'
    """
    if 0 <= n < 128:
        return _SMALL[n]
    n &= _UINT64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its one-byte ``tag`` (field number << 3 | 2), the length, the
    bytes. Example: ``field(b"\\x0a", b"ab") == b"\\x0a\\x02ab"``."""
    n = len(data)
    return tag + (_SMALL[n] if n < 128 else varint(n)) + data


def fixed64(tag: bytes, n: int) -> bytes:
    """A fixed64 field (times in nanoseconds)."""
    return tag + _fixed64(n & _UINT64)


def any_value(value: Any) -> bytes:
    """One attribute value as an ``AnyValue``'s bytes: str, bool, int (int64), float, and
    homogeneous lists of those as arrays; anything else (dicts, mixed or nested lists, ints
    beyond int64) as its JSON text. Raises ``ValueError`` for what cannot go at all (text that
    is not valid UTF-8, None).

    Example:
        >>> any_value(True), any_value("ok")
        (b'\\x10\\x01', b'\\n\\x02ok')
    """
    cls = value.__class__
    if cls is str:
        return field(b"\x0a", value.encode("utf-8"))  # UnicodeEncodeError is a ValueError
    if cls is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if cls is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return b"\x18" + varint(value)
        return field(b"\x0a", str(value).encode())
    if cls is float:
        return b"\x21" + _double(value)
    if value is None:
        raise ValueError("null value")
    if isinstance(value, list | tuple):
        kinds = {v.__class__ for v in value}
        homogeneous = len(kinds) <= 1 and kinds <= {str, bool, int, float}
        if homogeneous and (kinds != {int} or all(_INT64_MIN <= v <= _INT64_MAX for v in value)):
            return field(b"\x2a", b"".join(field(b"\x0a", any_value(v)) for v in value))
    text = json.dumps(value, ensure_ascii=False, default=str)
    return field(b"\x0a", text.encode("utf-8"))


def key_value(key: str, value: Any) -> bytes:
    """A ``KeyValue``'s bytes (without its own tag and length). Raises ``ValueError`` as
    :func:`any_value` does, or for a key that is not valid UTF-8.

    Example:
        >>> key_value("a", 1)
        b'\\n\\x01a\\x12\\x02\\x18\\x01'
    """
    return _key(key) + field(b"\x12", any_value(value))


@functools.lru_cache(maxsize=4096)
def _key(key: str) -> bytes:
    # attribute names repeat on every span: encoded once
    return field(b"\x0a", key.encode("utf-8"))


def repeated(tag: bytes, messages: Iterable[bytes]) -> bytes:
    """Each message as a length-delimited field of ``tag`` (a repeated message field)."""
    return b"".join([field(tag, m) for m in messages])


def span(
    *,
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    attributes: bytes,
    events: bytes = b"",
    status_code: int = 0,
    status_message: str = "",
) -> bytes:
    """A ``Span``'s bytes. ``attributes`` and ``events`` are already repeated fields (see
    :func:`repeated`: tag ``b"\\x4a"`` for attributes, :data:`SPAN_EVENT` for events); a
    default value (empty, zero) is left out, as protobuf does."""
    parts = [field(b"\x0a", trace_id), field(b"\x12", span_id)]
    if parent_span_id:
        parts.append(field(b"\x22", parent_span_id))
    if name:
        parts.append(field(b"\x2a", name.encode("utf-8")))
    if kind:
        parts.append(b"\x30" + varint(kind))
    if start_ns:
        parts.append(fixed64(b"\x39", start_ns))
    if end_ns:
        parts.append(fixed64(b"\x41", end_ns))
    parts.append(attributes)
    parts.append(events)
    if status_code or status_message:
        status = field(b"\x12", status_message.encode("utf-8")) if status_message else b""
        status += b"\x18" + varint(status_code) if status_code else b""
        parts.append(field(b"\x7a", status))
    return b"".join(parts)


#: Tags of repeated fields the encoder fills: ``Span.attributes``, ``Span.events``.
SPAN_ATTRIBUTE = b"\x4a"
SPAN_EVENT = b"\x5a"


def event(time_ns: int, name: str, attributes: bytes) -> bytes:
    """An ``Event``'s bytes; ``attributes`` already repeated fields of tag ``b"\\x1a"``."""
    head = fixed64(b"\x09", time_ns) if time_ns else b""
    return head + (field(b"\x12", name.encode("utf-8")) if name else b"") + attributes


#: Tag of ``Event.attributes`` (and of ``Resource.attributes``: ``b"\\x0a"``).
EVENT_ATTRIBUTE = b"\x1a"
RESOURCE_ATTRIBUTE = b"\x0a"


def resource_scope(
    resource_attributes: bytes, scope_name: str, scope_version: str, schema_url: str, items: bytes
) -> bytes:
    """One ``ResourceSpans`` (or ``ResourceLogs``: the same field numbers) with one
    ``ScopeSpans`` (``ScopeLogs``): ``resource_attributes`` as repeated fields of
    :data:`RESOURCE_ATTRIBUTE`, ``items`` as repeated fields of :data:`SCOPE_ITEM` (spans, log
    records). Wrap it with ``field(REQUEST_ITEM, ...)`` into the request."""
    scope = field(b"\x0a", scope_name.encode()) if scope_name else b""
    scope += field(b"\x12", scope_version.encode()) if scope_version else b""
    scoped = field(b"\x0a", scope) + items
    if schema_url:
        scoped += field(b"\x1a", schema_url.encode())
    head = field(b"\x0a", resource_attributes) if resource_attributes else b""
    return head + field(b"\x12", scoped)


#: Tag of ``ScopeSpans.spans`` / ``ScopeLogs.log_records``, and of the request's
#: ``resource_spans`` / ``resource_logs``.
SCOPE_ITEM = b"\x12"
REQUEST_ITEM = b"\x0a"


def log_record(
    *,
    time_ns: int,
    attributes: bytes,
    trace_id: bytes,
    span_id: bytes,
    event_name: str,
) -> bytes:
    """A ``LogRecord``'s bytes (an event: ``event_name``, no body); ``attributes`` already
    repeated fields of :data:`LOG_ATTRIBUTE`; ``time_ns`` is also the observed time."""
    parts = [fixed64(b"\x09", time_ns) if time_ns else b"", attributes]
    if trace_id:
        parts.append(field(b"\x4a", trace_id))
    if span_id:
        parts.append(field(b"\x52", span_id))
    if time_ns:
        parts.append(fixed64(b"\x59", time_ns))
    parts.append(field(b"\x62", event_name.encode("utf-8")))
    return b"".join(parts)


#: Tag of ``LogRecord.attributes``.
LOG_ATTRIBUTE = b"\x32"
