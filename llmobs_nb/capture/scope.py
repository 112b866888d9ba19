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
from llmobs_nb.capture.errors import UNATTRIBUTED, CaptureErrors, capture_failed
from llmobs_nb.capture.fields import field_view
from llmobs_nb.capture.presets import add_valid
from llmobs_nb.capture.redact import redact_text
from llmobs_nb.capture.response_usage import TOKEN_FIELDS, Usage, parse_usage, usage_from_response

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
_USAGE_ITEMS = tuple((name, _USAGE_ATTRIBUTES[name]) for name in TOKEN_FIELDS)

_WHAT = {
    "scope": "prepare a span",
    "input": "record a call's input",
    "start": "start a span",
    "response": "read a response",
    "usage": "read token usage",
    "stream": "trace a stream",
    "exception": "record an exception",
    "end": "end a span",
    "attribute": "set a span attribute",
}


_REASONS: dict[str, tuple[str]] = {}


def finish_reasons(reason: str) -> tuple[str]:
    """The ``gen_ai.response.finish_reasons`` value of one reason: the same tuple each time.

    A new tuple per call would make every buffered span's attributes a dict the garbage
    collector tracks (a dict of strings and numbers is not tracked; a tuple once seen by a
    collection is not either): between two flushes thousands of them would be promoted to
    the oldest generation and set off full collections of the whole heap.

    Example:
        >>> finish_reasons("stop") is finish_reasons("stop")
        True
    """
    found = _REASONS.get(reason)
    if found is None:
        found = (reason,)
        if len(_REASONS) < 1024:
            _REASONS[reason] = found
    return found


def capture_error(stage: str, exc: BaseException, errors: CaptureErrors | None = None) -> None:
    """Count a failure inside capture (in ``errors``, by ``stage``) and log it once per kind.

    Never raises: it runs inside ``except`` blocks that must hand the user's call back intact.

    Example:
        >>> errors = CaptureErrors()
        >>> capture_error("input", ValueError("bad repr"), errors)
        >>> errors.snapshot()
        {'input': 1}
    """
    try:
        (UNATTRIBUTED if errors is None else errors).add(stage)
        capture_failed(_WHAT.get(stage, stage), exc)
    except Exception:  # pragma: no cover - logging itself failed (a broken handler)
        pass


class SpanHandle:
    """The span inside ``with obs.span(...) as span``: add attributes, usage, content.

    Nothing here raises because of capture: a value that cannot be recorded is counted
    (``obs.capture_errors``) and logged once, and the block goes on.

    Example:
        >>> with obs.span("retrieval", kind="retrieval", top_k=5) as span:  # doctest: +SKIP
        ...     span.set_attributes({"retrieval.doc_count": 5})
    """

    __slots__ = ("_scope",)

    def __init__(self, scope: SpanScope) -> None:
        self._scope = scope

    @property
    def span_id(self) -> str:
        """This span's id, 16 hex digits, as stored in ``spans.span_id`` (all zeros when the
        span is not recorded, e.g. after ``obs.close()``)."""
        return format(self._scope.span.get_span_context().span_id, "016x")

    @property
    def trace_id(self) -> str:
        """The trace's id, 32 hex digits."""
        return format(self._scope.span.get_span_context().trace_id, "032x")

    @property
    def recording(self) -> bool:
        """Whether this span is recorded (False after ``obs.close()`` with no new observer)."""
        span = self._scope.span
        return span is not None and span is not trace.INVALID_SPAN

    @property
    def otel_span(self) -> trace.Span:
        """The underlying OpenTelemetry span."""
        return self._scope.span

    def set_attribute(self, key: str, value: Any) -> None:
        self._scope.set_attribute(key, value)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        try:
            items = list(attributes.items())
        except Exception as exc:
            self._scope.error("attribute", exc)
            return
        for key, value in items:
            self._scope.set_attribute(key, value)

    def set_usage(self, usage: Any) -> None:
        """Record token usage (an OpenAI/Anthropic usage object or a dict)."""
        try:
            self._scope.add_usage(parse_usage(usage))
        except Exception as exc:
            self._scope.error("usage", exc)

    def set_response(self, response: Any) -> None:
        """Record usage, response model, finish reason and (if captured) text of a response."""
        self._scope.read_response(response)

    def set_input(self, value: Any) -> None:
        """Record the prompt (only kept when the observer captures content)."""
        if self._scope.capture_content:
            self._scope.set_text(sc.LLMOBS_INPUT, value)

    def set_output(self, value: Any) -> None:
        """Record the answer (only kept when the observer captures content)."""
        if self._scope.capture_content:
            self._scope.set_text(sc.LLMOBS_OUTPUT, value)

    def mark_first_token(self) -> None:
        """Record time to first token now (for streams you consume yourself)."""
        self._scope.mark_first_chunk()


