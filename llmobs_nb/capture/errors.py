"""Counting what capture failed to do: an error inside capture never reaches the user's call,
but it is never silent either — it is counted by stage, logged once per kind, and exported.

Each :class:`~llmobs_nb.observer.Observer` owns one :class:`CaptureErrors` (``obs.capture_errors``)
that is also a Prometheus collector in the observer's registry, exported as
``llmobs_capture_errors_total{stage}``. Spans built without an observer count into
:data:`UNATTRIBUTED`. A failure outside a span (a write, a flush) is logged once per kind by
:func:`capture_failed`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily

from llmobs_nb.capture.redact import redact_text

log = logging.getLogger("llmobs_nb")
METRIC = "llmobs_capture_errors"
_reported: set[str] = set()

# The stages a failure can happen in, in the order a call goes through them.
STAGES = (
    "scope",  # building the span's scope (labels, attributes, observer resolution)
    "input",  # turning the call's arguments into text (content capture)
    "start",  # starting / attaching the span
    "response",  # reading the result: usage, model, ids, finish reason, text
    "usage",  # parsing a usage object
    "stream",  # reading stream chunks, wrapping a returned stream
    "exception",  # recording the call's exception on the span
    "end",  # detaching and ending the span, end-of-call hooks
    "attribute",  # span.set_attribute(...) and friends on a SpanHandle
)


class CaptureErrors:
    """Capture failures by stage; thread-safe; a Prometheus collector.

    Example:
        >>> errors = CaptureErrors()
        >>> errors.add("input"); errors.add("input"); errors.add("end")
        >>> errors.snapshot(), errors.total
        ({'end': 1, 'input': 2}, 3)
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, stage: str) -> None:
        """Count one failure in ``stage`` (one of :data:`STAGES`, or any short name)."""
        with self._lock:
            self._counts[stage] = self._counts.get(stage, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far, by stage, sorted by stage name (a copy)."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        """All failures counted so far."""
        with self._lock:
            return sum(self._counts.values())

    def collect(self) -> Iterator[Any]:
        """Prometheus collector protocol: ``llmobs_capture_errors_total{stage}``."""
        family = CounterMetricFamily(
            METRIC,
            "Errors inside capture (the user's call was unaffected), by stage.",
            labels=("stage",),
        )
        for stage, count in self.snapshot().items():
            family.add_metric((stage,), count)
        yield family

    def __repr__(self) -> str:
        return f"CaptureErrors({self.snapshot()})"


UNATTRIBUTED = CaptureErrors()


def capture_failed(what: str, exc: BaseException) -> None:
    """Observability never breaks the user's call: log a capture failure once per kind.

    The log holds the exception's class and its message with secrets masked, cut to 300
    characters (a conversion error may quote a value).

    Example:
        >>> capture_failed("write spans to the store", OSError("disk full"))  # logs once
        >>> capture_failed("write spans to the store", OSError("disk full"))  # silent
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
