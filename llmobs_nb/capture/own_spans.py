"""The spans of our own traced code, made without the SDK's span object.

Every span of ``obs.observe``, ``obs.span``, instrumented clients and judges goes to one span
processor only (``tracing.BufferingProcessor``), which copies it into a small record when it
ends. The SDK's ``_Span`` costs about 9 µs to start and end even without attributes: a lock,
a ``BoundedAttributes`` (validation of every value, a lock per write), the sampler, a
``ReadableSpan`` copy for the processors, the multi-processor dispatch. An :class:`OwnSpan` is
the same span as far as anyone can tell — an ``opentelemetry.trace.Span`` with a valid, sampled
``SpanContext`` under its parent's trace, current in the context so other instrumentations'
spans nest under it, its processor's ``on_start`` and ``on_end`` called — with its attributes
in a plain dict whose values are checked by OpenTelemetry's own rule only when they are not
plain ``str``/``bool``/``int``/``float``.

The provider makes them only while it has no span processor but ours and its tracer is the
SDK's (see ``tracing.Capture.start_span``); otherwise our spans are the SDK's, as before.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, SpanLimits
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

log = logging.getLogger("llmobs_nb")

_PLAIN = frozenset({str, bool, int, float})
_UNSET = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
_time_ns = time.time_ns


class Preset(dict):  # type: ignore[type-arg]
    """Attributes validated once for every call of a decorated function (``presets.preset``).

    A span started from it alone keeps it (``OwnSpan.preset``) while none of its values is
    replaced, so the flush thread converts its part of the row once per function
    (``rows.to_columns``, kept in :attr:`row`). Never changed once made.

    A span's attributes start as a copy of :attr:`plain`, an exact dict of the same values: a
    copy of a dict subclass is tracked by the garbage collector whatever it holds, a copy of
    a dict of strings and numbers is not (see ``scope.finish_reasons``).

    Example:
        >>> import gc
        >>> preset = Preset({"app.route": "/ask"})
        >>> preset.plain == preset, gc.is_tracked(preset.plain.copy())
        (True, False)
    """

    __slots__ = ("__weakref__", "plain", "row")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plain = dict(self.items())  # item by item: tracked only if a value needs it
        self.row: Any = None  # what rows.to_columns made of it, once


def merge(target: dict[str, Any], attributes: Mapping[str, Any], keep_existing: bool) -> None:
    """Put ``attributes`` into ``target``; with ``keep_existing`` the values already there win
    (one rule for our spans and the SDK's, ``presets.add_valid``).

    Example:
        >>> mine = {"a": 1}
        >>> merge(mine, {"a": 2, "b": 3}, keep_existing=True); mine
        {'a': 1, 'b': 3}
    """
    if keep_existing and target:
        started_with = target.copy()
        target.update(attributes)
        target.update(started_with)
    else:
        target.update(attributes)


def cleaned(attributes: Mapping[str, Any], max_length: int | None = None) -> dict[str, Any]:
    """``attributes`` as OpenTelemetry stores them: plain values as they are, anything else
    through the SDK's own rule (sequences become tuples, invalid values dropped, warned).

    Example:
        >>> cleaned({"a": 1, "tags": ["x", "y"], "": 3})
        {'a': 1, 'tags': ('x', 'y')}
    """
    plain = _PLAIN
    for key, value in attributes.items():
        if value.__class__ not in plain or key.__class__ is not str or not key:
            break
    else:
        if max_length is None:
            return dict(attributes)
    return dict(BoundedAttributes(attributes=attributes, immutable=True, max_value_len=max_length))


class OwnSpan(trace.Span):
    """One recording span of our traced code; ended, it goes to ``processor.on_end``.

    Reads like the SDK's ``ReadableSpan`` for the processor (``name``, ``context``,
    ``parent``, ``attributes``, ``events``, ``status``, ``start_time``, ``end_time``,
    ``instrumentation_scope``) and writes like its span (attributes, events, status, name).

    Example:
        >>> from opentelemetry.sdk.trace import SpanProcessor
        >>> ended = []
        >>> class Keep(SpanProcessor):
        ...     def on_end(self, span): ended.append(span)
        >>> span = start_own_span(Keep(), "step", None, {"k": 1}, OwnSpanFactory())
        >>> span.set_attribute("tags", ["a", "b"]); span.end()
        >>> ended[0].attributes, ended[0].get_span_context().is_valid
        ({'k': 1, 'tags': ('a', 'b')}, True)
    """

    __slots__ = (
        "_limits",
        "_processor",
        "attributes",
        "context",
        "end_time",
        "events",
        "name",
        "parent",
        "preset",
        "start_time",
        "status",
    )

    instrumentation_scope = InstrumentationScope("llmobs_nb")
    kind = SpanKind.INTERNAL
    links = ()

    def __init__(
        self,
        processor: Any,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
        limits: SpanLimits,
    ) -> None:
        self._processor = processor
        self._limits = limits
        self.name = name
        self.context = context
        self.parent = parent
        self.attributes = attributes
        self.events: list[Event] | tuple[()] = ()
        self.status = _UNSET
        self.start_time = _time_ns()
        self.end_time: int | None = None
        # The Preset the span started from alone, while none of its values is replaced.
        self.preset: Preset | None = None

    # -- opentelemetry.trace.Span ------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        if self.end_time is not None:
            log.debug("attribute %r set on an ended span: ignored", key)
            return
        if value.__class__ not in _PLAIN or key.__class__ is not str or not key:
            self.set_attributes({key: value})
            return
        if self._limits.max_attribute_length is not None:
            self.set_attributes({key: value})
            return
        self._put(key, value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.end_time is not None:
            log.debug("attributes set on an ended span: ignored")
            return
        for key, value in cleaned(attributes, self._limits.max_attribute_length).items():
            self._put(key, value)

    def add_valid(self, attributes: dict[str, Any], keep_existing: bool) -> None:
        """Add values already valid (see ``presets.add_valid``); with ``keep_existing`` the
        span's own values win."""
        if self.end_time is not None:
            return
        mine = self.attributes
        preset = self.preset
        if preset is not None and not (keep_existing or preset.keys().isdisjoint(attributes)):
            self.preset = None  # one of its values replaced
        limit = self._limits.max_span_attributes
        if limit is not None and len(mine) + len(attributes) > limit:
            for key, value in attributes.items():
                if not (keep_existing and key in mine):
                    self._put(key, value)
            return
        merge(mine, attributes, keep_existing)

    def _put(self, key: str, value: Any) -> None:
        # The SDK's rule when full: the oldest attribute makes room for the new one.
        mine = self.attributes
        limit = self._limits.max_span_attributes
        if limit is not None and key not in mine and len(mine) >= limit:
            if limit == 0:
                return
            self.preset = None  # the oldest attribute goes: perhaps one of its
            del mine[next(iter(mine))]
        elif self.preset is not None and key in self.preset:
            self.preset = None  # one of its values replaced
        mine[key] = value

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None
    ) -> None:
        if self.end_time is not None:
            return
        limits = self._limits
        events = self.events
        if not isinstance(events, list):
            events = self.events = []
        if limits.max_events is not None and len(events) >= limits.max_events:
            return
        values = BoundedAttributes(
            limits.max_event_attributes,
            attributes,
            max_value_len=limits.max_attribute_length,
            immutable=True,
        )
        events.append(Event(name, values, timestamp))

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        log.debug("a link added to one of our spans is not kept")

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rule: OK is final, UNSET is never set.
        if self.end_time is not None or self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self.status = status
        elif isinstance(status, StatusCode) and status is not StatusCode.UNSET:
            self.status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An ``exception`` event with the exception's type only (a message or stack trace
        may hold prompt text or secrets; the span's status says what the caller chose)."""
        values: dict[str, Any] = {"exception.type": type(exception).__name__}
        if escaped:
            values["exception.escaped"] = "True"
        if attributes:
            values.update(attributes)
        self.add_event("exception", values, timestamp)

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = end_time if end_time is not None else _time_ns()
        self._processor.on_end(self)

    def __repr__(self) -> str:
        return f'OwnSpan(name="{self.name}", context={self.context})'


