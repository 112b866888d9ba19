"""Attributes that are the same on every call of a decorated function, validated once.

The OpenTelemetry SDK validates every attribute of every span it starts (about 1.5 µs each):
for ``@obs.observe(model=..., provider=..., **attributes)`` that is a dozen identical checks on
every call. :func:`preset` runs the SDK's own validation once, at decoration time, and
:func:`apply_preset` copies the validated values into each new span. When the span is not the
SDK's (a non-recording span), when attribute limits would truncate or drop values, or when a
future SDK stores attributes differently, it falls back to the public ``set_attributes``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.attributes import BoundedAttributes


def preset(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes exactly as the SDK would store them (e.g. sequences become tuples).

    Example:
        >>> preset({"app.route": "/ask", "app.tags": ["a", "b"]})
        {'app.route': '/ask', 'app.tags': ('a', 'b')}
    """
    return dict(BoundedAttributes(attributes=attributes, immutable=True))


def apply_preset(span: Any, attributes: dict[str, Any]) -> None:
    """Add validated ``attributes`` to a just-started span; attributes it already has win."""
    bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if (
        inner.__class__ is not dict
        or getattr(bounded, "max_value_len", 0) is not None
        or (bounded.maxlen is not None and len(inner) + len(attributes) > bounded.maxlen)
    ):
        span.set_attributes({k: v for k, v in attributes.items() if k not in (inner or ())})
        return
    if inner:
        started_with = inner.copy()
        inner.update(attributes)
        inner.update(started_with)
    else:
        inner.update(attributes)
