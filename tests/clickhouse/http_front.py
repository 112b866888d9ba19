"""The real ClickHouse engine (chdb) behind a small HTTP front written for the tests.

This is NOT a ClickHouse server. No installable package here ships a modern ClickHouse server
binary (Debian's ``clickhouse-server`` is 18.16, without the Map type; PyPI's ``chdb`` is the
engine as a library, without its servers; ``clickhousectl`` downloads servers at run time),
so the ``clickhouse://`` path (``clickhouse-connect``, HTTP) is tested against this: a
Python HTTP server on 127.0.0.1 that speaks the part of ClickHouse's HTTP interface that
``clickhouse-connect`` uses and runs every statement on chdb — ClickHouse's own engine, parser,
formats, settings and errors — in its own process (chdb runs one engine per process, and the
test process may already have its own). Written from ClickHouse's ``HTTPHandler.cpp`` and
``clickhouse-connect``'s HTTP client.

What it does, as a server does:

* ``GET /ping`` and a ``GET /`` without a query answer ``Ok.``.
* The query is the ``query`` URL parameter, a line break and the request body; an
  ``INSERT … FORMAT x`` is followed by its data, which the engine parses in that format
  (chdb's streaming insert). With ``multipart/form-data`` (external data) the query is the
  ``query`` parameter or form field, and each file part is a temporary table of the query,
  named by the part, filled in ``<name>_format`` (default TabSeparated) with
  ``<name>_structure`` or ``<name>_types`` — and, like the server, every URL parameter ending
  in ``_format``, ``_types`` or ``_structure`` is then not taken as a setting.
* ``database`` (or the ``X-ClickHouse-Database`` header) is the current database;
  ``default_format`` (or ``X-ClickHouse-Format``) the format when the query names none
  (TabSeparated otherwise). ``param_<name>`` values are bound by the engine to
  ``{name:Type}``. Every other parameter but the server's reserved ones (``compress``,
  ``decompress``, ``user``, ``password``, ``quota_key``, ``query_id``, ``stacktrace``,
  ``buffer_size``, ``wait_end_of_query``, ``session_id``, ``session_timeout``,
  ``session_check``, ``client_protocol_version``, ``close_session``) is a setting, set on
  the query's own engine session before it runs (``readonly`` last, so ``readonly=1`` beside
  other settings works as on a server); the engine refuses an unknown setting, and enforces
  ``readonly`` itself. A GET request runs with ``readonly=2`` unless the URL sets it.
* One statement per request: the engine's parser (``formatQuerySingleLine``) checks it first
  and a second statement is refused as a server refuses it (chdb alone would run both).
* Users and passwords given to the front (HTTP basic auth, ``X-ClickHouse-User`` /
  ``X-ClickHouse-Key`` or ``user``/``password`` parameters; mixing them is refused); a wrong
  one gets ClickHouse's ``AUTHENTICATION_FAILED`` (516) and 403.
* Errors: the engine's own ``Code: N. DB::Exception: … (NAME)`` text with the server's
  `` (version X)`` trailer added (chdb's version, without "official build"), the
  ``X-ClickHouse-Exception-Code`` header and ClickHouse's HTTP status for that code
  (``exceptionCodeToHTTPStatus.cpp``). The front's own refusals (authentication, session
  lock, what it does not implement) use the server's codes and wording.
* Headers: ``X-ClickHouse-Query-Id``, ``X-ClickHouse-Format`` and ``X-ClickHouse-Timezone``
  (statements with an output), ``X-ClickHouse-Summary`` (what chdb measures: read and
  written rows and bytes, elapsed), ``X-ClickHouse-Server-Display-Name``, a Content-Type per
  format. With ``enable_http_compression`` on (the URL's, else the engine's default: on in
  this chdb) the answer is compressed with the method
  ClickHouse's ``chooseHTTPCompressionMethod`` picks from ``Accept-Encoding`` (zstd, br,
  lz4, snappy, gzip, deflate, xz, bz2, in that order); ``Content-Encoding`` request bodies
  are decompressed. Compression is done here, in Python (zstd, lz4, gzip, deflate, xz, bz2;
  not br or snappy: refused), not by the engine.
* ``session_id``: concurrent requests of one session are refused (``SESSION_IS_LOCKED``).

What it does not do: keep session state between requests (a ``SET``, ``USE`` or temporary
table lasts one request); the ``compress``/``decompress`` parameters (ClickHouse's native
block compression: refused), ``client_protocol_version`` (ignored: Native answers carry no
block info, and clickhouse-connect's probe then falls back to protocol 0, as behind a proxy
that drops it), ``role``, progress headers (``send_progress_in_http_headers`` is set on the
engine but nothing is sent), streaming (answers are buffered whole, as with
``wait_end_of_query=1``), exceptions written inside a started stream, the predefined and
custom handlers, ``/play``, ``/replicas_status``, TLS, quotas, profiles, grants, row policies,
user and role DDL (the engine runs everything as its ``default`` user, whose name its
errors show), query cancellation, and concurrent queries (they run one at a time). Setting
defaults are chdb's, not a server's configuration (e.g. ``enable_http_compression`` and
``date_time_input_format=best_effort`` are on).
An INSERT's data is told from its statement by a pattern (``FORMAT x`` and the line break
after it, ClickHouse's rule), not by the engine's parser, which then checks the statement.

Every request is recorded as a JSON line in the log file given (``--log``): user, method,
settings, database, the query text, parameters, external tables, status and exception code
— never a password or an ``Authorization`` header.

Run by :class:`FrontProcess` (the tests' side): ``python http_front.py --data DIR --log FILE``
with the users as JSON in ``LLMOBS_FRONT_USERS``; it prints ``listening 127.0.0.1 PORT``
(port 0 bound: the kernel picks a free one) and stops when its parent does.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

USERS_VARIABLE = "LLMOBS_FRONT_USERS"
DISPLAY_NAME = "llmobs-test-front"

_RESERVED = (
    "compress decompress user password quota_key query_id stacktrace buffer_size "
    "wait_end_of_query session_id session_timeout session_check client_protocol_version "
    "close_session"
)
RESERVED = frozenset(_RESERVED.split())
"""URL parameters that are not settings (HTTPHandler's ``reserved_param_names``)."""
EXTERNAL_SUFFIXES = ("_format", "_types", "_structure")

_STATUSES = {
    401: "REQUIRED_PASSWORD",
    403: "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED",
    400: "BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE "
    "CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER "
    "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 "
    "CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN "
    "UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST "
    "TOO_BIG_AST UNEXPECTED_AST_STRUCTURE SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH "
    "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    404: "UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE "
    "UNKNOWN_DATABASE UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION "
    "UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE",
    413: "QUERY_IS_TOO_LARGE",
    501: "NOT_IMPLEMENTED",
    503: "SOCKET_TIMEOUT CANNOT_OPEN_FILE CANNOT_SCHEDULE_TASK",
    411: "HTTP_LENGTH_REQUIRED",
    408: "TIMEOUT_EXCEEDED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
STATUS_BY_NAME = {name: status for status, names in _STATUSES.items() for name in names.split()}
"""ClickHouse's exceptionCodeToHTTPStatus, by error name (the engine gives the names); any
other error is 500."""

# The codes the front raises itself (the engine names them: errorCodeToName).
AUTHENTICATION_FAILED = 516
SESSION_IS_LOCKED = 373
INVALID_SESSION_TIMEOUT = 374
NOT_IMPLEMENTED = 48
UNKNOWN_SETTING = 115
HTTP_LENGTH_REQUIRED = 381
STD_EXCEPTION = 1001

HTTP_COMPRESSION_ORDER = ("zstd", "br", "lz4", "snappy", "gzip", "deflate", "xz", "bz2")
"""ClickHouse's chooseHTTPCompressionMethod: the first of these found in Accept-Encoding."""

OUTPUT_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK")
CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedRaw": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNamesAndTypes": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
}
TEXT_FORMATS = ("JSON", "Pretty", "Vertical", "Markdown", "Values", "XML", "Template")

INSERT_START = re.compile(rb"\A\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*INSERT\b", re.I | re.S)
FORMAT_CLAUSE = re.compile(rb"\bFORMAT\s+([A-Za-z0-9_]+)", re.I)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.I)
ENGINE_ERROR = re.compile(r"Code: (\d+)\. DB::Exception: (.*)", re.S)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INSERT_HEAD_BYTES = 1 << 20


