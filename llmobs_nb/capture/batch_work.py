"""The flush thread's work on each batch of span rows for one observer, beside the write.

``write`` is the capture's sink: the spans, then the price records they need
(:mod:`~llmobs_nb.capture.price_records`). ``on_batch`` sees every converted batch (and the rows
forked children left in the sidecar): it fills the score-label cache
(:mod:`~llmobs_nb.capture.span_labels`), notes new price versions, feeds the live metrics and
logs one record per call (:mod:`~llmobs_nb.capture.call_log`). In a forked child only the log
is kept (polars is not fork-safe; the parent serves the metrics and takes the rows in).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import polars as pl
import pyarrow as pa

from llmobs_nb.capture.call_log import log_calls, model_calls
from llmobs_nb.capture.price_records import PriceRecords
from llmobs_nb.capture.span_labels import SpanLabels
from llmobs_nb.capture.tracing import Capture
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store.sidecar import Sidecar


class BatchWork:
    """Writes batches into ``store`` and keeps what reads, scores and metrics need of them.

    ``metrics`` is an ``ObserverMetrics`` (``record_batch``, ``record_dropped``,
    ``watch_pending``), or None.

    Example:
        >>> from llmobs_nb.store import Store
        >>> work = BatchWork(Store(), PriceBook())
        >>> work.on_batch(pa.table({"kind": ["chain"], "model": [None]}))  # no model call
    """

    def __init__(self, store: Any, prices: PriceBook, metrics: Any = None) -> None:
        self.store = store
        self.metrics = metrics
        self.labels = SpanLabels()
        self.price_records = PriceRecords(prices)
        self.sidecar = Sidecar.for_store(store.path)

    def start_capture(
        self,
        project: str,
        capture_content: Callable[[], bool],
        interval_s: float,
        max_pending_rows: int,
    ) -> Capture:
        """The :class:`Capture` (tracer provider and flush thread) whose batches this writes.

        Rows the store cannot take wait in memory, then in :attr:`sidecar`; drops are counted
        in the metrics, and the pending rows exported as a gauge.
        """
        metrics = self.metrics
        capture = Capture(
            self.write,
            project,
            self.price_records.prices,
            on_batch=self.on_batch,
            interval_s=interval_s,
            sidecar=self.sidecar,
            capture_content=capture_content,  # read at each flush and export
            reconnect=self.store.reopen,
            max_pending_rows=max_pending_rows,
            on_drop=None if metrics is None else metrics.record_dropped,
            where=self.store.path,
        )
        self.store.on_scores_written = capture.export_scores  # evaluation events, if exported
        capture.write_scores = self.store.write_scores  # evaluation events received or ingested
        if metrics is not None:
            processor = capture.processor
            # One count each per scrape (not a whole health() twice, which lists the sidecar).
            metrics.watch_pending(
                processor.rows_in_memory, lambda: processor.queue.rows_in_sidecar()
            )
            # OTLP export and receiver counts, read at each scrape (as obs.health() does)
            metrics.watch_bridge(capture.export_stats, capture.receiver_counts)
        return capture

    def write(self, table: pa.Table) -> None:
        """The capture's sink: one batch of span rows, then any new price records.

        Raises only for the spans (the write queue retries or bisects them).
        """
        self.store.write_spans(table)
        self.price_records.write(self.store)

    def on_batch(self, table: pa.Table) -> None:
        """Per converted batch: score labels, price versions, metrics, one log per call."""
        if self.metrics is not None:  # the agent and tool spans' metrics (none: nothing)
            self.metrics.record_steps(table)
        calls = model_calls(table)
        if calls.num_rows == 0:
            return
        self.labels.add(calls)
        self.price_records.note(calls)
        if self.metrics is not None:
            frame = pl.from_arrow(calls)
            assert isinstance(frame, pl.DataFrame)
            self.metrics.record_batch(frame)
        log_calls(calls)

    def after_fork_in_child(self, capture: Capture | None) -> None:
        """In a forked child: new locks, no price records or metrics of its own, the store
        abandoned (never used, never closed: reads raise ``ForkedChildError``), and the rows
        of ``capture`` (None: a closed observer's) written into the sidecar, each batch only
        logged. Sidecar files are not fsynced: one survives the child's death, as the
        parent's own buffered rows, not a machine crash (an fsync per call costs ms)."""
        self.labels.after_fork()
        self.price_records.after_fork()
        self.metrics = None
        self.store.abandon()
        if capture is not None:
            capture.processor._reset_after_fork(
                functools.partial(self.sidecar.put, sync=False), _log_model_calls
            )


def _log_model_calls(table: pa.Table) -> None:
    log_calls(model_calls(table))
