"""Attributes that are the same on every call of a decorated function, validated once.

The OpenTelemetry SDK validates every attribute of every span it starts (about 1.5 µs each):
for ``@obs.observe(model=..., provider=..., **attributes)`` that is a dozen identical checks on
every call. :func:`preset` runs the SDK's own validation once, at decoration time, and
:func:`add_valid` copies the validated values into each new span. The attributes a call learns
at its end (token counts, response model and id, finish reason) are built by us with valid
types, so they take the same path. When the span is not the SDK's (a non-recording span), when
attribute limits would truncate or drop values, or when a future SDK stores attributes
differently, it falls back to the public ``set_attributes``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.attributes import BoundedAttributes

from llmobs_nb.capture.own_spans import OwnSpan, Preset, merge


def preset(attributes: dict[str, Any]) -> Preset:
    """The attributes exactly as the SDK would store them (e.g. sequences become tuples).

    Example:
        >>> preset({"app.route": "/ask", "app.tags": ["a", "b"]})
        {'app.route': '/ask', 'app.tags': ('a', 'b')}
    """
    return Preset(BoundedAttributes(attributes=attributes, immutable=True))


def add_valid(span: Any, attributes: dict[str, Any], *, keep_existing: bool) -> None:
    """Add attributes whose values are already valid OpenTelemetry values to a live span.

    With ``keep_existing`` the span's own attributes win (a preset under per-call values);
    without, the new values replace them (what a call learnt at its end).

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> span = TracerProvider().get_tracer("t").start_span("s", attributes={"a": 1})
        >>> add_valid(span, preset({"a": 0, "b": [1, 2]}), keep_existing=True)
        >>> dict(span.attributes)
        {'a': 1, 'b': (1, 2)}
    """
    if span.__class__ is OwnSpan:
        span.add_valid(attributes, keep_existing)
        return
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    lock = getattr(bounded, "_lock", None)
    if (
        inner.__class__ is not dict
        or lock is None
        or getattr(bounded, "max_value_len", 0) is not None
        or (bounded.maxlen is not None and len(inner) + len(attributes) > bounded.maxlen)
    ):
        if keep_existing and inner:
            attributes = {k: v for k, v in attributes.items() if k not in inner}
        span.set_attributes(attributes)
        return
    with lock:
        merge(inner, attributes, keep_existing)