class ClickHouseException(Exception):
    """An error as the server reports it: a code and ClickHouse's message text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    params: list[tuple[str, str]]
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# -- the tests' side ---------------------------------------------------------------------------
class FrontProcess:
    """Starts the front in its own process (``with FrontProcess(...) as front``), reads its
    port, and always stops it; :meth:`requests` reads what it recorded."""

    def __init__(self, folder: Path, users: dict[str, str], *, start_timeout_s: float = 60.0):
        self.folder = Path(folder)
        self.users = dict(users)
        self.start_timeout_s = start_timeout_s
        self.log_path = self.folder / "requests.jsonl"
        self.stderr_path = self.folder / "front.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> FrontProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        data = self.folder / "engine"
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, USERS_VARIABLE: json.dumps(self.users)}
        command = [sys.executable, str(Path(__file__).resolve()), "--data", str(data)]
        command += ["--log", str(self.log_path), "--parent", str(os.getpid())]
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
            )
        line = self._first_line()
        match = re.fullmatch(r"listening 127\.0\.0\.1 (\d+)", line.strip())
        if not match:
            self.stop()
            raise RuntimeError(f"the front did not start: {line!r}; stderr: {self.stderr()}")
        self.port = int(match.group(1))

    def _first_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        found: list[bytes] = []
        reader = threading.Thread(
            target=lambda: found.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(self.start_timeout_s)
        return found[0].decode(errors="replace") if found else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process.stdout is not None:
            process.stdout.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def requests(self) -> list[dict[str, Any]]:
        """What the front received, one dict per request, in order."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


