"""One span's life: start, attach as current, read results and stream chunks, end.

:class:`SpanScope` is the single core behind ``obs.span(...)`` (used directly as a context
manager) and ``obs.observe(...)`` (whose sync, async, generator and async-generator shells in
``decorators.py`` are a few lines each around it), in the manner of prometheus_client's Timer.
"""

from __future__ import annotations

import logging
import time
from contextvars import Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from llmobs_nb.capture import content as ct
from llmobs_nb.capture import labels as lb
from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.error_text import error_description, exception_attributes, http_status
from llmobs_nb.capture.fields import field_view
from llmobs_nb.capture.presets import add_valid
from llmobs_nb.capture.redact import redact_text
from llmobs_nb.capture.usage import TOKEN_FIELDS, Usage, parse_usage, usage_from_response

if TYPE_CHECKING:
    from llmobs_nb.capture.tracing import Capture

log = logging.getLogger("llmobs_nb")

_USAGE_ATTRIBUTES = {
    "input_tokens": sc.GEN_AI_USAGE_INPUT_TOKENS,
    "output_tokens": sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    "cached_input_tokens": sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    "cache_write_tokens": sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "reasoning_tokens": sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
}
_reported: set[str] = set()


def capture_failed(what: str, exc: BaseException) -> None:
    """Observability never breaks the user's call: log a capture failure once per kind.

    The log holds the exception's class and its message with secrets masked, cut to 300
    characters (a conversion error may quote a value).
    """
    key = f"{what}:{type(exc).__name__}"
    if key not in _reported:
        _reported.add(key)
        try:
            message = redact_text(str(exc)[:300])
        except Exception:
            message = "<no message>"
        log.warning(
            "llmobs_nb could not %s (%s: %s); the call itself is unaffected",
            what,
            type(exc).__name__,
            message,
        )


class SpanHandle:
    """The span inside ``with obs.span(...) as span``: add attributes, usage, content.

    Example:
        >>> with obs.span("retrieval", kind="retrieval", top_k=5) as span:  # doctest: +SKIP
        ...     span.set_attributes({"retrieval.doc_count": 5})
    """

    __slots__ = ("_scope",)

    def __init__(self, scope: SpanScope) -> None:
        self._scope = scope

    @property
    def span_id(self) -> str:
        """This span's id, 16 hex digits, as stored in ``spans.span_id``."""
        return format(self._scope.span.get_span_context().span_id, "016x")

    @property
    def trace_id(self) -> str:
        """The trace's id, 32 hex digits."""
        return format(self._scope.span.get_span_context().trace_id, "032x")

    @property
    def otel_span(self) -> trace.Span:
        """The underlying OpenTelemetry span."""
        return self._scope.span

    def set_attribute(self, key: str, value: Any) -> None:
        self._scope.set_attribute(key, value)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        for key, value in attributes.items():
            self._scope.set_attribute(key, value)

    def set_usage(self, usage: Any) -> None:
        """Record token usage (an OpenAI/Anthropic usage object or a dict)."""
        self._scope.add_usage(parse_usage(usage))

    def set_response(self, response: Any) -> None:
        """Record usage, response model, finish reason and (if captured) text of a response."""
        self._scope.read_response(response)

    def set_input(self, value: Any) -> None:
        """Record the prompt (only kept when the observer captures content)."""
        if self._scope.capture_content:
            self._scope.set_attribute(sc.LLMOBS_INPUT, ct.to_text(value))

    def set_output(self, value: Any) -> None:
        """Record the answer (only kept when the observer captures content)."""
        if self._scope.capture_content:
            self._scope.set_attribute(sc.LLMOBS_OUTPUT, ct.to_text(value))

    def mark_first_token(self) -> None:
        """Record time to first token now (for streams you consume yourself)."""
        self._scope.mark_first_chunk()


