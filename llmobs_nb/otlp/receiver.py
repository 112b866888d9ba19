"""The notebook as an OTLP/HTTP receiver: ``POST /v1/traces`` (protobuf or JSON, gzip or not)
on 127.0.0.1, each decoded span handed to a callback (the observer's processor ``on_end``, so
row conversion, redaction, content policy and third-party rules apply as to its own spans).
``POST /v1/logs`` takes log records the same ways: they are handed to ``on_logs`` (the
observer keeps ``gen_ai.evaluation.result`` events as scores); the records it does not keep
are counted in ``logs_ignored``, the malformed ones in ``logs_refused``.

Answers per the OTLP/HTTP specification: 200 with an ``ExportTraceServiceResponse`` (its
``partial_success`` counts refused spans), 400 for an undecodable body, 404 for another path,
411 without a length, 413 over ``max_bytes`` (compressed or not), 415 for another content type,
503 on a kept-alive connection once the receiver is closed.
Several processes (any language) may send to one receiver: that is the answer to "many
writers, one store" (DuckDB allows one writer per file).

Example:
    >>> received = []
    >>> with OtlpReceiver(received.append) as receiver:
    ...     receiver.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan

from llmobs_nb.otlp.decode import (
    DecodeError,
    DecodeResult,
    LogEvent,
    LogsResult,
    decode_logs,
    decode_request,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 16 * 1024 * 1024  # per request, after decompression
PROTOBUF, JSON = "application/x-protobuf", "application/json"
# HTTP status → google.rpc.Code for the error body: NOT_FOUND, RESOURCE_EXHAUSTED,
# UNAVAILABLE, else INVALID_ARGUMENT.
_RPC_CODES = {404: 5, 413: 8, 503: 14}


class BodyTooLargeError(ValueError):
    """A request body (or what it decompresses to) is over the receiver's limit."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def gunzip(body: bytes, limit: int) -> bytes:
    """``body`` decompressed, refusing (``BodyTooLargeError``) more than ``limit`` bytes.

    Example:
        >>> import gzip
        >>> gunzip(gzip.compress(b"abc"), 10)
        b'abc'
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"not gzip: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLargeError(f"the body decompresses to more than {limit} bytes")
    return out


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on ``host:port`` (port 0: any free port) in a daemon thread.

    ``on_span`` is called once per decoded span; a span it raises on is refused (counted in
    ``spans_refused``), never the request. ``close()`` is idempotent and returns within a
    second. Another host than loopback must be asked for and logs a warning.

    Example:
        >>> receiver = OtlpReceiver(lambda span: None, port=0)
        >>> receiver.port > 0
        True
        >>> receiver.close(); receiver.close(); receiver.closed
        True
    """

    def __init__(
        self,
        on_span: Callable[[ReadableSpan], None],
        port: int = 0,
        host: str = "127.0.0.1",
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_logs: Callable[[list[LogEvent]], int] | None = None,
    ) -> None:
        if not is_loopback(host):
            log.warning(
                "llmobs_nb OTLP receiver listens on %s:%s: any machine that can reach it can "
                "write spans into this store (no authentication)",
                host,
                port,
            )
        self.on_span, self.host, self.max_bytes = on_span, host, max_bytes
        # Given a request's log records, keeps what it wants and returns how many it ignored.
        self.on_logs = on_logs
        self.logs_received = 0  # log records decoded
        self.logs_ignored = 0  # decoded, not kept (not an evaluation event, no on_logs)
        self.logs_refused = 0  # malformed, or on_logs raised
        self.scores: Any = None  # what keeps evaluation events, if any: its counts() join ours
        self._lock = threading.Lock()
        self.spans_received = 0  # handed to on_span
        self.spans_refused = 0  # malformed, or on_span raised
        self.requests = 0
        self.requests_refused = 0  # answered 4xx (or 503 once closed)
        self.closed = False
        self._pid = os.getpid()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"llmobs_nb-otlp-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The endpoint to give an OTLP exporter, e.g. ``http://127.0.0.1:4318/v1/traces``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1/traces"

    @property
    def logs_url(self) -> str:
        """The endpoint for an OTLP log exporter (evaluation events), ``.../v1/logs``."""
        return self.url[: -len("traces")] + "logs"

    def receive(self, result: DecodeResult) -> DecodeResult:
        """Hand the decoded spans to ``on_span``; those it raises on are refused (counted)."""
        accepted = 0
        for span in result.spans:
            try:
                self.on_span(span)
                accepted += 1
            except Exception as exc:
                result.refuse(f"span {span.name!r}", exc)
        with self._lock:
            self.requests += 1
            self.spans_received += accepted
            self.spans_refused += result.refused
        if result.refused:  # counted here, told to the sender in partial_success, and logged
            log.warning("OTLP receiver refused %d span(s): %s", result.refused, result.errors[:3])
        return result

    def receive_logs(self, result: LogsResult) -> LogsResult:
        """Hand the decoded log records to ``on_logs``; count those ignored and refused."""
        ignored = len(result.events)
        if self.on_logs is not None and result.events:
            try:
                ignored = self.on_logs(result.events)
            except Exception as exc:  # the whole request's records are refused, and said
                result.refused += len(result.events)
                result.errors.append(f"log records not kept: {type(exc).__name__}: {exc}")
                ignored = 0
        with self._lock:
            self.requests += 1
            self.logs_received += len(result.events)
            self.logs_ignored += ignored
            self.logs_refused += result.refused
        if result.refused:
            log.warning(
                "OTLP receiver refused %d log record(s): %s", result.refused, result.errors[:3]
            )
        return result

    def counts(self) -> dict[str, int]:
        """Requests and spans so far.

        Example:
            >>> OtlpReceiver(print).counts()["spans_received"]   # doctest: +SKIP
            0
        """
        with self._lock:
            return {
                "requests": self.requests,
                "requests_refused": self.requests_refused,
                "spans_received": self.spans_received,
                "spans_refused": self.spans_refused,
                "logs_received": self.logs_received,
                "logs_ignored": self.logs_ignored,
                "logs_refused": self.logs_refused,
            } | (self.scores.counts() if self.scores is not None else {})

    def _refused_request(self) -> None:
        with self._lock:
            self.requests_refused += 1

    def close(self) -> None:
        """Stop serving and free the port (idempotent; within a second)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if os.getpid() != self._pid:  # a forked child: the serving thread is the parent's
            self._server.server_close()
            return
        self._server.shutdown()  # the serve loop polls every 0.1 s
        self._server.server_close()
        self._thread.join(timeout=1)

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<OtlpReceiver {self.url} {state} received={self.spans_received}>"


def _handler_for(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = receiver

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: OtlpReceiver
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is dropped after this many seconds

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("otlp receiver: " + format, *args)

    def do_POST(self) -> None:
        if self.owner.closed:  # a kept-alive connection outlives close(): nothing more taken
            return self._fail(503, "this receiver is closed")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        path = self.path.split("?")[0].rstrip("/")
        if path not in ("/v1/traces", "/v1/logs"):
            return self._fail(
                404, f"no such path {self.path}; send traces to /v1/traces, logs to /v1/logs"
            )
        if content_type not in (PROTOBUF, JSON):
            return self._fail(415, f"content type must be {PROTOBUF} or {JSON}")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._fail(411, "a Content-Length is required")
        limit = self.owner.max_bytes
        if int(length) > limit:
            self._discard(int(length), 4 * limit)  # else the sender sees a broken pipe
            return self._fail(413, f"the body is over {limit} bytes")
        body = self.rfile.read(int(length))
        try:
            encoding = (self.headers.get("Content-Encoding") or "").strip().lower()
            if encoding == "gzip":
                body = gunzip(body, limit)
            elif encoding not in ("", "identity"):
                return self._fail(415, f"unsupported Content-Encoding {encoding!r}")
            if path == "/v1/logs":
                response: Any = self._logs_response(decode_logs(body, content_type))
            else:
                response = self._traces_response(decode_request(body, content_type))
        except BodyTooLargeError as exc:
            return self._fail(413, str(exc))
        except DecodeError as exc:
            return self._fail(400, str(exc), content_type)
        if content_type == JSON:
            self._send(200, JSON, json_format.MessageToJson(response).encode())
        else:
            self._send(200, PROTOBUF, response.SerializeToString())

    def _traces_response(self, decoded: DecodeResult) -> ExportTraceServiceResponse:
        result = self.owner.receive(decoded)
        response = ExportTraceServiceResponse()
        if result.refused:
            response.partial_success.rejected_spans = result.refused
            response.partial_success.error_message = "; ".join(result.errors)[:2000]
        return response

    def _logs_response(self, decoded: LogsResult) -> ExportLogsServiceResponse:
        result = self.owner.receive_logs(decoded)
        response = ExportLogsServiceResponse()
        if result.refused:
            response.partial_success.rejected_log_records = result.refused
            response.partial_success.error_message = "; ".join(result.errors)[:2000]
        return response

    def _discard(self, length: int, at_most: int) -> None:
        left = min(length, at_most)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)

    def _fail(self, code: int, message: str, content_type: str = PROTOBUF) -> None:
        """An error answer with a ``google.rpc.Status`` body (OTLP/HTTP); the connection is
        closed, as an unread body would be taken for the next request."""
        self.owner._refused_request()
        self.close_connection = True
        status = Status(code=_RPC_CODES.get(code, 3), message=message)
        if content_type == JSON:
            self._send(code, JSON, json_format.MessageToJson(status).encode(), close=True)
        else:
            self._send(code, PROTOBUF, status.SerializeToString(), close=True)

    def _send(self, code: int, content_type: str, body: bytes, close: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
