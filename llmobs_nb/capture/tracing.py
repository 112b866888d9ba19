"""The capture pipeline: a TracerProvider whose span processor buffers finished spans and a
background thread that turns them into Arrow batches for the store.

The hot path (``on_end``) only copies the finished span into a small record (see
``rows.record_of``) and appends it to a deque: no I/O, no conversion, no lock. The flush
thread converts, prices and writes by size (``batch_size``) and by time (``interval_s``, ≤ 1 s
by default); ``flush()`` and interpreter exit persist everything. The buffer is unbounded, so a
burst never drops a span (OpenTelemetry's BatchSpanProcessor drops when its queue is full);
when it grows past ``batch_size`` the flusher is woken at once. Converted batches the store
cannot take yet wait in a bounded :class:`~llmobs_nb.capture.write_queue.WriteQueue` (retried
with backoff, spilled to the sidecar, counted when given up): a write error never reaches the
caller.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    Span,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from llmobs_nb.capture import redact
from llmobs_nb.capture.batcher import Batcher
from llmobs_nb.capture.content_policy import without_content
from llmobs_nb.capture.errors import CaptureErrors, capture_failed
from llmobs_nb.capture.health import Health, summed
from llmobs_nb.capture.labels import missing_labels
from llmobs_nb.capture.own_spans import OwnSpan, OwnSpanFactory, Preset, cleaned, start_own_span
from llmobs_nb.capture.presets import add_valid
from llmobs_nb.capture.rows import SpanRecord, record_of, starts_model_call, to_columns
from llmobs_nb.capture.write_queue import DEFAULT_MAX_ROWS, WriteQueue
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store.sidecar import Sidecar

if TYPE_CHECKING:
    import pyarrow as pa

    from llmobs_nb.otlp.row_export import RowExport

log = logging.getLogger("llmobs_nb")

Sink = Callable[[Any], None]
OURS = "llmobs_nb"


#: Presets remembered for spans not converted yet, at most (one per buffered span; more means
#: rows were dropped without conversion, and the map is cleared: it only saves work).
_MAX_PRESETS = 1_000_000

#: Seconds one OTLP request may take (the SDK's default is 10): a hung receiver holds only the
#: export thread, and for this long a batch.
EXPORT_TIMEOUT_S = 5.0


class BufferingProcessor(SpanProcessor):
    """Buffers finished spans; a daemon thread drains them to ``sink`` in Arrow batches."""

    def __init__(
        self,
        sink: Sink,
        project: str | None,
        prices: PriceBook,
        on_batch: Callable[[Any], None] | None = None,
        batch_size: int = 8192,
        interval_s: float = 1.0,
        sidecar: Sidecar | None = None,
        reconnect: Callable[[], None] | None = None,
        max_pending_rows: int = DEFAULT_MAX_ROWS,
        on_drop: Callable[[str, int], None] | None = None,
        where: str = "the store",
        capture_content: Callable[[], bool] | bool = False,
    ) -> None:
        # The observer's content setting, read at each drain (init() may change it).
        self.capture_content = _as_callable(capture_content)
        # Converted batches on their way into the store: retries with backoff, the memory
        # bound, the spill to the sidecar (whose waiting rows are taken in first), bisection of
        # bad rows, and the counts obs.health() reports. Used under _drain_lock only.
        self.queue = WriteQueue(
            sink,
            sidecar=sidecar,
            reconnect=reconnect,
            max_rows=max_pending_rows,
            on_drop=on_drop,
            where=where,
            on_foreign=on_batch,  # rows forked children converted: metrics and logs here too
        )
        self._project = project
        self._prices = prices
        self._on_batch = on_batch
        self._drain_lock = threading.Lock()
        # Model calls in flight (span id → opened by us?). One API call described by two nested
        # model-call spans must count once: see on_end. Marked ids go to ``_duplicates``
        # (kept as plain "other" spans) or ``_wrappers`` (our outer span, kept as "chain").
        self._open_calls: dict[int, bool] = {}
        self._duplicates: set[int] = set()
        self._wrappers: set[int] = set()
        # Span id → the Preset its attributes started from, intact (own_spans.OwnSpan.preset):
        # to_columns converts that part of the row once per decorated function.
        self._presets: dict[int, Preset] = {}
        # Finished spans, drained by the flush thread each interval_s (sooner when a write
        # retry is due), or at once when batch_size wait.
        self._batcher: Batcher[SpanRecord] = Batcher(
            self._flush,
            name="llmobs_nb-flush",
            interval_s=interval_s,
            wake_at=batch_size,
            next_wait=self._next_wait,
            on_error=_flush_failed,
            start=False,
        )
        self._batcher.start()

    # -- SpanProcessor -----------------------------------------------------------------------
    def opened_model_call(self, span_id: int) -> None:
        """One of our spans that is a model call has started (told by the span itself)."""
        self._open_calls[span_id] = True

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        scope = span.instrumentation_scope
        if scope is not None and scope.name == OURS:
            return  # ours report themselves through opened_model_call()
        try:  # runs inside another library's start_span: never raise into it
            attributes = span.attributes
            labels = missing_labels(attributes)  # obs.session / obs.run / obs.agent around it
            if labels:
                span.set_attributes(labels)
            if attributes is not None and starts_model_call(attributes):
                self._open_calls[span.context.span_id] = False
        except Exception as exc:
            capture_failed("label a span of another instrumentation", exc)

    def on_end(self, span: ReadableSpan) -> None:
        open_calls = self._open_calls
        if open_calls:
            ours = open_calls.pop(span.context.span_id, None)
            parent = span.parent
            if ours is not None and parent is not None:
                parent_ours = open_calls.get(parent.span_id)
                if parent_ours is not None:
                    # Nested model calls describe one API call. Ours wins over a third party's;
                    # between ours, the inner one (the SDK call, with its usage and TTFT) wins
                    # and the outer becomes a chain; between third parties, the outer one wins
                    # (e.g. OpenInference over the Anthropic SDK's own span).
                    if ours and parent_ours:
                        self._wrappers.add(parent.span_id)
                    elif ours:
                        self._duplicates.add(parent.span_id)
                    else:
                        self._duplicates.add(span.context.span_id)
        if span.__class__ is OwnSpan and span.preset is not None:  # type: ignore[attr-defined]
            presets = self._presets
            if len(presets) >= _MAX_PRESETS:  # rows lost to a bug's last net: forget them
                presets.clear()
            presets[span.context.span_id] = span.preset  # type: ignore[attr-defined]
        self._batcher.put(record_of(span))

    def shutdown(self) -> None:
        self._batcher.close(timeout=30)
        self.drain(force=True)
        with self._drain_lock:
            self.queue.close()
            # Calls in flight when the observer closed end later: their rows are kept for the
            # next observer of this file (instance attribute: the open path stays as it was).
            self.on_end = self._on_end_after_close  # type: ignore[method-assign]

    def _on_end_after_close(self, span: ReadableSpan) -> None:
        """A span that ended after :meth:`shutdown`: to the sidecar, or counted as dropped."""
        try:
            record = record_of(span)
            if not self.capture_content():
                record = without_content(record)
            table = to_columns([record], self._project, self._prices)
            with self._drain_lock:
                self.queue.keep_for_later(table, "after_close")
        except Exception as exc:
            capture_failed("keep a call that ended after close", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """An explicit flush: convert everything and try the store now, past any backoff.
        Never raises a write error (see :class:`WriteQueue`); False while rows are pending."""
        self.drain(force=True)
        return not self._pending and not self.queue.rows_in_memory and not self.queue.failing

    def health(self) -> Health:
        """The write path's state: rows written, pending, dropped by reason, last error."""
        return self.queue.health(buffered=len(self._pending))

    def rows_in_memory(self) -> int:
        """Rows captured and not written yet that are held in memory (buffered or queued)."""
        return len(self._pending) + self.queue.rows_in_memory

    @property
    def _pending(self) -> deque[SpanRecord]:
        """The finished spans not converted yet."""
        return self._batcher.items

    # -- flushing ----------------------------------------------------------------------------
    def _next_wait(self) -> float:
        """Sleep one interval, or less when a retry is due sooner (backoff)."""
        wait = self._batcher.interval_s
        if self.queue.failing:
            wait = min(wait, max(self.queue.seconds_until_due(), 0.05))
        return wait

    def _flush(self, final: bool) -> None:
        self.drain()

    def drain(self, force: bool = False) -> int:
        """Convert every buffered span and write what the store can take; returns rows written.

        Write errors never propagate: rows stay queued (bounded, then spilled or counted) and
        are retried with backoff, or now when ``force`` is set (an explicit flush).
        """
        with self._drain_lock:
            queue = self.queue
            written = 0
            converted = False
            batcher = self._batcher
            # Only what is buffered now: with other threads capturing faster than a batch is
            # written, "until empty" would never end (and hold flush() and a fork waiting).
            left = len(batcher.items)
            while left > 0:
                count = min(left, 50_000)
                left -= count
                batch = batcher.take(count)
                if not self.capture_content():  # no prompt text from other instrumentations
                    batch = [without_content(record) for record in batch]
                dropped: dict[str, int] = {}
                try:
                    table = to_columns(
                        batch,
                        self._project,
                        self._prices,
                        self._duplicates,
                        self._wrappers,
                        dropped=dropped,
                        presets=self._presets,
                    )
                except Exception as exc:  # to_columns isolates rows; this is a bug's last net
                    capture_failed("convert spans to rows", exc)
                    dropped = {"conversion": count}
                    table = None
                for reason, n in dropped.items():
                    queue.drop(reason, n)
                if table is None:
                    continue
                if self._on_batch is not None:
                    try:  # metrics and logs once per converted batch, before any write retry
                        self._on_batch(table)
                    except Exception as exc:
                        capture_failed("update metrics", exc)
                queue.add(table)
                written += queue.write(force)
                converted = True
            if not converted:  # nothing new: retry what waits, or take in the sidecar's rows
                written += queue.write(force)
            return written

    # -- child processes (driven by llmobs_nb.capture.forking) -------------------------------
    def _write_at_root_end(self) -> None:
        """Write synchronously whenever a span with no parent in this process ends.

        For child processes, which may be ended at any moment (``Pool.terminate()`` sends
        SIGTERM; multiprocessing children leave with ``os._exit``, skipping atexit): a call
        that returned is on disk. Spans started before this is switched on (in a forked
        child: started by the parent) are the parent's: they are counted in
        ``started_elsewhere`` and not recorded here.
        """
        self._local_open: set[int] = set()
        self.started_elsewhere = 0
        # Instance attributes shadow the class's methods: the parent's hot path is unchanged.
        self.on_start = self._on_start_local  # type: ignore[method-assign]
        self.on_end = self._on_end_local  # type: ignore[method-assign]

    def _on_start_local(self, span: Span, parent_context: Context | None = None) -> None:
        self._local_open.add(span.context.span_id)
        BufferingProcessor.on_start(self, span, parent_context)

    def _on_end_local(self, span: ReadableSpan) -> None:
        local = self._local_open
        span_id = span.context.span_id
        if span_id not in local:
            self.started_elsewhere += 1  # the process that started it records it
            return
        local.discard(span_id)
        BufferingProcessor.on_end(self, span)
        parent = span.parent
        if parent is None or parent.span_id not in local:
            try:
                self.drain()
            except Exception as exc:
                capture_failed("write a finished call in a child process (will retry)", exc)

    def _reset_after_fork(self, sink: Sink, on_batch: Callable[[Any], None] | None) -> None:
        """In a forked child: drop the parent's rows (the parent writes them), renew locks,
        events and the flush thread (none survive a fork), write to ``sink`` from now on and
        synchronously at each local root span's end (see :meth:`_write_at_root_end`).

        The sidecar is not taken in here: the child writes into it, the parent reads it.
        """
        self._duplicates = set()
        self._wrappers = set()
        self._presets = {}
        self._open_calls = dict(self._open_calls)
        old = self.queue
        self.queue = WriteQueue(  # no sidecar to take in: the child writes into it
            sink, max_rows=old._max_rows, on_drop=old._on_drop, where=old._where
        )
        self._on_batch = on_batch
        self._drain_lock = threading.Lock()
        self._write_at_root_end()
        self._batcher.reset_after_fork()  # the parent's spans dropped, a new flush thread


