"""The export child process: reads row frames on stdin, sends them as OTLP/HTTP, acks on stdout.

Started by :class:`~llmobs_nb.otlp.row_export.RowExport` (``python -m llmobs_nb.otlp.worker``
works too) so that encoding (both conventions, protobuf) and the network never run in the traced
process: its caller pays only for handing an Arrow table to a pipe. Configuration comes in the
environment, never on the command line (headers carry tokens): ``LLMOBS_OTLP_ENDPOINT`` (the
traces URL), ``LLMOBS_OTLP_HEADERS`` and ``LLMOBS_OTLP_RESOURCE`` (JSON objects),
``LLMOBS_OTLP_TIMEOUT_S``, ``LLMOBS_OTLP_MAX_ROWS``.

Frames are answered in order, one JSON line each (:func:`~llmobs_nb.otlp.frames.ack`). Rows are
sent in requests of at most :data:`BATCH_ROWS`; consecutive small frames share a request. With
more than ``max_rows`` rows waiting (a slow or hung endpoint) the child stops reading, the pipe
fills, and the parent counts what it cannot hand over. At the end of stdin the child sends what
it holds, answers, and exits; once closing, an endpoint that gave no answer (refused, timed out
after ``timeout_s``) is not tried again: the rest is answered as failed at once.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa

from llmobs_nb.otlp.frames import SCORES, SPANS, ack, read_frame

#: Rows per OTLP request (receivers limit body sizes; Phoenix and collectors take this easily).
BATCH_ROWS = 512
#: Encodes a table with the stats given: (the request body, the rows it holds).
Encoder = Callable[[pa.Table, Any], tuple[bytes, int]]

#: How much lower than its parent the child runs where ``SCHED_IDLE`` is missing (``os.nice``,
#: see ``_lowest_priority``): encoding competes with the traced program for CPU only when a
#: core is free.
NICENESS = 19

#: HTTP statuses worth one more try (the OTLP/HTTP spec's retryable ones).
RETRYABLE = frozenset({429, 502, 503, 504})


@dataclass
class Config:
    """The child's settings, from its environment (see the module doc)."""

    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 5.0
    max_rows: int = 16_384

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Config:
        return cls(
            endpoint=env["LLMOBS_OTLP_ENDPOINT"],
            headers=json.loads(env.get("LLMOBS_OTLP_HEADERS") or "{}"),
            resource=json.loads(env.get("LLMOBS_OTLP_RESOURCE") or "{}"),
            timeout_s=float(env.get("LLMOBS_OTLP_TIMEOUT_S") or 5.0),
            max_rows=int(env.get("LLMOBS_OTLP_MAX_ROWS") or 16_384),
        )

    @property
    def logs_endpoint(self) -> str | None:
        """Where evaluation results go: the traces URL's ``/v1/logs`` sibling, if it has one."""
        if self.endpoint.rstrip("/").endswith("/v1/traces"):
            return self.endpoint.rstrip("/")[: -len("traces")] + "logs"
        return None