class OwnSpanFactory:
    """What a provider's own spans share: its id generator and span limits.

    Example:
        >>> OwnSpanFactory().limits.max_span_attributes
        128
    """

    def __init__(self, id_generator: Any = None, limits: SpanLimits | None = None) -> None:
        if id_generator is None:
            from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

            id_generator = RandomIdGenerator()
        self.id_generator = id_generator
        self.limits = limits if limits is not None else SpanLimits()
        #: the most attributes a span keeps (the SDK's limit; ``sys.maxsize`` when unlimited)
        self.max_attributes = (
            sys.maxsize
            if self.limits.max_span_attributes is None
            else self.limits.max_span_attributes
        )
        self.new_span_id = id_generator.generate_span_id
        self.new_trace_id = id_generator.generate_trace_id


def start_own_span(
    processor: Any,
    name: str,
    parent_context: Any,
    attributes: dict[str, Any],
    factory: OwnSpanFactory,
) -> OwnSpan:
    """Start an :class:`OwnSpan` under the span current in ``parent_context`` (or the current
    context), as the SDK with the ``ALWAYS_ON`` sampler would: the parent's trace and trace
    state, a new trace otherwise; sampled; ``attributes`` kept as they are (already valid:
    see :func:`cleaned`). Calls ``processor.on_start``.

    Example:
        >>> from opentelemetry.sdk.trace import SpanProcessor
        >>> root = start_own_span(SpanProcessor(), "root", None, {}, OwnSpanFactory())
        >>> child = start_own_span(SpanProcessor(), "child", trace.set_span_in_context(root),
        ...                        {}, OwnSpanFactory())
        >>> child.parent.span_id == root.context.span_id
        True
        >>> child.context.trace_id == root.context.trace_id
        True
    """
    parent = trace.get_current_span(parent_context).get_span_context()
    if parent is None or not parent.is_valid:
        parent = None
        flags = _SAMPLED_RANDOM if factory.id_generator.is_trace_id_random() else _SAMPLED
        context = SpanContext(factory.new_trace_id(), factory.new_span_id(), False, flags)
    else:
        flags = _SAMPLED_RANDOM if parent.trace_flags.random_trace_id else _SAMPLED
        context = SpanContext(
            parent.trace_id, factory.new_span_id(), False, flags, parent.trace_state
        )
    span = OwnSpan(processor, name, context, parent, attributes, factory.limits)
    processor.on_start(span, parent_context)
    return span
