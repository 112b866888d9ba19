"""A SpanExporter wrapper: spans leave the process with secrets masked and, with content
capture off, without prompt or answer text.

Every exporter ``Capture.export_otlp`` adds is wrapped. Each span is copied before encoding:
its name, attribute values (the whole value when the key names a secret), status
description, event names and attributes (``exception.message``, ``exception.stacktrace``),
link attributes and resource attributes are redacted. With content off, third-party content
attributes and content events are dropped, and a third-party span's free-text error (status
description, ``exception.message``, ``exception.stacktrace``) is replaced by its error type;
our own spans already carry no message text then (see ``error_text``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from llmobs_nb.capture.content_policy import (
    CONTENT_EVENT_PREFIXES,
    drop_content,
    third_party_error,
)
from llmobs_nb.capture.redact import redact_attributes, redact_optional, redact_text

OURS = "llmobs_nb"
_FREE_TEXT_EVENT_KEYS = ("exception.message", "exception.stacktrace")


def _attributes(attrs: Any, content: bool, ours: bool) -> dict[str, Any]:
    attrs = attrs or {}
    return redact_attributes(attrs if content else drop_content(attrs, ours))


class RedactingExporter(SpanExporter):
    """Wraps ``exporter``; ``capture_content`` tells (at export time) whether content is kept.

    Example:
        >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        ...     InMemorySpanExporter)
        >>> exporter = RedactingExporter(InMemorySpanExporter(), capture_content=lambda: False)
    """

    def __init__(self, exporter: SpanExporter, capture_content: Callable[[], bool]) -> None:
        self.exporter = exporter
        self._content = capture_content
        self._resources: dict[int, tuple[Resource, Resource]] = {}

    def _resource(self, resource: Resource | None) -> Resource | None:
        if resource is None:
            return None
        found = self._resources.get(id(resource))
        if found is None or found[0] is not resource:
            clean = Resource(_attributes(resource.attributes, True, True), resource.schema_url)
            found = self._resources[id(resource)] = (resource, clean)
        return found[1]

    def redact_span(self, span: ReadableSpan) -> ReadableSpan:
        """A copy of ``span`` that may leave the process."""
        content = bool(self._content())
        scope = span.instrumentation_scope
        ours = scope is not None and scope.name == OURS
        attrs = span.attributes or {}
        status = span.status
        description = status.description
        error_type = None
        events = []
        for event in span.events:
            if not content and not ours and event.name.startswith(CONTENT_EVENT_PREFIXES):
                continue
            event_attrs = _attributes(event.attributes, content, ours)
            if event.name == "exception":
                error_type = event_attrs.get("exception.type")
                if not content and not ours:
                    for key in _FREE_TEXT_EVENT_KEYS:
                        event_attrs.pop(key, None)
            events.append(Event(redact_text(event.name), event_attrs, event.timestamp))
        if description is not None and not content and not ours:
            kind = attrs.get("error.type") or error_type
            description = third_party_error(kind if isinstance(kind, str) else None, attrs)
        links = [
            Link(link.context, _attributes(link.attributes, content, ours)) for link in span.links
        ]
        return ReadableSpan(
            name=redact_text(span.name),
            context=span.context,
            parent=span.parent,
            resource=self._resource(span.resource),
            attributes=_attributes(attrs, content, ours),
            events=events,
            links=links,
            kind=span.kind,
            status=Status(status.status_code, redact_optional(description)),
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([self.redact_span(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)