class SpanScope:
    """Start, make current, annotate and end one OpenTelemetry span.

    Every step that runs around a user's call is guarded: an error inside capture is counted in
    ``errors`` by stage and logged once (:func:`capture_error`), never raised into the call.
    A scope without ``capture`` (:meth:`disabled`) records nothing: what ``obs.span(...)``
    gives once its observer is closed.
    """

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
        "errors",
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
        capture: Capture | None,
        name: str,
        attributes: dict[str, Any],
        labels: dict[str, str],
        *,
        capture_content: bool,
        is_model_call: bool,
        parent_context: otel_context.Context | None = None,
        keep_output: bool = False,
        preset: dict[str, Any] | None = None,
        errors: CaptureErrors | None = None,
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
        self.errors = errors
        self.span: Any = None
        self.start_ns = 0
        self._tokens: tuple[Token[Any], Token[Any] | None] | None = None
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

    @classmethod
    def disabled(cls, name: str, errors: CaptureErrors | None = None) -> SpanScope:
        """A scope that records nothing (its span is OpenTelemetry's invalid span).

        Example:
            >>> with SpanScope.disabled("retrieval") as span:
            ...     span.set_attribute("k", 1)
            >>> span.span_id, span.recording
            ('0000000000000000', False)
        """
        scope = cls(None, name, {}, {}, capture_content=False, is_model_call=False, errors=errors)
        scope.span = trace.INVALID_SPAN
        scope._ended = True
        return scope

    def error(self, stage: str, exc: BaseException) -> None:
        """Count and log a capture failure of this span (never raises)."""
        capture_error(stage, exc, self.errors)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SpanScope:
        attrs = self.attributes
        for label, value in self.labels.items():
            attrs[lb.LABEL_ATTRIBUTES[label]] = value
        self.span = self.capture.start_span(  # type: ignore[union-attr]
            self.name, self.parent_context, attrs, self.preset
        )
        self.start_ns = time.perf_counter_ns()
        if self.is_model_call:  # known here; the processor need not inspect attributes
            self.capture.processor.opened_model_call(  # type: ignore[union-attr]
                self.span.get_span_context().span_id
            )
        return self

    def start_safely(self) -> bool:
        """Start the span; False (counted, logged) when it could not: run the call untraced."""
        try:
            self.start()
            return True
        except Exception as exc:
            self.error("start", exc)
            self._give_up()
            return False

    def open(self) -> bool:
        """Start the span and make it current; False when capture failed (call untraced)."""
        try:
            self.start()
            self.attach()
            return True
        except Exception as exc:
            self.error("start", exc)
            self.detach()
            self._give_up()
            return False

    def _give_up(self) -> None:
        # A span that could not be fully set up is ended as is (if it started) and forgotten.
        span = self.span
        self.span = trace.INVALID_SPAN
        self._ended = True
        if span is not None and span is not trace.INVALID_SPAN:
            try:
                span.end()
            except Exception as exc:
                self.error("end", exc)

    def attach(self) -> None:
        ctx = trace.set_span_in_context(self.span, self.parent_context)
        otel_token = otel_context.attach(ctx)
        labels = self.labels
        labels_token = None
        try:
            if labels is not lb.current_labels.get():  # the labels in force: nothing to set
                labels_token = lb.current_labels.set(labels)
        except BaseException:
            otel_context.detach(otel_token)
            raise
        self._tokens = (otel_token, labels_token)

    def attach_safely(self) -> None:
        """:meth:`attach`, counting (never raising) a failure."""
        try:
            self.attach()
        except Exception as exc:
            self.error("start", exc)

    def detach(self) -> None:
        """Undo :meth:`attach`; never raises."""
        if self._tokens is not None:
            otel_token, labels_token = self._tokens
            self._tokens = None
            try:
                if labels_token is not None:
                    lb.current_labels.reset(labels_token)
                otel_context.detach(otel_token)
            except Exception as exc:
                self.error("end", exc)

    def __enter__(self) -> SpanHandle:
        if not self._ended:
            self.open()
        return SpanHandle(self)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self.detach()
        if exc is not None and not self._ended:
            self.fail(exc)
        if not self._handed_off:
            self.end()
        return False

    def hand_off(self) -> None:
        """A stream now owns the span: leaving the ``with`` block must not end it."""
        self._handed_off = True

    def close_failed(self, exc: BaseException) -> None:
        """The call raised ``exc``: detach, record it, end the span (never raises)."""
        self.detach()
        self.fail(exc)
        self.end()

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
            self.error("exception", inner)

    def end(self, abandoned: bool = False) -> None:
        """Write what the call learnt and end the span, once; never raises."""
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
            self.error("end", exc)
        try:
            self.span.end()
        except Exception as exc:
            self.error("end", exc)
        if self.on_end is not None:
            try:
                self.on_end(self)
            except Exception as exc:
                self.error("end", exc)

    # -- annotations -------------------------------------------------------------------------
    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; a value that is not an OpenTelemetry value is stored as text."""
        if value is None:
            return
        try:
            if not isinstance(value, str | bool | int | float | list | tuple):
                value = ct.to_text(value)
            self.span.set_attribute(key, value)
        except Exception as exc:
            self.error("attribute", exc)

    def set_text(self, key: str, value: Any) -> None:
        """Set a content attribute (input or output) as redacted, bounded text."""
        try:
            self.span.set_attribute(key, ct.to_text(value))
        except Exception as exc:
            self.error("attribute", exc)

    def add_usage(self, usage: Usage) -> None:
        if usage.is_empty() and not usage.problems:
            return
        self._usage = usage if self._usage is None else self._usage.merge(usage)

    def _write_usage(self, usage: Usage, into: dict[str, Any]) -> None:
        for field_name, key in _USAGE_ITEMS:
            value = getattr(usage, field_name)
            if value is not None:
                into[key] = value  # ints checked by parse_usage: valid values
        if usage.problems:
            into[sc.LLMOBS_USAGE_ERROR] = "; ".join(usage.problems)[:1000]
            log.warning(  # both may hold what the caller passed: a name, a token count
                "usage of span %r: %s",
                redact_text(self.name),
                redact_text("; ".join(usage.problems)),
            )

    def read_response(self, response: Any) -> None:
        """Usage, response model, ids, finish reason and text of a complete response.

        Each part is read on its own: a field that cannot be read costs that field only.
        """
        try:
            fields = field_view(response)  # an SDK's pydantic response read as a dict
        except Exception as exc:
            self.error("response", exc)
            fields = response
        try:
            self.add_usage(usage_from_response(fields))
        except Exception as exc:
            self.error("usage", exc)
        found = self._found
        try:
            model = ct.response_model(fields)
            if model:
                found[sc.GEN_AI_RESPONSE_MODEL] = model
            reason = ct.finish_reason(fields)
            if reason:
                found[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons(reason)
            rid = ct.response_id(fields)
            if rid:
                found[sc.GEN_AI_RESPONSE_ID] = rid
            req = ct.request_id(response)
            if req:
                found[sc.LLMOBS_REQUEST_ID] = req
        except Exception as exc:
            self.error("response", exc)
        if self.capture_content or self.keep_output:
            try:
                text = ct.response_text(response)
                if text is None and not self.is_model_call and response is not None:
                    text = ct.to_text(response)  # a tool's or a stage's result, as JSON text
                if text is not None:
                    self.output_text = text
                    if self.capture_content:
                        found[sc.LLMOBS_OUTPUT] = ct.to_text(text)
            except Exception as exc:
                self.error("response", exc)

    def mark_first_chunk(self) -> None:
        if not self._first_chunk_seen:
            self._first_chunk_seen = True
            try:
                ttft = (time.perf_counter_ns() - self.start_ns) / 1e9
                self.span.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttft)
            except Exception as exc:
                self.error("stream", exc)

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
                self._found[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons(reason)
        except Exception as exc:
            self.error("stream", exc)