class SpanScope:
    """Start, make current, annotate and end one OpenTelemetry span."""

    __slots__ = (
        "_ended",
        "_first_chunk_seen",
        "_found",
        "_handed_off",
        "_text",
        "_tokens",
        "_usage",
        "attributes",
        "capture",
        "capture_content",
        "input_value",
        "is_model_call",
        "keep_output",
        "labels",
        "name",
        "on_end",
        "output_text",
        "parent_context",
        "preset",
        "span",
        "start_ns",
    )

    def __init__(
        self,
        capture: Capture,
        name: str,
        attributes: dict[str, Any],
        labels: dict[str, str],
        *,
        capture_content: bool,
        is_model_call: bool,
        parent_context: otel_context.Context | None = None,
        keep_output: bool = False,
        preset: dict[str, Any] | None = None,
    ) -> None:
        self.capture = capture
        # Attributes validated once for every call of a decorated function (presets.py).
        self.preset = preset
        self.name = name
        self.attributes = attributes
        self.labels = labels
        self.capture_content = capture_content
        self.is_model_call = is_model_call
        self.parent_context = parent_context
        self.span: Any = None
        self.start_ns = 0
        self._tokens: tuple[Token[Any], Token[Any]] | None = None
        self._usage: Usage | None = None
        # Online evaluators need the answer in memory even when content is not stored.
        self.keep_output = keep_output
        self.output_text: str | None = None
        self._found: dict[str, Any] = {}  # attributes learnt from the result, set at the end
        self.input_value: Any = None
        self._text: list[str] | None = [] if capture_content or keep_output else None
        self._first_chunk_seen = False
        self._handed_off = False
        self._ended = False
        self.on_end: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SpanScope:
        attrs = self.attributes
        for label, value in self.labels.items():
            attrs[lb.LABEL_ATTRIBUTES[label]] = value
        self.span = self.capture.tracer.start_span(
            self.name, context=self.parent_context, attributes=attrs
        )
        if self.preset:
            add_valid(self.span, self.preset, keep_existing=True)
        self.start_ns = time.perf_counter_ns()
        if self.is_model_call:  # known here; the processor need not inspect attributes
            self.capture.processor.opened_model_call(self.span.get_span_context().span_id)
        return self

    def attach(self) -> None:
        ctx = trace.set_span_in_context(self.span, self.parent_context)
        self._tokens = (otel_context.attach(ctx), lb.current_labels.set(self.labels))

    def detach(self) -> None:
        if self._tokens is not None:
            otel_token, labels_token = self._tokens
            self._tokens = None
            lb.current_labels.reset(labels_token)
            otel_context.detach(otel_token)

    def __enter__(self) -> SpanHandle:
        self.start()
        self.attach()
        return SpanHandle(self)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self.detach()
        if exc is not None:
            self.fail(exc)
        if not self._handed_off:
            self.end()
        return False

    def hand_off(self) -> None:
        """A stream now owns the span: leaving the ``with`` block must not end it."""
        self._handed_off = True

    def fail(self, exc: BaseException) -> None:
        """Record the exception: with content off, no message text (see ``error_text``)."""
        try:
            content = self.capture_content
            self.span.set_attribute(sc.ERROR_TYPE, type(exc).__name__)
            status_code = http_status(exc)
            if status_code is not None:
                self.span.set_attribute("http.response.status_code", status_code)
            self.span.add_event("exception", exception_attributes(exc, content))
            self.span.set_status(Status(StatusCode.ERROR, error_description(exc, content)))
        except Exception as inner:
            capture_failed("record an exception", inner)

    def end(self, abandoned: bool = False) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            final = self._found
            if abandoned:
                final[sc.LLMOBS_STREAM_ABANDONED] = True
            if self._usage is not None:
                self._write_usage(self._usage, final)
            elif self.is_model_call:
                final[sc.LLMOBS_USAGE_MISSING] = True
            if self._text:
                self.output_text = "".join(self._text)
                if self.capture_content:
                    final[sc.LLMOBS_OUTPUT] = ct.to_text(self.output_text)
            if final:  # values built here, valid by construction: no second validation
                add_valid(self.span, final, keep_existing=False)
        except Exception as exc:
            capture_failed("record usage", exc)
        self.span.end()
        if self.on_end is not None:
            try:
                self.on_end(self)
            except Exception as exc:
                capture_failed("run an end-of-call hook", exc)

    # -- annotations -------------------------------------------------------------------------
    def set_attribute(self, key: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str | bool | int | float | list | tuple):
            value = ct.to_text(value)
        self.span.set_attribute(key, value)

    def add_usage(self, usage: Usage) -> None:
        if usage.is_empty() and not usage.problems:
            return
        self._usage = usage if self._usage is None else self._usage.merge(usage)

    def _write_usage(self, usage: Usage, into: dict[str, Any]) -> None:
        for field_name in TOKEN_FIELDS:
            value = getattr(usage, field_name)
            if value is not None:
                into[_USAGE_ATTRIBUTES[field_name]] = value
        if usage.problems:
            into[sc.LLMOBS_USAGE_ERROR] = "; ".join(usage.problems)[:1000]
            log.warning(  # both may hold what the caller passed: a name, a token count
                "usage of span %r: %s",
                redact_text(self.name),
                redact_text("; ".join(usage.problems)),
            )

    def read_response(self, response: Any) -> None:
        """Usage, response model, ids, finish reason and text of a complete response."""
        try:
            fields = field_view(response)  # an SDK's pydantic response read as a dict
            self.add_usage(usage_from_response(fields))
            found = self._found
            model = ct.response_model(fields)
            if model:
                found[sc.GEN_AI_RESPONSE_MODEL] = model
            reason = ct.finish_reason(fields)
            if reason:
                found[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
            rid = ct.response_id(fields)
            if rid:
                found[sc.GEN_AI_RESPONSE_ID] = rid
            req = ct.request_id(response)
            if req:
                found[sc.LLMOBS_REQUEST_ID] = req
            if self.capture_content or self.keep_output:
                text = ct.response_text(response)
                if text is not None:
                    self.output_text = text
                    if self.capture_content:
                        found[sc.LLMOBS_OUTPUT] = ct.to_text(text)
        except Exception as exc:
            capture_failed("read a response", exc)

    def mark_first_chunk(self) -> None:
        if not self._first_chunk_seen:
            self._first_chunk_seen = True
            ttft = (time.perf_counter_ns() - self.start_ns) / 1e9
            self.span.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttft)

    def on_chunk(self, chunk: Any) -> None:
        """Called for every chunk a stream yields: TTFT, usage, model, text."""
        try:
            usage = usage_from_response(chunk)
            text = ct.chunk_text(chunk)
            if not self._first_chunk_seen and (text or (text is None and usage.is_empty())):
                self.mark_first_chunk()
            if not usage.is_empty() or usage.problems:
                self.add_usage(usage)
            if text and self._text is not None:
                self._text.append(text)
            # Kept until the end (the last one wins), not set on the span chunk by chunk.
            model = ct.response_model(chunk)
            if model:
                self._found[sc.GEN_AI_RESPONSE_MODEL] = model
            reason = ct.finish_reason(chunk)
            if reason:
                self._found[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
        except Exception as exc:
            capture_failed("read a stream chunk", exc)
