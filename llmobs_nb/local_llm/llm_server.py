"""A small OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 for tests and demos.

It answers the real SDKs with deterministic text or tool calls (:mod:`.tool_calls`), usage
counted from the request or configured, latency, time to first token and inter-chunk delays,
and can be told to fail the next requests with an HTTP error, to hang, or to call a tool.
Built on the standard library only (``http.server.ThreadingHTTPServer``).
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from llmobs_nb.local_llm import anthropic_payloads, openai_payloads, tool_calls
from llmobs_nb.local_llm.reply import Reply, SSEEvent, Usage, counted_usage, split_text
from llmobs_nb.local_llm.serving import StartStop

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "x-goog-api-key"}
)
_ROUTES = frozenset({"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/messages"})
_CHAT_ROUTES = frozenset({"/v1/chat/completions", "/v1/messages"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: what a test checks the client sent.

    ``headers`` have lower-case names; API keys and bearer tokens read ``[REDACTED]``.
    ``body`` is the parsed JSON body (None when there was none).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(repr=False)


@dataclass(frozen=True)
class _Fault:
    status: int | None = None
    retry_after_s: float = 0.0
    hang_s: float = 0.0
    after_chunks: int = 0


class _Checked:
    """A public setting whose new values are checked, so a bad value fails where it is set."""

    def __init__(self, check: Callable[[str, Any], Any]) -> None:
        self._check = check

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else obj.__dict__[self._name]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self._name] = self._check(self._name, value)


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def _usage(name: str, value: Any) -> Usage | None:
    if value is not None and not isinstance(value, Usage):
        raise TypeError(f"{name} must be a llmobs_nb.local_llm.Usage or None, got {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r}")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _responder(name: str, value: Any) -> Callable[[dict[str, Any]], str] | None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function of the request body or None, got {value!r}")
    return value


class LLMTestServer(StartStop):
    """An OpenAI- and Anthropic-compatible server on 127.0.0.1, used as a context manager.

    Endpoints: ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings`` (OpenAI)
    and ``/v1/messages`` (Anthropic), plain or streamed; ``GET /health``.
    Every answer is ``reply`` (streamed as ``chunks`` deltas) with ``usage``, except that chat
    completions and messages call a tool when the request offers tools and answer tool results
    with text built from them (rules in :mod:`llmobs_nb.local_llm.tool_calls`). ``usage=None``
    (the default) counts the tokens of the whole request (every turn, the tool definitions) and
    of the answer. A non-streamed answer is sent after ``latency_s``; a stream sends its headers
    at once, its first event ``ttft_s`` later and each further chunk ``inter_chunk_s`` after
    the previous one. ``respond``, when given, is a function of the request's JSON body that
    returns the answer text instead of ``reply`` (e.g. ``scripted_judge`` of
    :mod:`llmobs_nb.local_llm.scripted_judge`); if it raises or returns no str, the request
    gets an HTTP 500 saying why. The settings can be changed between requests; ``queue_errors``,
    ``hang_next`` and ``queue_tool_calls`` script the next requests. Responses carry
    ``x-request-id`` (OpenAI) or ``request-id`` (Anthropic).

    Example:
        >>> import openai
        >>> with LLMTestServer(reply="Paris.", usage=Usage(input_tokens=20)) as server:
        ...     client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...     answer = client.chat.completions.create(model="gpt-4o-mini", messages=[])
        >>> answer.choices[0].message.content, answer.usage.prompt_tokens
        ('Paris.', 20)
    """

    reply = _Checked(_text)
    chunks = _Checked(_positive_int)
    usage = _Checked(_usage)
    latency_s = _Checked(_seconds)
    ttft_s = _Checked(_seconds)
    inter_chunk_s = _Checked(_seconds)
    response_model = _Checked(_optional_text)
    embedding_dim = _Checked(_positive_int)
    respond = _Checked(_responder)

    def __init__(
        self,
        *,
        reply: str = "The capital of France is Paris.",
        chunks: int = 4,
        usage: Usage | None = None,
        latency_s: float = 0.0,
        ttft_s: float = 0.0,
        inter_chunk_s: float = 0.0,
        response_model: str | None = None,
        embedding_dim: int = 8,
        port: int = 0,
        respond: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        """Configure the server; ``start()`` (or ``with``) binds 127.0.0.1:``port``.

        ``usage`` is reported as is by every answer; None counts it from each request.
        ``response_model`` is the model name answers report; None echoes the requested one.
        ``port=0`` takes a free port. ``respond(body) -> str`` answers chat, messages and
        responses requests in place of ``reply`` (None: ``reply``).
        """
        self.reply = reply
        self.chunks = chunks
        self.usage = usage
        self.latency_s = latency_s
        self.ttft_s = ttft_s
        self.inter_chunk_s = inter_chunk_s
        self.response_model = response_model
        self.embedding_dim = embedding_dim
        self.respond = respond
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535 (0 picks a free port), got {port!r}")
        self._requested_port = port
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._scripted_calls: deque[tool_calls.ScriptedCall] = deque()
        self._requests: list[RecordedRequest] = []
        self._count = 0
        self._stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LLMTestServer:
        """Bind 127.0.0.1 and serve in a daemon thread; returns the server itself."""
        if self._httpd is not None:
            raise RuntimeError(f"LLMTestServer is already running at {self.url}")
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", self._requested_port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LLMTestServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hanging requests, close every connection and the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = dict(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        for thread in [self._thread, *connections.values()]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (a free one when the server was made with ``port=0``)."""
        if self._httpd is None:
            raise RuntimeError("LLMTestServer is not running: use `with LLMTestServer() as s:`")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the base URL for ``anthropic.Anthropic(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the base URL for ``openai.OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    # -- scripting and inspection ----------------------------------------------------------

    def queue_errors(self, statuses: Iterable[int], *, retry_after_s: float = 0.01) -> None:
        """Make the next API requests fail, one per status, in order.

        Each gets the error JSON its SDK expects (OpenAI's or Anthropic's by path). A 429
        carries ``retry-after-ms`` (which both SDKs prefer) and ``retry-after`` in whole
        seconds, so SDK retries wait ``retry_after_s``.

        Example:
            >>> with LLMTestServer() as server:
            ...     server.queue_errors([429, 500])
        """
        faults = []
        for status in statuses:
            if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError(f"error status must be an int in 400..599, got {status!r}")
            faults.append(
                _Fault(status=status, retry_after_s=_seconds("retry_after_s", retry_after_s))
            )
        with self._lock:
            self._faults.extend(faults)

    def hang_next(self, seconds: float, *, after_chunks: int = 0) -> None:
        """Make the next API request wait ``seconds`` before answering, to provoke timeouts.

        With ``after_chunks=k`` a streamed answer sends its first k chunks and then waits (a
        stream that stalls half way); a non-streamed answer waits before anything is sent.
        Stopping the server ends the wait.

        Example:
            >>> with LLMTestServer() as server:
            ...     server.hang_next(5.0)
        """
        seconds = _seconds("seconds", seconds)
        if isinstance(after_chunks, bool) or not isinstance(after_chunks, int) or after_chunks < 0:
            raise ValueError(f"after_chunks must be an int >= 0, got {after_chunks!r}")
        with self._lock:
            self._faults.append(_Fault(hang_s=seconds, after_chunks=after_chunks))

    def queue_tool_calls(
        self, name: str, arguments: dict[str, Any] | None = None, *, times: int = 1
    ) -> None:
        """Make the next ``times`` chat answers call the tool ``name`` with ``arguments``.

        Whatever the request says (tools or not, ``tool_choice``, a tool result last), each of
        the next ``times`` chat completions or messages answers is this call, as a
        ``tool_calls`` (OpenAI) or ``tool_use`` (Anthropic) reply; the same call again and
        again is a tool loop. ``arguments=None`` builds them from the request's schema for
        ``name``. A request answered with a scripted error (``queue_errors``) does not use one,
        so an SDK's retry gets the call.

        Example:
            >>> import openai
            >>> with LLMTestServer() as server:
            ...     server.queue_tool_calls("search", {"query": "refund policy"}, times=2)
            ...     client = openai.OpenAI(base_url=server.base_url, api_key="test")
            ...     answer = client.chat.completions.create(model="gpt-4o", messages=[])
            >>> answer.choices[0].message.tool_calls[0].function.arguments
            '{"query":"refund policy"}'
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"tool name must be a non-empty str, got {name!r}")
        if arguments is not None:
            if not isinstance(arguments, dict):
                raise TypeError(f"arguments must be a dict or None, got {arguments!r}")
            # a copy, checked here rather than in a handler thread
            arguments = json.loads(json.dumps(arguments))
        times = _positive_int("times", times)
        with self._lock:
            self._scripted_calls.extend([tool_calls.ScriptedCall(name, arguments)] * times)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The API requests received so far, oldest first (a copy; ``GET /health`` excluded)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget recorded requests and drop scripted errors, hangs and tool calls not yet used."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._scripted_calls.clear()

    # -- serving (runs in handler threads) -------------------------------------------------

    def _track(self, connection: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections[connection] = threading.current_thread()
            else:
                self._connections.pop(connection, None)

    def _serve(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if handler.command == "GET" and path in ("/health", "/v1/health"):
            _send_json(handler, 200, {"status": "ok"}, {})
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        known = handler.command == "POST" and path in _ROUTES
        number, fault = self._record(handler, path, body, takes_fault=known)
        anthropic = path == "/v1/messages"
        request_id = f"req_{number:012d}"
        headers = {"request-id" if anthropic else "x-request-id": request_id}
        if not known:
            error = openai_payloads.error_body(404)
            error["error"]["message"] = f"Unknown endpoint {handler.command} {path}."
            _send_json(handler, 404, error, headers)
            return
        if not isinstance(body, dict):
            _send_json(handler, 400, _error_body(400, anthropic, request_id), headers)
            return
        stream = body.get("stream") is True
        stall = fault is not None and fault.hang_s > 0 and stream and fault.after_chunks > 0
        # A stream told to stall after some chunks waits in _send_stream, not here.
        hang_now_s = fault.hang_s if fault is not None and not stall else 0.0
        if hang_now_s and self._stopping.wait(hang_now_s):
            handler.close_connection = True
            return
        if fault is not None and fault.status is not None:
            if fault.status == 429:
                headers["retry-after-ms"] = str(round(fault.retry_after_s * 1000))
                headers["retry-after"] = str(max(1, math.ceil(fault.retry_after_s)))
            error_body = _error_body(fault.status, anthropic, request_id)
            _send_json(handler, fault.status, error_body, headers)
            return
        try:
            reply = self._reply(path, body, number)
        except _ResponderError as error:
            failure = _error_body(500, anthropic, request_id)
            failure["error"]["message"] = str(error)
            _send_json(handler, 500, failure, headers)
            return
        if path == "/v1/embeddings":
            dimensions = int(body.get("dimensions") or self.embedding_dim)
            payload = openai_payloads.embeddings(
                body, model=reply.model, usage=reply.usage, dimensions=dimensions
            )
            self._send_after_latency(handler, payload, headers)
        elif not stream:
            build = {
                "/v1/chat/completions": openai_payloads.chat_completion,
                "/v1/responses": openai_payloads.response,
                "/v1/messages": anthropic_payloads.message,
            }[path]
            self._send_after_latency(handler, build(reply), headers)
        else:
            hang = (fault.after_chunks, fault.hang_s) if fault is not None and stall else None
            self._send_stream(handler, _stream_groups(path, body, reply), headers, hang)

    def _reply(self, path: str, body: dict[str, Any], number: int) -> Reply:
        """The answer to an API request that gets one: text or tool call, chunks and usage."""
        text, call = self.reply, None
        respond = self.respond
        if respond is not None and path != "/v1/embeddings":
            text = _responded(respond, body)
        if path in _CHAT_ROUTES:
            with self._lock:
                scripted = self._scripted_calls.popleft() if self._scripted_calls else None
            text, call = tool_calls.answer(
                body, anthropic=path == "/v1/messages", text=text, scripted=scripted
            )
        streamed = text if call is None else call.arguments_json
        output = text if call is None else f"{call.name} {streamed}"
        usage = self.usage
        return Reply(
            text=text,
            chunks=tuple(split_text(streamed, self.chunks)),
            usage=usage if usage is not None else counted_usage(body, output),
            model=self.response_model or str(body.get("model") or "unknown-model"),
            number=number,
            created=int(time.time()),
            tool_call=call,
        )

    def _record(
        self, handler: _Handler, path: str, body: Any, *, takes_fault: bool
    ) -> tuple[int, _Fault | None]:
        """Record the request; return its number and the scripted fault it takes, if any."""
        headers = {
            name.lower(): "[REDACTED]" if name.lower() in _SECRET_HEADERS else value
            for name, value in handler.headers.items()
        }
        with self._lock:
            self._count += 1
            self._requests.append(
                RecordedRequest(handler.command, path, headers, body, received_at=time.time())
            )
            fault = self._faults.popleft() if takes_fault and self._faults else None
            return self._count, fault

    def _send_after_latency(
        self, handler: _Handler, payload: dict[str, Any], headers: dict[str, str]
    ) -> None:
        if self._stopping.wait(self.latency_s):
            handler.close_connection = True
            return
        _send_json(handler, 200, payload, headers)

    def _send_stream(
        self,
        handler: _Handler,
        groups: list[list[SSEEvent]],
        headers: dict[str, str],
        hang: tuple[int, float] | None,
    ) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream; charset=utf-8")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("transfer-encoding", "chunked")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.flush()
        ttft_s, inter_chunk_s = self.ttft_s, self.inter_chunk_s
        for index, group in enumerate(groups):
            delay = ttft_s if index == 0 else inter_chunk_s
            if hang is not None and hang[0] == index:
                delay += hang[1]
            if self._stopping.wait(delay):
                handler.close_connection = True
                return
            data = "".join(_sse(name, text) for name, text in group).encode()
            # One HTTP chunk per group, flushed at once: the client sees it now, not later.
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


class _ResponderError(Exception):
    """The ``respond`` function failed: the request is answered with an HTTP 500."""


def _responded(respond: Callable[[dict[str, Any]], str], body: dict[str, Any]) -> str:
    try:
        text = respond(body)
    except Exception as error:
        raise _ResponderError(f"respond function failed: {error!r}") from error
    if not isinstance(text, str):
        raise _ResponderError(f"respond function returned {type(text).__name__}, not str")
    return text


def _stream_groups(path: str, body: dict[str, Any], reply: Reply) -> list[list[SSEEvent]]:
    if path == "/v1/chat/completions":
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return openai_payloads.chat_completion_stream(reply, include_usage=include_usage)
    if path == "/v1/responses":
        return openai_payloads.response_stream(reply)
    return anthropic_payloads.message_stream(reply)


def _error_body(status: int, anthropic: bool, request_id: str) -> dict[str, Any]:
    if anthropic:
        return anthropic_payloads.error_body(status, request_id)
    return openai_payloads.error_body(status)


def _sse(name: str | None, data: str) -> str:
    return (f"event: {name}\n" if name else "") + f"data: {data}\n\n"


def _send_json(
    handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]
) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: LLMTestServer
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or went away mid-answer is part of the tests, not a failure.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: small SSE writes leave at once instead of waiting on Nagle's algorithm.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, opened=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, opened=False)

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    def do_POST(self) -> None:
        self.server.owner._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read ``server.requests`` rather than a log on stderr."""