# -- the front's side ---------------------------------------------------------------------------
def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def escaped_text(value: str) -> str:
    """A value as a query parameter's text (ClickHouse's escaped form, as in ``param_x``)."""
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        value = value.replace(raw, escaped)
    return value.replace("\0", "\\0")


def _content_type(fmt: str) -> str:
    if fmt in CONTENT_TYPES:
        return CONTENT_TYPES[fmt]
    if fmt.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if fmt.startswith(TEXT_FORMATS):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"


def _compressor(method: str) -> Any:
    if method == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found]
        except ImportError:
            from backports import zstd  # type: ignore[no-redef]
        return zstd.compress
    if method == "lz4":
        import lz4.frame

        return lz4.frame.compress
    if method == "gzip":
        import gzip

        return gzip.compress
    if method == "deflate":
        import zlib

        return zlib.compress
    if method == "xz":
        import lzma

        return lzma.compress
    if method == "bz2":
        import bz2

        return bz2.compress
    return None


def _decompressor(method: str) -> Any:
    if method in ("gzip", "gz"):
        import gzip

        return gzip.decompress
    if method == "deflate":
        import zlib

        return zlib.decompress
    if method in ("zstd", "zst"):
        try:
            from compression import zstd  # type: ignore[import-not-found]
        except ImportError:
            from backports import zstd  # type: ignore[no-redef]
        return zstd.decompress
    if method == "lz4":
        import lz4.frame

        return lz4.frame.decompress
    if method in ("xz", "lzma"):
        import lzma

        return lzma.decompress
    if method == "bz2":
        import bz2

        return bz2.decompress
    return None


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """Text fields and file parts of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ClickHouseException(36, "Invalid multipart/form-data: no boundary")
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, _, content = part.partition(b"\r\n\r\n")
        content = content[:-2] if content.endswith(b"\r\n") else content
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                disposition = line
        name = re.search(r'\bname="([^"]*)"', disposition)
        if not name:
            continue
        if re.search(r'\bfilename="', disposition):
            files[name.group(1)] = content
        else:
            fields[name.group(1)] = content.decode("utf-8", "replace")
    return fields, files


class Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        with self.lock, open(self.path, "a") as out:
            out.write(json.dumps(entry, default=str) + "\n")


class Engine:
    """chdb on one data directory; each request gets its own engine session."""

    def __init__(self, path: str) -> None:
        import chdb
        from chdb import session as chdb_session

        self._connect = chdb.connect
        self.path = path
        self.main = chdb_session.Session(path)  # keeps the engine up between requests
        self.lock = threading.Lock()
        self.version = self.scalar("SELECT version()")
        self.timezone = self.scalar("SELECT timezone()")
        self._names: dict[int, str] = {}
        #: ``enable_http_compression`` when the URL does not set it (the engine's default).
        self.http_compression = self.scalar(
            "SELECT value FROM system.settings WHERE name = 'enable_http_compression'"
        )

    def scalar(self, sql: str, params: dict[str, str] | None = None) -> str:
        result = self.main.query(sql, "TabSeparatedRaw", params=params)
        return result.bytes().decode().rstrip("\n")

    def error_name(self, code: int) -> str:
        if code not in self._names:
            self._names[code] = self.scalar(f"SELECT errorCodeToName({int(code)})")
        return self._names[code]

    def message(self, code: int, text: str) -> str:
        name = self.error_name(code)
        if not text.rstrip().endswith(f"({name})"):
            text = f"{text.rstrip().rstrip('.')}. ({name})"
        trailer = "" if "(version " in text else f" (version {self.version})"
        return f"Code: {code}. DB::Exception: {text}{trailer}"

    def parse(self, conn: Any, statement: str) -> str:
        """The engine's parser on ``statement`` (one statement: a second is refused)."""
        try:
            found = conn.query(
                "SELECT formatQuerySingleLine({q:String})",
                "TabSeparatedRaw",
                params={"q": escaped_text(statement)},
            )
        except Exception as exc:  # the parser's own error, without the wrapper's scope
            code, text = _engine_error(exc)
            text = re.split(r"\s*: In scope SELECT formatQuerySingleLine\(", text)[0]
            raise ClickHouseException(code, text) from None
        return found.bytes().decode("utf-8", "replace").strip()


