"""Online evaluation: score calls right after they return, off the caller's path.

``submit(call)`` is a non-blocking append to a bounded queue (a fraction of a microsecond);
one background thread runs the evaluators and writes scores in batches. When the queue is
full the call is not scored: it is counted in ``.dropped`` and a warning says so — never
silently lost, and never slowing the user's call.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

from llmobs_nb.capture.batcher import Batcher
from llmobs_nb.capture.redact import redact_text
from llmobs_nb.evals.protocol import CapturedCall, Evaluator, check_evaluators, source_of
from llmobs_nb.evals.score_rows import is_error, run_one, to_table, without_text

log = logging.getLogger("llmobs_nb")

_LIVE: weakref.WeakSet[OnlineEvaluator] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class _Worker:
    """What the background thread holds: never the OnlineEvaluator itself, so that a
    forgotten evaluator (a re-run notebook cell) is collected and its thread stops."""

    def __init__(
        self,
        obs: Any,
        evaluators: list[Evaluator],
        maxsize: int,
        batch_size: int,
        flush_interval_s: float,
    ) -> None:
        self.obs = obs
        self.evaluators = evaluators
        self.sources = [source_of(e) for e in evaluators]
        self.batch_size = batch_size
        self.flush_requested = False
        self.processed = 0  # calls taken off the queue and evaluated (this thread only)
        self.written = 0  # calls whose scores are stored (or failed to store)
        self.scores = 0
        self.errors = 0
        self.failed_writes = 0
        self.progress = threading.Condition()
        self.rows: list[dict[str, Any]] = []
        self.last_write = time.monotonic()
        # Woken by every submit; a partial batch of scores waits at most flush_interval_s.
        self.batcher: Batcher[CapturedCall] = Batcher(
            self.run_once,
            name="llmobs-online-eval",
            interval_s=flush_interval_s,
            maxsize=maxsize,
            finish=True,
            start=False,
        )

    def run_once(self, final: bool) -> None:
        """Evaluate every queued call; store the scores when a batch is full or due, or when
        a drain or the final round (``final``) asks."""
        queue = self.batcher.items
        rows = self.rows
        while queue:
            call = queue.popleft()
            for evaluator, source in zip(self.evaluators, self.sources, strict=True):
                scored = run_one(evaluator, call, source)
                if not self.obs.capture_content:  # no prompt or answer text in comments
                    scored = without_text(scored)
                self._record_metrics(call, scored)
                rows.extend(scored)
            self.processed += 1
            if len(rows) >= self.batch_size:
                rows = self.rows = self._write(rows)
            # Hand the GIL back after each call: a user thread waiting for it runs now,
            # not after the interpreter's 5 ms switch interval.
            time.sleep(0)
        # Scores are stored in batches: one DuckDB insert per call would cost more than
        # the evaluations. A partial batch waits at most flush_interval_s, or a drain().
        due = time.monotonic() - self.last_write >= self.batcher.interval_s
        if rows and (due or self.flush_requested or final):
            rows = self.rows = self._write(rows)
        if not rows:
            self.last_write = time.monotonic()
            self.flush_requested = False
            with self.progress:
                self.written = self.processed
                self.progress.notify_all()

    def _write(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            self.obs.store.write_scores(to_table(rows))
        except Exception as error:
            self.failed_writes += len(rows)
            log.warning(
                "online evaluation could not store %d scores (%s: %s)",
                len(rows),
                type(error).__name__,
                redact_text(str(error)),
            )
            return []
        errors = sum(is_error(r) for r in rows)
        self.errors += errors
        self.scores += len(rows) - errors
        with self.progress:
            self.written = self.processed
            self.progress.notify_all()
        return []

    def _record_metrics(self, call: CapturedCall, rows: list[dict[str, Any]]) -> None:
        # The llm_quality_score histogram is labelled by the call's model and use case,
        # which the captured attributes carry.
        metrics = getattr(self.obs, "metrics", None)
        if metrics is None:
            return
        attributes = call.attributes or {}
        model = attributes.get("gen_ai.request.model")
        use_case = attributes.get("llmobs.use_case")
        for row in rows:
            if row["value"] is not None:
                try:
                    metrics.record_score(model, use_case, row["value"])
                except Exception:
                    return  # metrics are best effort; the scores are stored


class OnlineEvaluator:
    """Score each submitted call in the background with ``evaluators``.

    One worker thread, started here. Re-creating an OnlineEvaluator for the same observer
    and evaluators (re-running a notebook cell) closes the old one first, so threads never
    pile up. ``submit`` never blocks: past ``maxsize`` queued calls it drops the call, counts
    it in ``dropped`` and warns. ``drain()`` waits until everything submitted is stored;
    ``close()`` drains and stops the thread (also done at interpreter exit).

    Example:
        >>> online = OnlineEvaluator(obs, [NonEmpty(), Refusal()])           # doctest: +SKIP
        >>> online.submit(CapturedCall(span_id, trace_id, question, answer, {}))  # doctest: +SKIP
        >>> online.drain(); online.dropped                                    # doctest: +SKIP
        0
    """

    def __init__(
        self,
        obs: Any,
        evaluators: Sequence[Evaluator] | Evaluator,
        *,
        maxsize: int = 10_000,
        batch_size: int = 200,
        flush_interval_s: float = 0.5,
    ) -> None:
        if getattr(obs, "read_only", False):
            raise PermissionError("online evaluation writes scores: use llmobs_nb.init(db=...)")
        checked = check_evaluators(evaluators)
        for name, value in (("maxsize", maxsize), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0, got {flush_interval_s!r}")
        bound = [e.bind(obs) if callable(getattr(e, "bind", None)) else e for e in checked]
        self.obs = obs
        self.maxsize = maxsize
        self.sources = tuple(source_of(e) for e in bound)
        self._closed = False
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._worker = _Worker(obs, bound, maxsize, batch_size, flush_interval_s)
        self._batcher = self._worker.batcher
        with _LIVE_LOCK:
            previous = [o for o in _LIVE if o.obs is obs and o.sources == self.sources]
            _LIVE.add(self)
        for old in previous:
            old.close()
        self._batcher.start()
        weakref.finalize(self, self._batcher.stop)

    def submit(self, call: CapturedCall) -> bool:
        """Queue ``call`` for scoring; True if queued, False if dropped (queue full, closed).

        Non-blocking: an append and, when the worker sleeps, one wake-up.
        """
        if not self._closed and self._batcher.put(call):
            return True
        self._drop()
        return False

    def _drop(self) -> None:
        with self._drop_lock:
            self._dropped += 1
            first = self._dropped == 1
        if first:
            why = "it is closed" if self._closed else f"its queue is full ({self.maxsize} calls)"
            message = (
                f"online evaluation dropped a call because {why}; dropped calls are counted "
                f"in .dropped — raise maxsize=, or score later with evaluate()"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=3)
            log.warning(message)

    @property
    def dropped(self) -> int:
        """Calls submitted but not scored because the queue was full (or closed)."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Calls queued and not yet stored."""
        return len(self._batcher.items) + self._worker.processed - self._worker.written

    def stats(self) -> dict[str, int]:
        """Counts so far: ``accepted``, ``dropped``, ``pending``, ``scores`` and ``errors``
        stored, and ``failed_writes`` (score rows the store refused).

        Example:
            >>> online.stats()   # doctest: +SKIP
            {'accepted': 10000, 'dropped': 0, 'pending': 0, 'scores': 20000, 'errors': 0, ...}
        """
        worker = self._worker
        return {
            "accepted": worker.processed + len(self._batcher.items),
            "dropped": self._dropped,
            "pending": self.pending,
            "scores": worker.scores,
            "errors": worker.errors,
            "failed_writes": worker.failed_writes,
        }

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every call submitted so far is scored and stored; False on timeout."""
        worker = self._worker
        target = worker.processed + len(self._batcher.items)
        deadline = None if timeout is None else time.monotonic() + timeout
        worker.flush_requested = True
        self._batcher.wake()
        with worker.progress:
            while worker.written < target and self._batcher.alive:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                worker.progress.wait(0.1 if left is None else min(left, 0.1))
        return worker.written >= target

    def close(self, timeout: float | None = 30.0) -> None:
        """Score what is queued, store it, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._batcher.close(timeout)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self._dropped:
            log.warning("online evaluation dropped %d calls in all", self._dropped)

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        return (
            f"<OnlineEvaluator {', '.join(self.sources)} {state} "
            f"pending={self.pending} dropped={self._dropped}>"
        )


def _close_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for online in live:
        online.close(timeout=5.0)


# Registered after llmobs_nb's own exit hook, so it runs first: scores are stored before
# the observers close their files.
atexit.register(_close_all)