class Capture:
    """An OpenTelemetry TracerProvider wired to a :class:`BufferingProcessor`.

    ``options`` are the :class:`BufferingProcessor`'s keywords (``on_batch``, ``batch_size``,
    ``interval_s``, ``sidecar``, ``capture_content``, ``reconnect``, ``max_pending_rows``,
    ``on_drop``, ``where``).

    Example:
        >>> from llmobs_nb.pricing import PriceBook
        >>> written = []
        >>> capture = Capture(written.append, "demo", PriceBook(), interval_s=3600)
        >>> capture.tracer.start_span("step").end()
        >>> capture.flush(); capture.shutdown()
        >>> written[0].column("name").to_pylist()
        ['step']
    """

    def __init__(self, sink: Sink, project: str | None, prices: PriceBook, **options: Any) -> None:
        self.project = project
        self.exports: list[RowExport] = []  # one per OTLP endpoint, fed the converted rows
        options["on_batch"] = _export_then(self.exports, options.get("on_batch"))
        self.processor = BufferingProcessor(sink, project, prices, **options)
        # The observer's content setting, read at each flush (rows leave only from there).
        self.capture_content = self.processor.capture_content
        # The secret rules compile here, once per process (0.1–0.5 s), not inside the first
        # traced call's span (on a thread, importing detect-secrets raced other imports).
        redact.redactor()
        resource = Resource.create({"service.name": project or "llmobs_nb"})
        limits = SpanLimits()
        # ALWAYS_ON, not the default ParentBased: an unsampled parent from another service
        # must not silently hide this process's LLM calls (and it skips a parent lookup).
        self.provider = _Provider(
            self.processor,
            resource=resource,
            sampler=ALWAYS_ON,
            span_limits=limits,
            shutdown_on_exit=False,
        )
        self.tracer = self.provider.get_tracer(OURS)
        # Our spans without the SDK's span object (own_spans.py), while the SDK is enabled and
        # no attribute value length limit asks for values to be cut (the SDK's rule does it).
        self._own = (
            OwnSpanFactory(self.provider.id_generator, limits)
            if isinstance(self.tracer, SdkTracer) and limits.max_attribute_length is None
            else None
        )
        self.receivers: list[Any] = []  # OtlpReceivers writing here, closed by shutdown()
        # Where evaluation events from elsewhere become scores (``Store.write_scores``, set by
        # the observer's batch work); None: they are counted as refused, not kept.
        self.write_scores: Sink | None = None

    def start_span(
        self,
        name: str,
        parent_context: Context | None,
        attributes: dict[str, Any],
        preset: dict[str, Any] | None = None,
    ) -> trace.Span:
        """Start one span of our traced code under the span current in ``parent_context`` (or
        the current context), with ``attributes`` and, under them, ``preset`` (attributes
        validated once: ``presets.preset``).

        While the provider has no span processor but ours, the span is an
        :class:`~llmobs_nb.capture.own_spans.OwnSpan`; otherwise the SDK's, so a processor a
        user adds sees every span.
        """
        own = self._own
        if own is not None and self.provider.only_ours:
            if preset and not attributes and len(preset) <= own.max_attributes:
                # the usual call of a decorated function: its attributes, validated once
                if preset.__class__ is Preset:
                    span = start_own_span(
                        self.processor, name, parent_context, preset.plain.copy(), own
                    )
                    span.preset = preset
                    return span
                return start_own_span(self.processor, name, parent_context, preset.copy(), own)
            span = start_own_span(self.processor, name, parent_context, cleaned(attributes), own)
            if preset:
                span.add_valid(preset, keep_existing=True)
            return span
        sdk_span = self.tracer.start_span(name, context=parent_context, attributes=attributes)
        if preset:
            add_valid(sdk_span, preset, keep_existing=True)
        return sdk_span

    @property
    def otlp_endpoints(self) -> list[str]:
        """The OTLP/HTTP endpoints spans are exported to."""
        return [export.endpoint for export in self.exports]

    def export_otlp(self, endpoint: str, headers: dict[str, str] | None = None) -> None:
        """Also send every span (and every score, as a ``gen_ai.evaluation.result`` event) to
        an OTLP/HTTP endpoint, in the OpenTelemetry GenAI and OpenInference conventions.

        What leaves is the rows the store keeps (same redaction, content only when captured),
        encoded and sent by a child process: see :mod:`~llmobs_nb.otlp.row_export`.
        """
        if endpoint in self.otlp_endpoints:
            return
        from llmobs_nb.otlp.row_export import RowExport  # needs no protobuf runtime (otlp.wire)

        self.exports.append(
            RowExport(endpoint, headers, project=self.project, request_timeout_s=EXPORT_TIMEOUT_S)
        )

    def export_scores(self, table: pa.Table) -> None:
        """Queue stored score rows for every OTLP export (never waits)."""
        for export in self.exports:
            export.put_scores(table)

    def export_stats(self) -> dict[str, int]:
        """Spans (and scores) sent, dropped on a full queue, refused or unreachable, and unsent
        at close, summed over every OTLP export (see ``otlp.row_export``)."""
        totals: dict[str, int] = {}
        for export in self.exports:
            for key, n in export.stats.items():
                totals[key] = totals.get(key, 0) + n
        return totals

    def receive_otlp(
        self, port: int = 0, host: str = "127.0.0.1", write_scores: Sink | None = None
    ) -> Any:
        """Serve OTLP/HTTP on ``host:port``; each span received goes where this process's own
        spans go (``processor.on_end``, see ``received``). With ``write_scores``
        (``Store.write_scores``), evaluation events (span events and ``/v1/logs`` records)
        are kept as scores (see ``evaluations``). Returns the :class:`OtlpReceiver`."""
        try:
            from llmobs_nb.otlp.receiver import OtlpReceiver
        except ImportError as exc:
            raise ImportError(
                "the OTLP receiver needs opentelemetry-proto: pip install 'llmobs_nb[otlp]'"
            ) from exc
        scores = self._score_writer(write_scores)
        on_logs = None if scores is None else scores.add_logs
        receiver = OtlpReceiver(self._received(scores), port=port, host=host, on_logs=on_logs)
        receiver.scores = scores
        self.receivers.append(receiver)
        return receiver

    def receiver_counts(self) -> dict[str, int]:
        """Requests and spans taken in or refused, summed over this capture's receivers
        (closed ones included: counts only grow). Empty without a receiver."""
        return summed(receiver.counts() for receiver in list(self.receivers))

    def ingest(self, path: Any) -> Any:
        """Read an OTLP/JSON-lines file (the collector's file exporter) into the store, as
        :meth:`receive_otlp` takes spans in. Returns the ``IngestResult`` (not flushed)."""
        from llmobs_nb.otlp.files import read_otlp_file

        return read_otlp_file(path, self._received(self._score_writer()))

    def _score_writer(self, write_scores: Sink | None = None) -> Any:
        # Evaluation events → scores (``evaluations.ScoreWriter``), when there is a store.
        write = write_scores or self.write_scores
        if write is None:
            return None
        from llmobs_nb.capture.evaluations import ScoreWriter

        return ScoreWriter(write, self.capture_content)

    def _received(self, scores: Any = None) -> Callable[[ReadableSpan], None]:
        # Where spans from elsewhere go, for the receiver and ingest alike.
        from llmobs_nb.capture.received import sink_for

        return sink_for(self.processor, scores)

    def make_global(self) -> None:
        """Make this provider OpenTelemetry's global one (third-party instrumentations)."""
        current = trace.get_tracer_provider()
        if current is self.provider:
            return
        # The OTel API only lets the global provider be set once per process; a re-run cell
        # (a second observer) takes over through a proxy that forwards to the newest provider.
        _GLOBAL.target = self.provider
        if not isinstance(current, _ForwardingProvider):
            trace.set_tracer_provider(_GLOBAL)

    def flush(self) -> None:
        """Write every finished span into the store now. OTLP exports are not waited for (a
        read must not wait on the network): they send on their own thread, and ``shutdown``
        gives them at most a second. Never raises: the write path keeps rows it cannot
        write (``health()`` tells), anything else is a capture error, counted and logged."""
        try:
            self.processor.force_flush()
        except Exception as exc:
            capture_failed("flush", exc)

    def health(self, errors: CaptureErrors | None = None) -> Health:
        """The write path's :class:`Health`, with ``errors``' counts by stage and the OTLP
        export and receiver counts."""
        health = dataclasses.replace(
            self.processor.health(), export=self.export_stats(), received=self.receiver_counts()
        )
        if errors is None:
            return health
        return dataclasses.replace(health, capture_errors=errors.snapshot())

    def shutdown(self) -> None:
        for receiver in self.receivers:  # first: no span arrives after the last flush
            receiver.close()
        if _GLOBAL.target is self.provider:
            _GLOBAL.target = None
        self.provider.shutdown()  # the last rows converted, handed to the exports
        for export in self.exports:
            export.close()  # at most a second each


