"""Span rows to an OTLP/HTTP endpoint through a child process, never holding up the traced code.

:class:`RowExport` is what ``Capture.export_otlp`` (``llmobs_nb.init(otlp_endpoint=...)``) adds.
It exports the rows the capture has just converted for the store, so what leaves the process is
exactly what the store keeps: redacted by the same rules, prompts and answers only when content
capture is on. The rows are translated into both conventions (OpenTelemetry GenAI and
OpenInference, :mod:`~llmobs_nb.otlp.encode`) and sent by a child process
(:mod:`~llmobs_nb.otlp.worker`, started with the export):

* the flush thread only appends the table to a bounded queue (:meth:`put_spans`): past
  ``max_rows`` waiting rows a table is dropped and counted, never waited for;
* one thread hands queued tables to the child's stdin as Arrow IPC frames (one frame for all
  that waits), another reads the child's acks (sent / failed per frame);
* encoding, protobuf and HTTP happen in the child, on another core and outside this process's
  GIL;
* :meth:`flush` and :meth:`close` wait at most ``close_timeout_s`` (the child starts with the
  export and is ready in about half a second); what the child has not confirmed by then is
  counted as ``unsent_at_close`` (it goes on sending what it holds, and a late answer
  corrects the count); one warning per ``warn_every_s`` gives the totals of what
  was dropped or failed.

Example:
    >>> export = RowExport("http://127.0.0.1:9/v1/traces", project="demo")
    >>> export.close(); export.stats["sent"]
    0
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from llmobs_nb.capture.redact import redact_attributes
from llmobs_nb.otlp.frames import SCORES, SPANS, write_frame

log = logging.getLogger("llmobs_nb")

#: How long after close a child that has not exited by itself is killed (see ``_stop``).
REAP_AFTER_S = 30.0
#: What is counted for spans, by name (``Capture.export_stats`` sums them over endpoints).
STATS = ("sent", "dropped_queue_full", "failed", "unsent_at_close")
#: The same for evaluation results (scores), sent as ``gen_ai.evaluation.result`` log events.
SCORE_STATS = ("scores_sent", "scores_failed", "scores_dropped")
#: Single attribute values encoding had to leave out (the rest of their span went).
ATTRIBUTE_STATS = ("attributes_dropped",)

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

# The child imports the OTLP modules and the store's schema only, not the packages' ``__init__``
# (which load DuckDB, the analytics and the rest): it starts in about half a second.
_BOOT = (
    "import sys, types\n"
    "for name, path in (('llmobs_nb', sys.argv[1]), ('llmobs_nb.store', sys.argv[1] + '/store')):\n"
    "    package = types.ModuleType(name); package.__path__ = [path]; sys.modules[name] = package\n"
    "from llmobs_nb.otlp.worker import main\n"
    "sys.exit(main())\n"
)


class RowExport:
    """Sends span rows and score rows to ``endpoint`` (an OTLP/HTTP traces URL, e.g.
    ``http://127.0.0.1:4318/v1/traces``) with ``headers``. See the module doc."""

    def __init__(
        self,
        endpoint: str,
        headers: dict[str, str] | None = None,
        *,
        project: str | None = None,
        resource: dict[str, Any] | None = None,
        max_rows: int = 65_536,
        close_timeout_s: float = 0.9,
        request_timeout_s: float = 5.0,
        warn_every_s: float = 60.0,
    ) -> None:
        self.endpoint = endpoint
        self.max_rows = max_rows
        self._request_timeout_s = request_timeout_s
        self.close_timeout_s = close_timeout_s
        self.warn_every_s = warn_every_s
        self.stats = dict.fromkeys(STATS + SCORE_STATS + ATTRIBUTE_STATS, 0)
        self._env = {
            **os.environ,
            "LLMOBS_OTLP_ENDPOINT": endpoint,
            "LLMOBS_OTLP_HEADERS": json.dumps(headers or {}),
            # the project name is text a user typed: redacted like every other
            "LLMOBS_OTLP_RESOURCE": json.dumps(redact_attributes(resource or _resource(project))),
            "LLMOBS_OTLP_TIMEOUT_S": str(request_timeout_s),
            "LLMOBS_OTLP_MAX_ROWS": str(max_rows),  # the child holds no more than the queue
            "PYTHONPATH": os.pathsep.join(
                p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p
            ),
        }
        self._owner = os.getpid()  # a forked child never writes into the parent's pipe
        self._lock = threading.Condition()
        self._queue: deque[tuple[bytes, pa.Table]] = deque()
        self._queued_rows = 0
        self._handed: deque[tuple[bytes, int]] = deque()  # frames the child has not answered
        self._in_hand = 0  # rows taken from the queue, not yet in a frame
        self._in_hand_kind = SPANS
        self._closed = False
        self._child: subprocess.Popen[bytes] | None = None
        self._acks: threading.Thread | None = None
        self._ready = threading.Event()  # the child has imported its modules
        self._restart_at = 0.0  # a child that died is not restarted before this
        self._last_problem: str | None = None
        self._warned_at = 0.0
        self._reported = dict(self.stats)
        self._feeder = threading.Thread(target=self._feed, name="llmobs-otlp-feed", daemon=True)
        self._feeder.start()

    # -- the flush thread: never waits ------------------------------------------------------------
    def put_spans(self, table: pa.Table) -> None:
        """Queue span rows (the columns of ``store.schema.SPANS``) for export."""
        self._put(SPANS, table)

    def put_scores(self, table: pa.Table) -> None:
        """Queue score rows (``store.schema.SCORES``) for export as evaluation events."""
        self._put(SCORES, table)

    def _put(self, kind: bytes, table: pa.Table) -> None:
        if table.num_rows == 0 or os.getpid() != self._owner:
            return
        with self._lock:
            if self._closed:
                self._count(kind, "unsent_at_close", table.num_rows)
            elif self._queued_rows + table.num_rows > self.max_rows:
                self._count(kind, "dropped_queue_full", table.num_rows)
            else:
                self._queue.append((kind, table))
                self._queued_rows += table.num_rows
                self._lock.notify_all()
        self._maybe_warn()

    # -- flush and close: bounded -----------------------------------------------------------------
    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every row queued so far is answered by the child (sent or failed), at
        most ``timeout_s`` (default ``close_timeout_s``); True if it was."""
        deadline = time.monotonic() + (self.close_timeout_s if timeout_s is None else timeout_s)
        with self._lock:
            while self._queue or self._handed or self._in_hand:
                left = deadline - time.monotonic()
                if left <= 0 or (self._child is None and self._closed):
                    return False
                self._lock.wait(min(left, 0.05))
            return True

    def close(self) -> None:
        """Send what waits for at most ``close_timeout_s``, then return. Rows the child has
        not confirmed by then are counted ``unsent_at_close`` and reported; the child, its
        stdin closed, goes on sending what it holds and exits (see ``_stop``),
        and an answer that still comes back (this process alive) moves its rows from
        ``unsent_at_close`` to ``sent`` or ``failed``. Rows never handed over are final."""
        if os.getpid() != self._owner:
            return
        self.flush()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for kind, table in self._queue:
                self._count(kind, "unsent_at_close", table.num_rows)
            if self._in_hand:  # taken by the feeder, not handed over: the feeder stops
                self._count(self._in_hand_kind, "unsent_at_close", self._in_hand)
                self._in_hand = 0
            for kind, rows in self._handed:  # not confirmed: an answer may still correct it
                self._count(kind, "unsent_at_close", rows)
            self._queue.clear()
            self._queued_rows = 0
            child = self._child
            self._lock.notify_all()
        if child is not None:
            _stop(child, self._request_timeout_s)
        self._maybe_warn(final=True)

    @property
    def problem(self) -> str | None:
        """The last reason the endpoint gave for refusing rows (None if none did)."""
        return self._last_problem

    # -- the feeder thread ------------------------------------------------------------------------
    def _feed(self) -> None:
        try:  # at once: the child's imports take a moment, better spent before the first rows
            self._stdin()
        except Exception as exc:
            self._child_lost(f"{type(exc).__name__}: {exc}")
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed:
                    break
                kind = self._queue[0][0]
                tables = []
                while self._queue and self._queue[0][0] == kind:  # one frame for all that waits
                    tables.append(self._queue.popleft()[1])
                rows = sum(t.num_rows for t in tables)
                self._queued_rows -= rows
                self._in_hand, self._in_hand_kind = rows, kind
            try:
                pipe = self._stdin()
            except Exception as exc:  # the child cannot start: those rows failed
                with self._lock:
                    if self._in_hand:  # (unless close counted them meanwhile)
                        self._count(kind, "failed", rows)
                    self._in_hand = 0
                self._child_lost(f"{type(exc).__name__}: {exc}")
                continue
            with self._lock:
                if self._closed:  # close counted them unsent_at_close: never handed over
                    break
                self._handed.append((kind, rows))  # answered in order by the child
                self._in_hand = 0
            try:
                write_frame(pipe, kind, pa.concat_tables(tables, promote_options="permissive"))
                pipe.flush()
            except Exception as exc:  # the child died: what it held failed
                self._child_lost(f"{type(exc).__name__}: {exc}")
        # Closed. Only this thread writes into the pipe, so only it ends it, between frames: a
        # close from elsewhere could cut a frame being written (its rows lost unanswered).
        child = self._child
        if child is not None and child.stdin is not None:
            with suppress(OSError, ValueError):
                child.stdin.close()  # the child sends what it holds and exits

    def _stdin(self) -> IO[bytes]:
        child = self._child
        if child is None or child.poll() is not None:
            if child is not None:  # its ack thread counts what it held before a new one starts
                if self._acks is not None:
                    self._acks.join(1.0)
                if time.monotonic() < self._restart_at:
                    raise RuntimeError("the export process died; restarting it shortly")
            child = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(Path(_PACKAGE_ROOT) / "llmobs_nb")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self._env,
                close_fds=True,
            )
            with self._lock:
                self._child = child
            self._acks = threading.Thread(
                target=self._read_acks, args=(child,), name="llmobs-otlp-acks", daemon=True
            )
            self._acks.start()
        assert child.stdin is not None
        return child.stdin

    def _child_lost(self, why: str) -> None:
        with self._lock:
            self._restart_at = time.monotonic() + 5.0
            self._last_problem = f"export process: {why}"
            while self._handed:
                kind, rows = self._handed.popleft()
                if not self._closed:  # after close they are counted unsent_at_close already
                    self._count(kind, "failed", rows)
            self._lock.notify_all()
        self._maybe_warn()

    # -- the ack thread ---------------------------------------------------------------------------
    def _read_acks(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            line = raw.decode("utf-8", "replace").strip()
            try:
                answer = json.loads(line)
                if answer == {"ready": True}:
                    self._ready.set()
                    continue
                sent, failed = int(answer["sent"]), int(answer["failed"])
            except (ValueError, KeyError, TypeError):
                if line:  # the child's own complaint (an import error, a traceback line)
                    log.debug("llmobs_nb export process: %s", line)
                    self._last_problem = f"export process: {line}"
                continue
            with self._lock:
                if not self._handed:  # a frame the child lost track of: nothing to match
                    continue
                kind, rows = self._handed.popleft()
                if self._closed:  # answered after close, which counted it as unsent
                    self._count(kind, "unsent_at_close", -rows)
                self._count(kind, "sent", sent)
                self._count(kind, "failed", failed)
                self.stats["attributes_dropped"] += int(answer.get("attributes_dropped") or 0)
                if answer.get("error"):
                    self._last_problem = str(answer["error"])
                self._lock.notify_all()
            if failed:
                self._maybe_warn()
        if not self._closed:  # ended before close: what it held is lost
            self._child_lost(f"exited with code {child.wait()}")

    # -- counting ---------------------------------------------------------------------------------
    def _count(self, kind: bytes, what: str, n: int) -> None:
        if kind == SCORES:
            what = {"sent": "scores_sent", "dropped_queue_full": "scores_dropped"}.get(
                what, "scores_failed"
            )
        self.stats[what] += n

    def _maybe_warn(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._warned_at < self.warn_every_s:
            return
        with self._lock:
            lost = {
                k: self.stats[k] - self._reported[k]
                for k in self.stats
                if k not in ("sent", "scores_sent", "attributes_dropped")
            }
            if not any(lost.values()):
                return
            self._reported = dict(self.stats)
            totals = {k: n for k, n in self.stats.items() if n}
        self._warned_at = now
        log.warning(
            "span export to %s: %s since the last report (totals: %s)%s",
            self.endpoint,
            ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in lost.items() if n),
            ", ".join(f"{k} {n}" for k, n in totals.items()),
            f"; last problem: {self._last_problem}" if self._last_problem else "",
        )


def _resource(project: str | None) -> dict[str, Any]:
    from llmobs_nb.otlp.conventions import resource_attributes

    return resource_attributes(project)


def _stop(child: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Reap ``child`` once the feeder has ended its stdin (``_feed``): it sends what it holds
    and exits (an endpoint that gives no answer costs it one request timeout, ``worker.run``);
    killed if it is still alive :data:`REAP_AFTER_S` later (a pipe too full for the end of
    stdin to arrive, an endpoint that answers a byte at a time). Not sooner: at the lowest
    priority on a machine whose cores are busy, a few spans can take the child seconds. On a
    daemon thread: close never waits. (If this process exits first, the child's own watchdog
    ends it: ``worker.main``.)"""

    def reap() -> None:
        try:
            child.wait(max(REAP_AFTER_S, timeout_s + 1.0))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    threading.Thread(target=reap, name="llmobs-otlp-reap", daemon=True).start()