def _engine_error(exc: BaseException) -> tuple[int, str]:
    text = str(exc)
    match = ENGINE_ERROR.search(text)
    if not match:
        return STD_EXCEPTION, text
    return int(match.group(1)), match.group(2).strip()


@dataclass
class Query:
    user: str
    method: str
    settings: dict[str, str]
    database: str
    default_format: str
    query_id: str
    text: bytes
    params: dict[str, str]
    external: dict[str, tuple[bytes, str, str]]  # name -> (data, format, structure)


class Front:
    def __init__(self, engine: Engine, users: dict[str, str], recorder: Recorder) -> None:
        self.engine = engine
        self.users = users
        self.recorder = recorder
        self.sessions: set[str] = set()
        self.sessions_lock = threading.Lock()

    # -- the request -----------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        entry: dict[str, Any] = {"method": request.method, "path": request.path}
        compression: str | None = None
        try:
            if request.path == "/ping":
                return Response(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            if request.path != "/":
                text = f"There is no handle {request.path}\n\nUse / or /ping for health checks.\n"
                return Response(404, text.encode(), {"Content-Type": "text/plain; charset=UTF-8"})
            params = dict(request.params)
            if request.method in ("GET", "HEAD") and "query" not in params and not request.body:
                return Response(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            user = self.authenticate(request, params)
            entry["user"] = user
            compression = self._compression(request, params)
            session = params.get("session_id", "")
            self._check_session_timeout(params)
            with self._session(session):
                query = self._query(request, params, user)
                entry.update(
                    settings=query.settings,
                    database=query.database,
                    query=_recorded(query.text),
                    params=query.params,
                    external=sorted(query.external),
                    session_id=session,
                )
                response = self.run(query)
            entry["status"] = response.status
            entry["compression"] = compression
            return self._compressed(response, compression)
        except ClickHouseException as exc:
            entry.update(status=None, exception_code=exc.code)
            response = self.error(exc)
            entry["status"] = response.status
            return self._compressed(response, compression) if compression else response
        except Exception as exc:  # the front's own failure: say so
            print(f"front error: {exc!r}", file=sys.stderr, flush=True)
            error = ClickHouseException(STD_EXCEPTION, f"the test front failed: {exc!r}")
            entry.update(exception_code=STD_EXCEPTION)
            response = self.error(error)
            entry["status"] = response.status
            return response
        finally:
            if "user" in entry or "status" in entry:
                self.recorder.write(entry)

    def error(self, exc: ClickHouseException) -> Response:
        name = self.engine.error_name(exc.code)
        text = self.engine.message(exc.code, exc.text)
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(exc.code),
        }
        return Response(STATUS_BY_NAME.get(name, 500), (text + "\n").encode(), headers)

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, request: Request, params: dict[str, str]) -> str:
        headers = request.headers
        user = headers.get("x-clickhouse-user", "")
        password = headers.get("x-clickhouse-key", "")
        quota = headers.get("x-clickhouse-quota", "")
        authorization = headers.get("authorization", "")
        in_params = any(k in params for k in ("user", "password", "quota_key"))
        if user or password or quota:
            if authorization:
                raise ClickHouseException(
                    AUTHENTICATION_FAILED,
                    "Invalid authentication: it is not allowed to use X-ClickHouse HTTP "
                    "headers and other authentication methods simultaneously",
                )
            if in_params:
                raise ClickHouseException(
                    AUTHENTICATION_FAILED,
                    "Invalid authentication: it is not allowed to use X-ClickHouse HTTP "
                    "headers and authentication via parameters simultaneously",
                )
        elif authorization:
            if in_params:
                raise ClickHouseException(
                    AUTHENTICATION_FAILED,
                    "Invalid authentication: it is not allowed to use Authorization HTTP "
                    "header and authentication via parameters simultaneously",
                )
            scheme, _, info = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise ClickHouseException(
                    AUTHENTICATION_FAILED,
                    f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not "
                    "supported",
                )
            try:
                decoded = base64.b64decode(info.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise ClickHouseException(
                    AUTHENTICATION_FAILED, "Invalid authentication: malformed Basic credentials"
                ) from None
            user, _, password = decoded.partition(":")
        else:
            user = params.get("user", "default")
            password = params.get("password", "")
        if user not in self.users or self.users[user] != password:
            raise ClickHouseException(
                AUTHENTICATION_FAILED,
                f"{user}: Authentication failed: password is incorrect, or there is no user "
                "with such name",
            )
        return user

    # -- the query -------------------------------------------------------------------------
    def _check_session_timeout(self, params: dict[str, str]) -> None:
        value = params.get("session_timeout")
        if value is not None and not value.isdigit():
            raise ClickHouseException(
                INVALID_SESSION_TIMEOUT, f"Invalid session timeout: '{value}'"
            )

    @contextlib.contextmanager
    def _session(self, session: str) -> Iterator[None]:
        if not session:
            yield
            return
        with self.sessions_lock:
            if session in self.sessions:
                raise ClickHouseException(
                    SESSION_IS_LOCKED, f"Session {session} is locked by a concurrent client"
                )
            self.sessions.add(session)
        try:
            yield
        finally:
            with self.sessions_lock:
                self.sessions.discard(session)

    def _compression(self, request: Request, params: dict[str, str]) -> str | None:
        if params.get("compress", "0") not in ("0", "false", ""):
            raise ClickHouseException(
                NOT_IMPLEMENTED,
                "compress=1 (ClickHouse's native block compression) is not implemented by "
                "the test front",
            )
        if params.get("decompress", "0") not in ("0", "false", ""):
            raise ClickHouseException(
                NOT_IMPLEMENTED,
                "decompress=1 (ClickHouse's native block compression) is not implemented by "
                "the test front",
            )
        enabled = params.get("enable_http_compression", self.engine.http_compression)
        if enabled not in ("1", "true"):
            return None
        accepted = request.headers.get("accept-encoding", "")
        for method in HTTP_COMPRESSION_ORDER:
            if method in accepted:
                if _compressor(method) is None:
                    raise ClickHouseException(
                        NOT_IMPLEMENTED, f"the test front cannot compress with '{method}'"
                    )
                return method
        return None

    def _compressed(self, response: Response, method: str | None) -> Response:
        if method is None:
            return response
        response.body = _compressor(method)(response.body)
        response.headers["Content-Encoding"] = method
        return response

    def _query(self, request: Request, params: dict[str, str], user: str) -> Query:
        if "role" in params:
            raise ClickHouseException(
                NOT_IMPLEMENTED, "roles are not implemented by the test front"
            )
        headers = request.headers
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        body = request.body
        encoding = headers.get("content-encoding", "")
        if encoding:
            decompress = _decompressor(encoding.lower())
            if decompress is None:
                raise ClickHouseException(
                    NOT_IMPLEMENTED,
                    f"Unknown compression method '{encoding}'. Only 'auto', 'none', 'gzip', "
                    "'deflate', 'br', 'xz', 'zstd', 'lz4', 'bz2', 'snappy' are supported as "
                    "compression methods",
                )
            body = decompress(body)
        database = headers.get("x-clickhouse-database", "") or params.get("database", "")
        default_format = headers.get("x-clickhouse-format", "") or params.get("default_format", "")
        settings: dict[str, str] = {}
        query_params: dict[str, str] = {}
        for key, value in request.params:
            if key in ("database", "default_format", "query") or key in RESERVED or not key:
                continue
            if multipart and key.endswith(EXTERNAL_SUFFIXES):
                continue
            if key.startswith("param_"):
                query_params.setdefault(key[len("param_") :], value)
                continue
            settings[key] = value
        if request.method == "GET" and "readonly" not in settings:
            settings["readonly"] = "2"
        external: dict[str, tuple[bytes, str, str]] = {}
        if multipart:
            fields, files = _multipart(headers.get("content-type", ""), body)
            text = (fields.get("query", "") or params.get("query", "")).encode()
            for key, value in fields.items():
                if key.startswith("param_"):
                    query_params.setdefault(key[len("param_") :], value)
            for name, data in files.items():
                fmt = params.get(f"{name}_format", "TabSeparated")
                structure = params.get(f"{name}_structure", "")
                if not structure and params.get(f"{name}_types"):
                    types = params[f"{name}_types"].split(",")
                    structure = ", ".join(f"_{i} {t.strip()}" for i, t in enumerate(types, 1))
                if not structure:
                    raise ClickHouseException(
                        36,
                        "Neither structure nor types have not been provided for external "
                        f"table {name}",
                    )
                external[name] = (data, fmt, structure)
        else:
            query_param = params.get("query", "")
            text = (query_param + "\n").encode() + body if query_param else body
        query_id = (
            params.get("query_id") or headers.get("x-clickhouse-query-id") or str(uuid.uuid4())
        )
        return Query(
            user, request.method, settings, database, default_format, query_id, text,
            query_params, external,
        )  # fmt: skip

    # -- running it on the engine ----------------------------------------------------------
    def run(self, query: Query) -> Response:
        insert = _split_insert(query.text)
        with self.engine.lock:
            conn = self.engine._connect(self.engine.path)
            try:
                began = time.perf_counter()
                if query.database:
                    self._engine(conn, f"USE {quote_identifier(query.database)}")
                for name, value in query.settings.items():
                    if name != "readonly":
                        self._set(conn, name, value)
                for name, (data, fmt, structure) in query.external.items():
                    table = quote_identifier(name)
                    self._engine(
                        conn, f"CREATE TEMPORARY TABLE {table} ({structure}) ENGINE = Memory"
                    )
                    self._insert(conn, f"INSERT INTO {table}", fmt, data)
                if "readonly" in query.settings:
                    self._set(conn, "readonly", query.settings["readonly"])
                if insert is not None:
                    head, statement, fmt, data = insert
                    self.engine.parse(conn, head)
                    written = self._insert(conn, statement, fmt, data)
                    summary = {"written_rows": written[0], "written_bytes": written[1]}
                    body, out_format = b"", None
                else:
                    statement = query.text.decode("utf-8", "replace")
                    formatted = self.engine.parse(conn, statement)
                    fmt = query.default_format or "TabSeparated"
                    try:
                        result = conn.query(statement, fmt, params=query.params)
                    except Exception as exc:
                        raise ClickHouseException(*_engine_error(exc)) from None
                    body = result.bytes()
                    summary = {
                        "read_rows": result.rows_read(),
                        "read_bytes": result.bytes_read(),
                        "written_rows": result.rows_written(),
                        "written_bytes": result.bytes_written(),
                    }
                    out_format = None
                    if formatted.lstrip("(").split(" ", 1)[0].upper() in OUTPUT_STATEMENTS:
                        found = TRAILING_FORMAT.search(formatted)
                        out_format = found.group(1) if found else fmt
                summary["elapsed_ns"] = int((time.perf_counter() - began) * 1e9)
            finally:
                conn.close()
        headers = {
            "X-ClickHouse-Query-Id": query.query_id,
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in summary.items()}),
            "Content-Type": "text/plain; charset=UTF-8",
        }
        if out_format is not None:
            headers["Content-Type"] = _content_type(out_format)
            headers["X-ClickHouse-Format"] = out_format
            headers["X-ClickHouse-Timezone"] = self.engine.timezone
        return Response(200, body, headers)

    def _engine(self, conn: Any, sql: str) -> None:
        try:
            conn.query(sql)
        except Exception as exc:
            raise ClickHouseException(*_engine_error(exc)) from None

    def _set(self, conn: Any, name: str, value: str) -> None:
        if not SETTING_NAME.match(name):
            raise ClickHouseException(UNKNOWN_SETTING, f"Unknown setting '{name}'")
        self._engine(conn, f"SET {name} = {quote_string(value)}")

    def _insert(self, conn: Any, head: str, fmt: str, data: bytes) -> tuple[int, int]:
        try:
            inserter = conn.send_insert(head, fmt)
        except Exception as exc:
            raise ClickHouseException(*_engine_error(exc)) from None
        try:
            if data:
                inserter.append(data)
            done = inserter.finish()
        except Exception as exc:
            with contextlib.suppress(Exception):
                inserter.cancel()
            raise ClickHouseException(*_engine_error(exc)) from None
        return done.rows_written, done.bytes_written