class Poster:
    """POSTs protobuf bodies to one URL over a kept-alive connection; one retry when the
    endpoint says so (or the connection broke)."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.netloc = parts.netloc
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.headers = {"Content-Type": "application/x-protobuf", **headers}
        self.timeout_s = timeout_s
        self.unreachable = False  # the last try got no HTTP answer at all (refused, timed out)
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[bool, str | None, int | None]:
        """(accepted, the problem if not, the HTTP status if one came back). One more try
        after a retryable status (200 ms later) or a kept-alive connection the server closed
        (at once); none after a refused connection or a timeout (the endpoint is down or hung)."""
        problem: str | None = None
        status: int | None = None
        for attempt in range(2):
            try:
                conn = self._connection()
                conn.request("POST", self.path, body=body, headers=self.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                self.unreachable = False
                if 200 <= status < 300:
                    return True, None, status
                problem = f"HTTP {status} {response.reason}"
                if status not in RETRYABLE:
                    return False, problem, status
                if attempt == 0:
                    time.sleep(0.2)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                self.unreachable = True
                self.close()
                if isinstance(exc, (ConnectionRefusedError, TimeoutError)):
                    return False, problem, None
        return False, problem, status

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self._conn = kind(self.netloc, timeout=self.timeout_s)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Inbox:
    """Frames read from stdin by a thread, at most ``max_rows`` rows held (then it waits)."""

    def __init__(self, source: IO[bytes], max_rows: int) -> None:
        self.frames: deque[tuple[bytes, pa.Table]] = deque()
        self.rows = 0
        self.ended = False
        self.max_rows = max_rows
        self._cond = threading.Condition()
        self._source = source
        threading.Thread(target=self._read, name="llmobs-otlp-read", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                frame = read_frame(self._source)
            except Exception as exc:  # a cut or garbled stream: end as if closed
                print(f"llmobs_nb export child: bad frame ({exc})", file=sys.stderr)
                frame = None
            with self._cond:
                if frame is None:
                    self.ended = True
                    self._cond.notify_all()
                    return
                while self.rows >= self.max_rows:
                    self._cond.wait()
                self.frames.append(frame)
                self.rows += frame[1].num_rows
                self._cond.notify_all()

    def take(self) -> list[tuple[bytes, pa.Table]] | None:
        """Consecutive frames of one kind, about :data:`BATCH_ROWS` rows (a bigger frame
        alone); waits for one; None once stdin ended and nothing is left."""
        with self._cond:
            while not self.frames and not self.ended:
                self._cond.wait()
            if not self.frames:
                return None
            taken = [self.frames.popleft()]
            rows = taken[0][1].num_rows
            while self.frames and self.frames[0][0] == taken[0][0] and rows < BATCH_ROWS:
                rows += self.frames[0][1].num_rows
                taken.append(self.frames.popleft())
            self.rows -= rows
            self._cond.notify_all()
            return taken


def run(config: Config, source: IO[bytes], answer: Callable[[str], None]) -> None:
    """Send every frame of ``source``; ``answer`` gets one ack line per frame, in order."""
    from llmobs_nb.otlp.conventions import Conventions
    from llmobs_nb.otlp.encode import EncodeStats, encode_scores, encode_spans

    conventions = Conventions.from_env()  # OTEL_SEMCONV_STABILITY_OPT_IN, read once

    def spans(table: pa.Table, stats: EncodeStats) -> tuple[bytes, int]:
        body = encode_spans(table, resource=config.resource, conventions=conventions, stats=stats)
        return body, stats.spans

    def scores(table: pa.Table, stats: EncodeStats) -> tuple[bytes, int]:
        return encode_scores(table, resource=config.resource, stats=stats), stats.scores

    traces = Poster(config.endpoint, config.headers, config.timeout_s)
    logs_url = config.logs_endpoint
    logs = None if logs_url is None else Poster(logs_url, config.headers, config.timeout_s)
    encoders = {SPANS: spans, SCORES: scores}
    answer(json.dumps({"ready": True}))
    inbox = Inbox(source, config.max_rows)
    while (frames := inbox.take()) is not None:
        kind = frames[0][0]
        poster = traces if kind == SPANS else logs
        if poster is None:
            for _, table in frames:
                answer(ack(0, table.num_rows, "no OTLP logs endpoint"))
            continue
        table = pa.concat_tables([t for _, t in frames], promote_options="permissive")
        outcome, attributes_dropped = _send(table, encoders[kind], poster, lambda: inbox.ended)
        for index, (_, part) in enumerate(frames):  # each frame's share, in order
            answer(_share(outcome, part.num_rows, attributes_dropped if index == 0 else 0))


def _send(
    table: pa.Table, encode: Encoder, poster: Poster, closing: Callable[[], bool]
) -> tuple[list[Any], int]:
    """Per row of ``table``, True if it was sent, else the problem; in requests of
    :data:`BATCH_ROWS` rows. Once ``closing()`` (stdin ended), an endpoint that did not answer
    is not tried again: a hung or down endpoint costs at most one request timeout after close,
    a slow one none. Also the attribute values encoding had to leave out."""
    from llmobs_nb.otlp.encode import EncodeStats

    outcome: list[Any] = []
    dropped = 0
    for start in range(0, table.num_rows, BATCH_ROWS):
        chunk = table.slice(start, BATCH_ROWS)
        if poster.unreachable and closing():
            outcome.extend(["closing: endpoint unreachable"] * chunk.num_rows)
            continue
        stats = EncodeStats()
        try:
            body, encoded = encode(chunk, stats)
            ok, problem, _ = poster.post(body) if body else (True, None, None)
        except Exception as exc:  # an encoding bug costs this request, not the child
            ok, problem, encoded = False, f"encoding failed: {type(exc).__name__}: {exc}", 0
        dropped += stats.attributes_dropped
        sent = encoded if ok else 0
        refused = problem or (stats.errors[-1] if stats.errors else "a row could not be encoded")
        outcome.extend([True] * sent + [refused] * (chunk.num_rows - sent))
    return outcome, dropped


def _share(outcome: list[Any], rows: int, attributes_dropped: int) -> str:
    mine = outcome[:rows]
    del outcome[:rows]
    sent = sum(1 for x in mine if x is True)
    problems = [x for x in mine if x is not True]
    return ack(sent, len(problems), problems[-1] if problems else None, attributes_dropped)


def _watch_parent(grace_s: float) -> None:
    """End this process ``grace_s`` after its parent is gone (a request in flight may finish):
    with a hung endpoint and a full inbox, the end of stdin may never be read."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        time.sleep(grace_s)
        os._exit(0)

    threading.Thread(target=watch, name="llmobs-otlp-watch", daemon=True).start()


def _lowest_priority() -> None:
    """Below the traced process: on a busy machine the program goes first. On Linux
    ``SCHED_IDLE`` (the policy for background jobs): this process never preempts the
    program's threads, one of which may hold the GIL the others wait for (with nice 19 alone
    that preemption showed as 3 ms stalls of traced calls). On a machine whose cores are all
    busy it gets next to no CPU: spans wait in the bounded queue (drops are counted), and a
    child still sending 30 s after close is reaped (``row_export.REAP_AFTER_S``). Elsewhere
    ``os.nice(NICENESS)``."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        if hasattr(os, "nice"):
            os.nice(NICENESS)


def main() -> int:
    """The child's entry point. It must import nothing heavier than pyarrow (no protobuf
    runtime: ``otlp.wire``): ``row_export`` starts it without the package's ``__init__``."""
    config = Config.from_env(dict(os.environ))
    out = sys.stdout
    _watch_parent(config.timeout_s)
    # The imports (most of the child's CPU time outside encoding) at the parent's priority: at
    # the lowest, a machine whose cores are busy would starve them for many seconds.
    import llmobs_nb.otlp.encode  # noqa: F401

    _lowest_priority()

    def answer(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    try:
        run(config, sys.stdin.buffer, answer)
    except BrokenPipeError:  # the parent is gone
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
