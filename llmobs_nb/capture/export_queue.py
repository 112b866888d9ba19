"""Spans to an exporter (OTLP) without ever holding up the traced code, a read or ``close()``.

:class:`ExportProcessor` replaces the SDK's ``BatchSpanProcessor`` for the exporters
``Capture.export_otlp`` adds:

* a bounded queue (:class:`~llmobs_nb.capture.batcher.Batcher`): past ``max_queue`` waiting
  spans a span is dropped and counted, never blocks the caller;
* encoding and sending happen on the export thread only;
* the store's flush (every read) never waits on it: ``Capture.flush`` flushes the store's
  processor only; :meth:`force_flush` and :meth:`shutdown` wait at most ``close_timeout_s``
  (the SDK's ``BatchSpanProcessor.force_flush`` ignores its timeout while an export hangs);
* nothing is lost silently: spans dropped on a full queue, refused by the exporter or still
  unsent at close are counted (:attr:`stats`) and one warning per ``warn_every_s`` gives
  the totals.

Example:
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    ...     InMemorySpanExporter)
    >>> processor = ExportProcessor(InMemorySpanExporter(), name="demo")
    >>> processor.shutdown(); processor.stats["sent"]
    0
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from llmobs_nb.capture.batcher import Batcher

log = logging.getLogger("llmobs_nb")

#: What is counted, by name.
STATS = ("sent", "dropped_queue_full", "failed", "unsent_at_close")


class ExportProcessor(SpanProcessor):
    """Hands finished spans to ``exporter`` from one daemon thread, in batches of
    ``batch_size`` every ``interval_s`` (sooner when a batch waits). See the module doc."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        name: str = "llmobs-export",
        max_queue: int = 8192,
        batch_size: int = 512,
        interval_s: float = 2.0,
        close_timeout_s: float = 1.0,
        warn_every_s: float = 60.0,
    ) -> None:
        self.exporter = exporter
        self.batch_size = batch_size
        self.close_timeout_s = close_timeout_s
        self.warn_every_s = warn_every_s
        self.stats = dict.fromkeys(STATS, 0)
        self._lock = threading.Lock()
        self._warned_at = 0.0
        self._reported = dict(self.stats)
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._in_flight = 0  # spans inside the exporter's current call
        self._abandoned = False  # close gave up on that call: its spans are counted unsent
        self._batcher: Batcher[ReadableSpan] = Batcher(
            self._handle,
            name=name,
            interval_s=interval_s,
            wake_at=batch_size,
            maxsize=max_queue,
        )

    # -- the traced thread: never waits -------------------------------------------------------
    def on_start(self, span: Span, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self._closed:
            self._count("unsent_at_close", 1)
        elif not self._batcher.put(span):
            self._count("dropped_queue_full", 1)

    # -- the export thread --------------------------------------------------------------------
    def _handle(self, final: bool) -> None:
        while self._batcher.items:
            self._idle.clear()
            batch = self._batcher.take(self.batch_size)
            with self._lock:
                self._in_flight = len(batch)
            try:
                result = self.exporter.export(batch)
            except Exception as exc:  # an exporter bug must not end the thread
                log.debug("span export raised %s", exc)
                result = SpanExportResult.FAILURE
            with self._lock:
                self._in_flight = 0
                if self._abandoned:
                    return  # counted as unsent at close already
            self._count("sent" if result == SpanExportResult.SUCCESS else "failed", len(batch))
        self._idle.set()
        self._maybe_warn(final)

    def _count(self, what: str, n: int) -> None:
        with self._lock:
            self.stats[what] += n

    def _maybe_warn(self, final: bool) -> None:
        now = time.monotonic()
        if not final and now - self._warned_at < self.warn_every_s:
            return
        with self._lock:
            lost = {k: self.stats[k] - self._reported[k] for k in STATS if k != "sent"}
            if not any(lost.values()):
                return
            self._reported = dict(self.stats)
            totals = dict(self.stats)
        self._warned_at = now
        log.warning(
            "span export: %s since the last report (totals: %s)",
            ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in lost.items() if n),
            ", ".join(f"{k} {n}" for k, n in totals.items()),
        )

    # -- flush and close: bounded ---------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Send what waits now; wait at most ``close_timeout_s`` (or ``timeout_millis``)."""
        deadline = time.monotonic() + min(timeout_millis / 1000, self.close_timeout_s)
        self._batcher.wake()
        while self._batcher.items or not self._idle.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._idle.is_set():  # woken, not yet taken them: a short sleep, not a spin
                time.sleep(min(left, 0.002))
            else:
                self._idle.wait(min(left, 0.05))
        return True

    def shutdown(self) -> None:
        """Send what waits, for at most ``close_timeout_s``; what is left is counted as
        ``unsent_at_close`` and reported. The exporter is shut down off this thread."""
        if self._closed:
            return
        self.force_flush()
        self._closed = True
        self._batcher.close(timeout=0.05)
        left = len(self._batcher.take())
        with self._lock:
            left += self._in_flight  # a request still hanging: its outcome is unknown
            self._abandoned = True
            self.stats["unsent_at_close"] += left
        self._maybe_warn(final=True)
        threading.Thread(target=self._shutdown_exporter, daemon=True).start()

    def _shutdown_exporter(self) -> None:
        try:
            self.exporter.shutdown()
        except Exception as exc:
            log.debug("exporter shutdown raised %s", exc)