def _recorded(text: bytes) -> str:
    """The statement as recorded: an INSERT's data is left out (its size is said)."""
    insert = _split_insert(text)
    if insert is None:
        return text.decode("utf-8", "replace")
    return f"{insert[0]} <{len(insert[3])} bytes>"


def _split_insert(text: bytes) -> tuple[str, str, str, bytes] | None:
    """``INSERT … FORMAT x``, the statement without its FORMAT clause, the format and the
    data after it (ClickHouse's rule: the data starts after
    the first line break following the format's name, else after the blanks); None for any
    other statement, or an INSERT whose data is in the statement (VALUES, SELECT)."""
    if not INSERT_START.match(text):
        return None
    found = FORMAT_CLAUSE.search(text[:INSERT_HEAD_BYTES])
    if not found:
        return None
    head = text[: found.end()].decode("utf-8", "replace")
    statement = text[: found.start()].decode("utf-8", "replace").strip()
    rest = text[found.end() :]
    blanks = len(rest) - len(rest.lstrip(b" \t\r\n\f\v"))
    newline = rest.find(b"\n", 0, blanks)
    start = newline + 1 if newline >= 0 else blanks
    return head, statement, found.group(1).decode(), rest[start:]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ClickHouse-test-front"
    front: Front

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the URL may hold a password parameter: nothing is printed

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        return self.rfile.read(int(length))

    def _handle(self) -> None:
        body = self._body()
        parts = urlsplit(self.path)
        if body is None and self.command == "POST":
            response = self.front.error(
                ClickHouseException(
                    HTTP_LENGTH_REQUIRED,
                    "The Transfer-Encoding is not chunked and there is no Content-Length "
                    "header for POST request",
                )
            )
        else:
            request = Request(
                self.command,
                parts.path,
                {k.lower(): v for k, v in self.headers.items()},
                parse_qsl(parts.query, keep_blank_values=True),
                body or b"",
            )
            response = self.front.handle(request)
        self.send_response(response.status)
        self.send_header("X-ClickHouse-Server-Display-Name", DISPLAY_NAME)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_HEAD = _handle


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", required=True, help="chdb's data directory")
    parser.add_argument("--log", required=True, help="where requests are recorded (JSON lines)")
    parser.add_argument("--parent", type=int, default=0, help="stop when this process is gone")
    args = parser.parse_args(argv)
    users = json.loads(os.environ.pop(USERS_VARIABLE, "{}"))
    if args.parent:
        _watch_parent(args.parent)
    Handler.front = Front(Engine(args.data), users, Recorder(Path(args.log)))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening 127.0.0.1 {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
