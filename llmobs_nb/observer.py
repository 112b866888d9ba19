"""The Observer: what ``llmobs_nb.init`` returns and a notebook talks to.

It ties the layers together — capture (an OpenTelemetry tracer), the DuckDB store, prices,
live metrics — and offers the read side (``calls()``, ``scores()``, ``sql()``) over the store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa

from llmobs_nb.capture import forking
from llmobs_nb.capture import labels as lb
from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.errors import CaptureErrors, capture_failed
from llmobs_nb.capture.health import Health, PendingRowsWarning
from llmobs_nb.capture.labels import check_label as _check_label
from llmobs_nb.capture.redact import redact_optional, redact_params, redact_text
from llmobs_nb.capture.rows import MODEL_CALL_KINDS
from llmobs_nb.capture.scope import SpanHandle, SpanScope
from llmobs_nb.capture.tracer import Tracer
from llmobs_nb.capture.tracing import Capture
from llmobs_nb.capture.write_queue import DEFAULT_MAX_ROWS
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store import Store
from llmobs_nb.store.sidecar import Sidecar

log = logging.getLogger("llmobs_nb")
F = TypeVar("F", bound=Callable[..., Any])

_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SPAN_LABEL_CACHE = 200_000


class ObserverClosedError(RuntimeError):
    """An explicit call (``run``, ``score``, ``evaluate``, ``instrument_*``) on a closed observer.

    Traced code never sees it: decorated functions, ``obs.span(...)`` blocks and instrumented
    clients of a closed observer record into the live observer of the same file, or run
    untraced.
    """


class UnknownSpanError(KeyError):
    """``score()`` was given a span or trace id that the store does not hold.

    A ``KeyError`` (and so a ``LookupError``), as an unknown ``span_id`` always raised.

    Example:
        >>> str(UnknownSpanError("no span 'ab' in x.duckdb"))
        "no span 'ab' in x.duckdb"
    """

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0]) if self.args else ""


class Observer:
    """Captures LLM calls and pipeline stages of one project into one DuckDB store.

    Create it with :func:`llmobs_nb.init` (writable) or :func:`llmobs_nb.open` (read-only).

    Example:
        >>> obs = llmobs_nb.init(db=":memory:", project="doc")  # doctest: +SKIP
        >>> @obs.observe(model="gpt-4o")                          # doctest: +SKIP
        ... def ask(q): return {"usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    """

    def __init__(
        self,
        db: str | Path = ":memory:",
        project: str = "default",
        *,
        capture_content: bool = False,
        prices: dict[str, dict[str, Any]] | PriceBook | None = None,
        flush_interval_s: float = 1.0,
        read_only: bool = False,
        store: Store | None = None,
        max_pending_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        _check_label("project", project)
        self.project = project
        self.read_only = read_only
        self.store = store if store is not None else Store(db, read_only=read_only)
        self.db_path = self.store.path
        self.prices = prices if isinstance(prices, PriceBook) else PriceBook(prices)
        self._closed = False
        self._registry_key: tuple[str, str] | None = None
        # Failures inside capture, by stage (never raised into a call): for obs.health() and
        # exported as llmobs_capture_errors_total{stage}.
        self.capture_errors = CaptureErrors()
        # Makes every span of traced code (observe, span, instrumented clients, judges).
        self.tracer = Tracer(
            None,
            self.capture_errors,
            capture_content=capture_content,
            where=self.db_path,
            successor=self._next_tracer,
            online=self._online_evaluator,
        )
        self._span_labels: OrderedDict[str, tuple[str, str | None, str | None]] = OrderedDict()
        self._labels_lock = threading.Lock()
        self._recorded_prices: set[str] = set()
        self._new_prices: list[dict[str, Any]] = []
        self.metrics: Any = None
        self.capture: Capture | None = None
        self._dashboard: Any = None
        self._online: list[Any] = []
        if read_only:
            return
        from llmobs_nb.metrics import ObserverMetrics

        self.metrics = ObserverMetrics()
        self.metrics.registry.register(self.capture_errors)
        self.capture = Capture(
            self._write_spans,
            project,
            self.prices,
            on_batch=self._on_batch,
            interval_s=flush_interval_s,
            sidecar=Sidecar.for_store(self.store.path),
            capture_content=lambda: self.capture_content,  # read at each flush and export
            reconnect=self.store.reopen,
            max_pending_rows=max_pending_rows,
            on_drop=self.metrics.record_dropped,
            where=self.db_path,
        )
        self.tracer.capture = self.capture
        processor = self.capture.processor
        # One count each per scrape (not a whole health() twice, which lists the sidecar).
        self.metrics.watch_pending(
            processor.rows_in_memory, lambda: processor.queue.rows_in_sidecar()
        )
        forking.track(self)

    # -- capture ---------------------------------------------------------------------------
    @property
    def capture_content(self) -> bool:
        """Whether prompts and answers are stored (changeable at any time; read at each call)."""
        return self.tracer.capture_content

    @capture_content.setter
    def capture_content(self, value: bool) -> None:
        self.tracer.capture_content = value

    @property
    def _closing(self) -> bool:
        # Set at the start of close(): traced calls from then on go to the file's next
        # observer or run untraced (the tracer reads it on every call).
        return self.tracer.closing

    @_closing.setter
    def _closing(self, value: bool) -> None:
        self.tracer.closing = value

    def _require_writable(self) -> Capture:
        capture = self.tracer.require_capture()
        if self._closing:
            raise ObserverClosedError(
                f"this observer of {self.db_path} is closed; use the observer "
                f"llmobs_nb.init(db={self.db_path!r}, ...) returns (functions decorated with "
                f"this one record into it)"
            )
        return capture

    def _next_tracer(self) -> Tracer | None:
        """The tracer of the file's live observer, for traced code of this one once closed."""
        live = _OBSERVERS.get(self._registry_key or _key(self.db_path, self.project))
        return None if live is None else live.tracer  # one dict read, atomic under the GIL

    def observe(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        model: str | None = None,
        operation: str = "chat",
        provider: str | None = None,
        kind: str = "llm",
        use_case: str | None = None,
        user_id: str | None = None,
        capture_content: bool | None = None,
        evaluators: list[Any] | None = None,
        **attributes: Any,
    ) -> Any:
        """Decorate a function so each call is a span (an LLM call by default).

        Works on sync, async, generator and async-generator functions. Token usage, the
        response model and the finish reason are read from what the function returns
        (OpenAI or Anthropic responses, or dicts with a ``usage`` key); a stream keeps the
        span open until it is exhausted, closed or dropped, and records time to first token.
        With ``evaluators=[...]`` each call is scored after it returns, on a background worker
        (:class:`llmobs_nb.evals.OnlineEvaluator`): the call itself only enqueues it.

        Example:
            >>> @obs.observe(model="gpt-4o", operation="chat", use_case="support")  # doctest: +SKIP
            ... def ask(question):
            ...     return client.chat.completions.create(model="gpt-4o", messages=[...])
        """
        return self.tracer.observe(
            fn,
            name=name,
            model=model,
            operation=operation,
            provider=provider,
            kind=kind,
            use_case=use_case,
            user_id=user_id,
            capture_content=capture_content,
            evaluators=evaluators,
            **attributes,
        )

    def span(
        self,
        name: str,
        kind: str = "chain",
        *,
        model: str | None = None,
        operation: str | None = None,
        provider: str | None = None,
        use_case: str | None = None,
        user_id: str | None = None,
        **attributes: Any,
    ) -> SpanScope:
        """A span around a block: ``with obs.span("retrieval", kind="retrieval") as span:``.

        Spans nest into one trace (parent links follow threads and asyncio tasks); labels
        given here (``use_case``, ``user_id``) are inherited by every span inside.

        Example:
            >>> with obs.span("rag", user_id="alice") as root:           # doctest: +SKIP
            ...     with obs.span("retrieval", kind="retrieval", top_k=5) as span:
            ...         span.set_attributes({"retrieval.doc_count": 5})
        """
        return self.tracer.span(
            name,
            kind,
            model=model,
            operation=operation,
            provider=provider,
            use_case=use_case,
            user_id=user_id,
            **attributes,
        )

    @contextlib.contextmanager
    def run(self, name: str, params: dict[str, Any] | None = None) -> Iterator[str]:
        """Tag every span inside the block with run ``name`` (an experiment).

        The name and ``params`` are stored with secrets masked (a key that names a secret,
        such as ``api_key``, keeps no value); the name yielded is the one stored.

        On a closed observer it raises :class:`ObserverClosedError` (an explicit call, unlike
        the traced code inside the block, which never fails because of its observer).

        Example:
            >>> with obs.run("prompt-v2", params={"temperature": 0.2}):   # doctest: +SKIP
            ...     ask("hello")
        """
        _check_label("run", name)
        if not name:
            raise ValueError("a run needs a non-empty name")
        self._require_writable()
        # Stored as spans will store it (the run label is redacted in each span too).
        name = redact_text(name)
        self.store.write_runs(
            pa.table(
                {
                    "name": [name],
                    "project": [redact_text(self.project)],  # as spans.project stores it
                    "params": [redact_params(params)],
                    "started_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
                }
            )
        )
        token = lb.current_labels.set(lb.merged(run=name))
        try:
            yield name
        finally:
            lb.current_labels.reset(token)
            if not self._closing:  # closed inside the block: the run stays without ended_at
                self.store.execute(
                    "UPDATE runs SET ended_at = now() WHERE name = ? AND project = ? "
                    "AND ended_at IS NULL",
                    [name, redact_text(self.project)],
                )

    def _online_evaluator(self, evaluators: list[Any]) -> Any:
        from llmobs_nb.evals.online_hook import ScopeSubmitter

        submitter = ScopeSubmitter(self, evaluators)
        self._online.append(submitter)
        return submitter

    def evaluate(self, evaluators: list[Any], **options: Any) -> pl.DataFrame:
        """Score stored calls that have captured content; resumable; returns the new scores.

        Options: ``where`` (dict of column → value, sent as SQL parameters, and/or a polars
        expression), ``sample``, ``concurrency`` (threads, for judges), ``progress`` (a tqdm
        bar), ``reference`` — see :func:`llmobs_nb.evals.evaluate`. Re-running skips the
        (span, evaluator@version) pairs already scored; an interrupted run keeps what it did.

        Example:
            >>> from llmobs_nb.evals import NonEmpty, Refusal   # doctest: +SKIP
            >>> obs.evaluate([NonEmpty(), Refusal()])           # doctest: +SKIP
        """
        from llmobs_nb.evals import evaluate

        self._require_writable()
        return evaluate(self, evaluators, **options)

    def instrument_openai(self, client: Any) -> Any:
        """Trace an ``openai.OpenAI`` / ``AsyncOpenAI`` client in place; returns it.

        Example:
            >>> client = obs.instrument_openai(openai.OpenAI())   # doctest: +SKIP
        """
        from llmobs_nb.clients import instrument_openai

        self._require_writable()
        return instrument_openai(self, client)

    def instrument_anthropic(self, client: Any) -> Any:
        """Trace an ``anthropic.Anthropic`` / ``AsyncAnthropic`` client in place; returns it.

        Example:
            >>> client = obs.instrument_anthropic(anthropic.Anthropic())   # doctest: +SKIP
        """
        from llmobs_nb.clients import instrument_anthropic

        self._require_writable()
        return instrument_anthropic(self, client)

    def uninstrument(self, client: Any) -> Any:
        """Restore a client instrumented by this package; returns it."""
        from llmobs_nb.clients import uninstrument

        uninstrument(client)
        return client

    # -- background side ---------------------------------------------------------------------
    def _write_spans(self, table: pa.Table) -> None:
        """The capture's sink: one batch of span rows, then any new price records.

        Raises only for the spans (the write queue retries or bisects them); a failed price
        write is kept for the next batch, so the spans are never written twice.
        """
        self.store.write_spans(table)
        if self._new_prices:
            rows, self._new_prices = self._new_prices, []
            try:
                self.store.write_prices(pa.Table.from_pylist(rows))
            except Exception as exc:
                self._new_prices = rows + self._new_prices
                capture_failed("record prices (kept for the next write)", exc)

    def _on_batch(self, table: pa.Table) -> None:
        """Per converted batch: score-label cache, price records, metrics, one log per call."""
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        calls = frame.filter(pl.col("kind").is_in(MODEL_CALL_KINDS))
        if calls.height == 0:
            return
        labels = zip(
            calls["trace_id"].to_list(),
            calls["model"].to_list(),
            calls["use_case"].to_list(),
            strict=True,
        )
        with self._labels_lock:
            cache = self._span_labels
            cache.update(zip(calls["span_id"].to_list(), labels, strict=True))
            while len(cache) > _SPAN_LABEL_CACHE:
                cache.popitem(last=False)
        new_versions = set(calls["price_version"].drop_nulls().unique()) - self._recorded_prices
        for version in new_versions:
            first = calls.filter(pl.col("price_version") == version).row(0, named=True)
            self._record_price(version, first)
        if self.metrics is not None:
            self.metrics.record_batch(calls)
        if log.isEnabledFor(logging.INFO):
            for row in calls.iter_rows(named=True):
                self._log_call(row)

    # -- in a forked child (driven by llmobs_nb.capture.forking) ------------------------------
    def _after_fork_in_child(self) -> None:
        """Make the inherited observer safe in a forked child: its spans go to the store's
        sidecar folder (the parent takes them in), its store refuses use with a
        :class:`~llmobs_nb.store.errors.ForkedChildError` saying to read in the parent.

        Nothing the parent held is used: not the DuckDB connection (abandoned, never closed),
        not the metrics server (a fresh, unserved registry), not polars (whose thread pool does
        not survive a fork), not a lock (renewed). Online evaluators stop (their calls are
        counted as dropped); score them later with ``evaluate()`` in the parent.
        """
        from llmobs_nb.metrics import ObserverMetrics

        self._labels_lock = threading.Lock()
        self.prices._lock = threading.Lock()
        self.capture_errors._lock = threading.Lock()
        self._new_prices = []
        self._dashboard = None
        for submitter in self._online:
            submitter.online._closed = True
        if self.metrics is not None:
            self.metrics = ObserverMetrics()
        self.store.abandon()
        capture = self.capture
        if capture is None or self._closed:
            return
        processor = capture.processor
        sidecar = processor.queue._sidecar or Sidecar.for_store(self.store.path)
        # Not fsynced: a file survives the child's death (SIGTERM, os._exit), as the parent's
        # own buffered rows, not a machine crash; an fsync per call would cost milliseconds.
        processor._reset_after_fork(
            functools.partial(sidecar.put, sync=False), self._on_batch_in_child
        )

    def _on_batch_in_child(self, table: pa.Table) -> None:
        """:meth:`_on_batch` without polars (not fork-safe): one log record per call.

        Metrics, price records and score labels of a child's calls are not kept: the child
        cannot score (:meth:`score` raises there) and the parent serves the metrics.
        """
        if not log.isEnabledFor(logging.INFO):
            return
        import pyarrow.compute as pc

        calls = table.filter(pc.is_in(table["kind"], pa.array(sorted(MODEL_CALL_KINDS))))
        for row in calls.to_pylist():
            self._log_call(row)

    def _log_call(self, row: dict[str, Any]) -> None:
        # The row is one to_columns made: its labels and attributes are redacted already.
        attrs = json.loads(row["attributes"]) if row["attributes"] else {}
        record = {
            "request_id": attrs.get(sc.LLMOBS_REQUEST_ID) or attrs.get(sc.GEN_AI_RESPONSE_ID),
            "trace_id": row["trace_id"],
            "span_id": row["span_id"],
            "model": row["model"],
            "operation": row["operation"],
            "latency_s": row["latency_s"],
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "cost_usd": row["cost_usd"],
            "status": row["status"],
            "error_type": row["error_type"],
        }
        log.info("llm call %s %s", row["model"], row["status"], extra={"llm_call": record})

    def _record_price(self, version: str, row: dict[str, Any]) -> None:
        self._recorded_prices.add(version)
        at = row["start_time"]
        price = self.prices.lookup(row["model"], row["provider"], at)
        if price is None:
            return
        self._new_prices.append(
            {
                "price_version": version,
                "provider": price.provider,
                "model": price.model,
                "input_mtok": price.input_mtok,
                "cached_input_mtok": price.cached_input_mtok,
                "cache_write_mtok": price.cache_write_mtok,
                "output_mtok": price.output_mtok,
                "reasoning_mtok": price.reasoning_mtok,
                "valid_from": price.valid_from,
                "valid_to": price.valid_to,
                "source": price.source,
                "recorded_at": datetime.now(UTC),
            }
        )

    # -- scores ------------------------------------------------------------------------------
    def _span_context(self, span_id: str) -> tuple[str, str | None, str | None] | None:
        with self._labels_lock:
            found = self._span_labels.get(span_id)
        if found is not None:
            return found
        self.flush()
        rows = self.store.query(
            "SELECT trace_id, model, use_case FROM spans WHERE span_id = ? LIMIT 1", [span_id]
        )
        if rows.height == 0:
            return None
        return rows.row(0)  # type: ignore[return-value]

    def _trace_stored(self, trace_id: str) -> bool:
        self.flush()
        found = self.store.query("SELECT 1 FROM spans WHERE trace_id = ? LIMIT 1", [trace_id])
        return found.height > 0

    def _unknown(self, what: str, value: str) -> str:
        return (
            f"no {what} {value!r} in {self.db_path}. score() wrote every finished span to the "
            f"store first, so it is not one waiting to be flushed: check the id (copy it from "
            f"span.span_id / span.trace_id or obs.calls()). A span still open — inside its "
            f"`with` block, or a stream not read to its end — is stored when it ends: score it "
            f"after that."
        )

    def score(
        self,
        span_id: str | None = None,
        *,
        trace_id: str | None = None,
        name: str = "quality",
        value: float,
        source: str = "human",
        comment: str | None = None,
        bounds: tuple[float, float] | None = (0.0, 1.0),
        label: str | None = None,
    ) -> None:
        """Attach a named score to a span (or a whole trace); stored in ``scores``.

        The value must be a finite number; with ``bounds`` (default [0, 1]) it must lie inside
        them — pass ``bounds=None`` for an unbounded score such as a latency budget ratio.
        ``label`` optionally names a category beside the number (e.g. ``"refusal"``).
        Name, source, comment and label are stored with secrets masked.

        Example:
            >>> obs.score(span_id=span.span_id, name="quality", value=0.82,   # doctest: +SKIP
            ...           source="llm_judge")
        """
        self._require_writable()
        if not isinstance(name, str) or not name:
            raise ValueError(f"score name must be a non-empty string, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"score {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(
                f"score {name!r} = {value!r} is not finite: NaN and infinity are not scores; "
                f"skip the call or record a failed evaluation in comment="
            )
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise ValueError(
                f"score {name!r} = {value!r} is outside [{bounds[0]}, {bounds[1]}]: rescale it, "
                f"or pass bounds=None for an unbounded score"
            )
        if span_id is None and trace_id is None:
            raise ValueError("score() needs span_id= or trace_id=")
        model = use_case = None
        if span_id is not None:
            if not isinstance(span_id, str) or not _HEX16.match(span_id):
                raise ValueError(f"span_id {span_id!r} is not 16 lowercase hex digits")
            found = self._span_context(span_id)  # flushes first when the id is not cached
            if found is None:
                raise UnknownSpanError(self._unknown("span", span_id))
            trace_id, model, use_case = found
        elif not isinstance(trace_id, str) or not _HEX32.match(trace_id):
            raise ValueError(f"trace_id {trace_id!r} is not 32 lowercase hex digits")
        elif not self._trace_stored(trace_id):
            raise UnknownSpanError(self._unknown("trace", trace_id))
        self.store.write_scores(
            pa.table(
                {
                    "trace_id": [trace_id],
                    "span_id": [span_id],
                    "name": [redact_text(name)],
                    "value": [float(value)],
                    "source": [redact_optional(source)],
                    "comment": [redact_optional(comment)],
                    "created_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
                    "label": pa.array([redact_optional(label)], pa.string()),
                }
            )
        )
        if self.metrics is not None:
            self.metrics.record_score(model, use_case, float(value))

    # -- lifecycle ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every captured span to the store now.

        Never raises a write error: if the store cannot take the rows (a full disk, a
        read-only directory) they are kept — in memory up to ``max_pending_rows``, then in
        the sidecar folder beside the store — and retried with backoff; one warning is logged
        per failure episode. :meth:`health` tells how many rows are pending and why.

        Example:
            >>> obs.flush()              # doctest: +SKIP
            >>> obs.health().pending     # doctest: +SKIP
            0
        """
        if self.capture is not None and not self._closed:
            try:
                self.capture.flush()
            except Exception as exc:  # the write path keeps its rows; nothing to raise
                capture_failed("flush", exc)

    def _flush_for_read(self) -> None:
        """Before a read: write what can be written, then warn if rows are still pending.

        Reads do not depend on writes: they answer from what is stored. While the store cannot
        be written, this retries past the backoff only once per failure episode (a read must
        not wait on a dead disk) and gives a :class:`PendingRowsWarning` naming how many
        captured rows the answer lacks.
        """
        if self.capture is None or self._closed:
            return
        processor = self.capture.processor
        if self.store.needs_reopen:  # an invalidated connection answers no read either
            try:
                self.store.reopen()
            except Exception as exc:
                capture_failed("reopen the store for a read", exc)
        try:
            # A blip is retried at once (the first retry of an episode); after that a read
            # waits for no write: the backoff decides.
            processor.drain(force=processor.queue.failures < 2)
            health = processor.health()
        except Exception as exc:
            capture_failed("write spans before a read", exc)
            return
        if health.pending:
            warnings.warn(
                PendingRowsWarning(
                    f"{health.pending} captured rows are not in {self.db_path} yet "
                    f"({health.pending_memory} in memory, {health.pending_sidecar} in the "
                    f"sidecar folder; last write error: {health.last_error or 'none'}); "
                    f"this answer leaves them out. obs.health() shows the state."
                ),
                stacklevel=3,
            )

    def health(self) -> Health:
        """The write path at a glance: rows written, pending (in memory and in the sidecar),
        dropped by reason, the last write error and when, the last successful write.

        Example:
            >>> h = obs.health()                                   # doctest: +SKIP
            >>> h.rows_written, h.pending, h.dropped, h.last_error   # doctest: +SKIP
            (1200, 0, {}, None)
        """
        if self.capture is None:
            return Health(rows_written=0, pending_memory=0, pending_sidecar=0)
        return dataclasses.replace(
            self.capture.processor.health(), capture_errors=self.capture_errors.snapshot()
        )

    def close(self) -> None:
        """Flush, stop the background thread and the metrics server, close the file.

        Traced code keeps working: functions decorated with this observer, its ``span()``
        blocks and clients it instrumented record into the next observer of the same file
        (``llmobs_nb.init`` again) or, until there is one, run untraced (one warning).
        """
        if self._closed:
            return
        self._closing = True  # from here on, new calls do not start spans in this observer
        if self.capture is not None:
            self.capture.shutdown()
        for online in self._online:  # after the last spans ended, before the store closes
            online.close()
        if self.metrics is not None:
            self.metrics.close()
        if self._dashboard is not None:
            # Only the timer: closing widgets sends comm messages, which fail while a kernel
            # is shutting down (close() also runs at interpreter exit).
            self._dashboard.stop_auto_refresh()
        self._closed = True
        self.store.close()
        _forget(self)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- reads -------------------------------------------------------------------------------
    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one read-only query over the store (tables spans, scores, runs, prices; view
        llm_calls).

        Values go in as parameters (``?`` or ``$name``), never by string formatting. Read-only
        is enforced by DuckDB: its parser must classify the text as one read (SELECT, or
        EXPLAIN/DESCRIBE/SHOW/SUMMARIZE of one), it runs in a transaction that is rolled back,
        and the engine reaches no file outside the store; anything else raises
        ``PermissionError``. There is no writing counterpart: the store is written by capture
        (``observe``, ``span``, ``run``, ``score``). Answers come from what is stored; rows not
        written yet (a full disk) are named by a :class:`PendingRowsWarning`.

        Example:
            >>> obs.sql("select model, count(*) n from llm_calls where run = ? group by 1",
            ...         ["prompt-v2"])                                          # doctest: +SKIP
        """
        self._flush_for_read()
        return self.store.query(query, params)

    def calls(self) -> pl.DataFrame:
        """Every LLM call, one row each, with the ``llm_calls`` columns, oldest first."""
        return self.sql("SELECT * FROM llm_calls ORDER BY start_time")

    def spans(self) -> pl.DataFrame:
        """Every span (LLM or not), with all columns of the ``spans`` table."""
        return self.sql("SELECT * FROM spans ORDER BY start_time")

    def scores(self) -> pl.DataFrame:
        """The scores table: trace_id, span_id, name, value, source, comment, created_at, label."""
        return self.sql("SELECT * FROM scores ORDER BY created_at")

    def runs(self) -> pl.DataFrame:
        """The runs (experiments) recorded with :meth:`run`."""
        return self.sql("SELECT * FROM runs ORDER BY started_at")

    # -- metrics -----------------------------------------------------------------------------
    def metrics_text(self) -> str:
        """Prometheus text exposition of this observer's metrics (after a flush)."""
        self.flush()
        if self.metrics is None:
            raise PermissionError("a read-only observer has no live metrics")
        return str(self.metrics.text())

    def serve_metrics(self, port: int = 9464, addr: str = "127.0.0.1") -> Any:
        """Serve ``/metrics`` with prometheus_client's server; re-running is harmless.

        On loopback by default. Another ``addr`` (``"0.0.0.0"`` is every interface) logs a
        warning naming the URL and what it exposes (model names, use cases, costs…). A port
        that is taken raises :class:`llmobs_nb.metrics.server.PortInUseError` (an ``OSError``)
        naming what holds it; ``port=0`` picks a free port.

        Example:
            >>> server = obs.serve_metrics(port=9464)   # doctest: +SKIP
            >>> server.url                               # doctest: +SKIP
            'http://127.0.0.1:9464/metrics'
        """
        from llmobs_nb.metrics.server import PortInUseError

        if self.metrics is None:
            raise PermissionError("a read-only observer has no live metrics")
        try:
            return self.metrics.serve(port=port, addr=addr)
        except PortInUseError as exc:
            for other in live_observers():
                server = other.metrics.server if other.metrics is not None else None
                if other is not self and server is not None and server.port == port:
                    holder = (
                        f"the observer of {other.db_path} in this kernel, which serves "
                        f"{server.url} (close it, or call its metrics.close())"
                    )
                    raise PortInUseError(port, addr, holder) from exc
            raise

    # -- notebook display ---------------------------------------------------------------------
    def dashboard(self, **options: Any) -> Any:
        """The ipywidgets dashboard over this store (one per observer: re-running reuses it).

        Filters (time range, model, use case, run, user) drive every panel, all as SQL
        parameters; a trace explorer shows the slowest, most expensive and failed traces.

        Example:
            >>> obs.dashboard()   # doctest: +SKIP
        """
        from llmobs_nb.view import Dashboard

        self.flush()
        if self._dashboard is None or options:
            if self._dashboard is not None:
                self._dashboard.close()
            self._dashboard = Dashboard(self, **options)
        return self._dashboard

    def trace(self, trace_id: str) -> Any:
        """One trace: displays as a waterfall with each span's attributes, content and scores.

        Example:
            >>> obs.trace("4bf92f3577b34da6a3ce929d0e0e4736")   # doctest: +SKIP
        """
        from llmobs_nb.view import Trace

        self.flush()
        return Trace.load(self, trace_id)

    def _repr_html_(self) -> str:
        from llmobs_nb.view import observer_html

        return observer_html(self)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else ("closed" if self._closed else "capturing")
        return f"<Observer project={self.project!r} db={self.db_path!r} {mode}>"


# -- process-wide registry: re-running init() returns the same observer -----------------------
_OBSERVERS: dict[tuple[str, str], Observer] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(db: str | Path, project: str) -> tuple[str, str]:
    path = str(db)
    if path == ":memory:":
        return (path, project)
    return (str(Path(path).expanduser().resolve()), "")


def _forget(observer: Observer) -> None:
    with _REGISTRY_LOCK:
        for key, value in list(_OBSERVERS.items()):
            if value is observer:
                del _OBSERVERS[key]


def get_or_create(db: str | Path, project: str, **options: Any) -> tuple[Observer, bool]:
    """The live observer for ``db`` (created if needed) and whether it was created now."""
    key = _key(db, project)
    with _REGISTRY_LOCK:
        existing = _OBSERVERS.get(key)
        if existing is not None and not existing.closed:
            if existing.project != project:
                raise ValueError(
                    f"{existing.db_path} is already open in this process for project "
                    f"{existing.project!r}; close that observer first (obs.close()) or use "
                    f"another file for project {project!r}"
                )
            return existing, False
        observer = Observer(db, project, **options)
        observer._registry_key = key
        _OBSERVERS[key] = observer
        return observer, True


def live_observers() -> list[Observer]:
    with _REGISTRY_LOCK:
        return list(_OBSERVERS.values())


def observer_for_path(path: str) -> Observer | None:
    with _REGISTRY_LOCK:
        return _OBSERVERS.get((path, ""))


__all__ = ["Observer", "SpanHandle"]
