"""Where spans from elsewhere (the OTLP receiver, ``llmobs_nb.ingest``) enter the processor.

They take the path of this process's own spans (``on_end``: row conversion, redaction,
third-party rules), with one difference: with content capture off, a received span is never
trusted as "ours". Another llmobs_nb process may have captured prompts (``llmobs.input``,
``llmobs.output``) and error messages; this store's promise (no content) holds for them too.

Example:
    >>> from opentelemetry.sdk.trace import ReadableSpan
    >>> span = ReadableSpan("call", attributes={"llmobs.kind": "llm", "llmobs.input": "hi"})
    >>> dict(without_content(span).attributes)
    {'llmobs.kind': 'llm'}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Status, StatusCode

from llmobs_nb.capture.content_policy import drop_content, third_party_error
from llmobs_nb.capture.evaluations import ScoreWriter
from llmobs_nb.capture.rows import span_error_type


def without_content(span: ReadableSpan) -> ReadableSpan:
    """``span`` without prompt or answer attributes (ours and third parties') and, if it
    failed, with its error message reduced to the error type (and HTTP status)."""
    attrs = dict(span.attributes or {})
    kept = drop_content(attrs, ours=False)
    status = span.status
    if status.status_code is StatusCode.ERROR and status.description:
        # The error type the row keeps (error.type, else the exception event's class).
        status = Status(StatusCode.ERROR, third_party_error(span_error_type(span, attrs), attrs))
    elif kept is attrs:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=dict(kept),
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def sink_for(processor: Any, scores: ScoreWriter | None = None) -> Callable[[ReadableSpan], None]:
    """What received spans are handed to: ``processor.on_end`` (looked up per span, as it
    changes at shutdown), after :func:`without_content` when content capture is off. With
    ``scores``, the span's ``gen_ai.evaluation.result`` events are written as scores first.

    Example:
        >>> class Processor:
        ...     capture_content = staticmethod(lambda: False)
        ...     on_end = staticmethod(lambda span: print(dict(span.attributes)))
        >>> sink_for(Processor())(ReadableSpan("x", attributes={"input.value": "hi", "n": 1}))
        {'n': 1}
    """

    def on_span(span: ReadableSpan) -> None:
        if scores is not None and span.events:
            scores.add_span(span)
        if not processor.capture_content():
            span = without_content(span)
        processor.on_end(span)

    return on_span