def _export_then(
    exports: list[RowExport], on_batch: Callable[[Any], None] | None
) -> Callable[[Any], None]:
    """Each converted batch handed to every export (a queue append), then to ``on_batch``."""

    def both(table: Any) -> None:
        for export in exports:
            try:
                export.put_spans(table)
            except Exception as exc:  # the store's path goes on
                capture_failed("queue spans for export", exc)
        if on_batch is not None:
            on_batch(table)

    return both


def _flush_failed(exc: BaseException) -> None:
    # drain handles write errors; this is a bug's last net
    capture_failed("write spans to the store", exc)


def _as_callable(value: Callable[[], bool] | bool) -> Callable[[], bool]:
    if callable(value):
        return value
    fixed = bool(value)
    return lambda: fixed


class _Provider(TracerProvider):
    """The capture's provider: ``processor`` first, and whether another was added since."""

    def __init__(self, processor: SpanProcessor, **options: Any) -> None:
        super().__init__(**options)
        super().add_span_processor(processor)
        self.only_ours = True

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        self.only_ours = False  # from now on our spans are the SDK's: the new one sees them
        super().add_span_processor(span_processor)


class _ForwardingProvider(trace.TracerProvider):
    """The global provider we install once; it forwards to the newest observer's provider."""

    def __init__(self) -> None:
        self.target: TracerProvider | None = None

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        if self.target is None:
            return trace.NoOpTracer()
        return _ForwardingTracer(self, args, kwargs)


class _ForwardingTracer(trace.Tracer):
    """Resolves the target provider at span start, so instrumentations set up earlier follow."""

    def __init__(self, owner: _ForwardingProvider, args: Any, kwargs: Any) -> None:
        self._owner = owner
        self._args = args
        self._kwargs = kwargs

    def _tracer(self) -> trace.Tracer:
        target = self._owner.target
        if target is None:
            return trace.NoOpTracer()
        return target.get_tracer(*self._args, **self._kwargs)

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._tracer().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracer().start_as_current_span(*args, **kwargs)


_GLOBAL = _ForwardingProvider()
