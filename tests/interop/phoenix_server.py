"""A real Arize Phoenix server for the interop tests, and a small reader of its REST API.

Phoenix lives in its own virtualenv (``.venv-phoenix``, made by ``scripts/install.sh`` from
``requirements/phoenix.txt``) so its pins never touch ours. :func:`phoenix_server` starts
``phoenix serve`` from there on 127.0.0.1 with free HTTP and gRPC ports, a temporary working
directory and its default SQLite database, waits (with a deadline) until ``/healthz`` answers,
and stops it by its process id (terminate, then kill). Without that virtualenv the tests are
skipped, except under CI (``CI`` set), where a missing Phoenix is a failure.

Example:
    >>> with phoenix_server(tmp_path) as phoenix:          # doctest: +SKIP
    ...     llmobs_nb.init(db=..., otlp_endpoint=phoenix.traces_endpoint)
    ...     spans = read_spans(phoenix.url, "my-project")
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.interop.peer_venv import peer_venv, require_peer_venv

START_DEADLINE_S = 90.0  # a cold start runs Phoenix's database migrations
T = TypeVar("T")


def phoenix_venv() -> Path | None:
    """The Phoenix virtualenv (with a ``bin/phoenix``), or None (see ``peer_venv``)."""
    return peer_venv("phoenix", "phoenix")


def require_phoenix_venv() -> Path:
    """The Phoenix virtualenv; skips the test without it (fails under CI)."""
    return require_peer_venv("phoenix", "phoenix", "Phoenix")


@dataclass(frozen=True)
class Phoenix:
    """A running Phoenix: its base URL, OTLP/HTTP traces endpoint, process and venv."""

    url: str
    grpc_port: int
    process: subprocess.Popen[bytes]
    venv: Path
    log: Path

    @property
    def traces_endpoint(self) -> str:
        """``<url>/v1/traces``, where OTLP/HTTP exporters send."""
        return f"{self.url}/v1/traces"

    @property
    def python(self) -> str:
        """The virtualenv's interpreter (Phoenix's own client is importable there)."""
        return str(self.venv / "bin" / "python")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now.

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], T | None], deadline_s: float, what: str) -> T:
    """Poll ``check`` until it returns something (not None) or the deadline passes.

    Example:
        >>> wait_for(lambda: 3, 1.0, "three")
        3
    """
    end = time.monotonic() + deadline_s
    delay = 0.02
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not within {deadline_s:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> bool | None:
    if process.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"phoenix serve exited with {process.returncode}:\n{tail}")
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return True if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def stop(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Stop a process we started, by its id: SIGTERM, then SIGKILL after ``grace_s``.

    Example:
        >>> p = subprocess.Popen(["sleep", "60"])
        >>> stop(p); p.returncode is not None
        True
    """
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_s)


@contextmanager
def phoenix_server(workdir: Path) -> Iterator[Phoenix]:
    """Run ``phoenix serve`` on 127.0.0.1 (free ports, SQLite in ``workdir``) until exit.

    Example:
        >>> with phoenix_server(tmp_path) as phoenix:      # doctest: +SKIP
        ...     print(phoenix.traces_endpoint)
        http://127.0.0.1:40123/v1/traces
    """
    venv = require_phoenix_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    port, grpc_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))},
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = workdir / "phoenix.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "phoenix"), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url, process, log), START_DEADLINE_S, "phoenix /healthz")
        yield Phoenix(url, grpc_port, process, venv, log)
    finally:
        stop(process)


def get_json(url: str, timeout: float = 10.0) -> Any:
    """GET ``url`` and parse its JSON body.

    Example:
        >>> get_json(f"{phoenix.url}/v1/projects")  # doctest: +SKIP
        {'data': [{'name': 'default', ...}], 'next_cursor': None}
    """
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def read_spans(url: str, project: str) -> list[dict[str, Any]]:
    """Every span of ``project`` from Phoenix's REST API (``GET /v1/projects/{p}/spans``,
    all pages), as dicts: ``name``, ``context`` (trace/span ids), ``span_kind`` (OpenInference),
    ``parent_id``, times, ``status_code``, ``attributes`` (flat, dotted keys), ``events``,
    plus ``project`` (the name asked). An unknown project raises ``HTTPError`` 404.

    Example:
        >>> [s["span_kind"] for s in read_spans(phoenix.url, "default")]  # doctest: +SKIP
        ['LLM', 'CHAIN']
    """
    spans: list[dict[str, Any]] = []
    cursor: str | None = None
    base = f"{url}/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
    while True:
        query = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        page = get_json(f"{base}?{urllib.parse.urlencode(query)}")
        spans.extend({**span, "project": project} for span in page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return spans


def wait_for_spans(url: str, project: str, count: int, deadline_s: float = 20.0) -> list[dict]:
    """:func:`read_spans` until ``project`` holds at least ``count`` spans (Phoenix writes
    received spans in batches, so they show a moment after the export).

    Example:
        >>> len(wait_for_spans(phoenix.url, "phx-test", 5))  # doctest: +SKIP
        5
    """

    def enough() -> list[dict] | None:
        try:
            spans = read_spans(url, project)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # the project is made when its first span is written
                return None
            raise
        return spans if len(spans) >= count else None

    return wait_for(enough, deadline_s, f"{count} spans in Phoenix project {project!r}")


def run_in_phoenix_venv(phoenix: Phoenix, code: str, *args: str, timeout: float = 60.0) -> str:
    """Run Python ``code`` with the Phoenix virtualenv's interpreter (its client, pandas);
    returns stdout, raises with stderr on failure.

    Example:
        >>> code = "import phoenix; print(phoenix.__version__)"
        >>> run_in_phoenix_venv(phoenix, code)  # doctest: +SKIP
        '20.26.1\\n'
    """
    done = subprocess.run(
        [phoenix.python, "-c", code, *args],
        capture_output=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))},
    )
    if done.returncode != 0:
        raise RuntimeError(f"phoenix venv script failed:\n{done.stderr.decode()[-3000:]}")
    return done.stdout.decode()


__all__ = [
    "Phoenix",
    "free_port",
    "get_json",
    "phoenix_server",
    "read_spans",
    "require_phoenix_venv",
    "run_in_phoenix_venv",
    "stop",
    "wait_for",
    "wait_for_spans",
]
