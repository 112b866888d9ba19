"""The metrics endpoint says what it exposes and who holds a busy port; scores name bad ids.

- ``serve_metrics(addr="0.0.0.0")`` (or ``::``, or a LAN address) logs a warning naming the URL,
  "every network interface" and what the metrics contain; loopback logs nothing.
- A busy port raises ``PortInUseError`` (an ``OSError``, errno EADDRINUSE) naming the port and
  what holds it: another observer of this kernel, or another process (found in /proc).
- Re-running ``serve_metrics`` on the same port, or after ``close()`` and ``init`` again, is
  harmless.
- ``score`` with an unknown ``span_id`` or ``trace_id`` raises ``UnknownSpanError`` (a
  ``KeyError``) naming the id and the file, even for a span finished a moment ago and not yet
  flushed by the background thread (``score`` flushes first).
"""

from __future__ import annotations

import errno
import logging
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb.metrics.server import PortInUseError, exposure_warning, is_loopback
from llmobs_nb.observer import UnknownSpanError


@pytest.fixture
def obs(tmp_path: Path) -> Iterator[llmobs_nb.Observer]:
    observer = llmobs_nb.init(db=tmp_path / "m.duckdb", project="metrics", flush_interval_s=3600)
    yield observer
    observer.close()


def _exposure_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "metrics are served at" in r.getMessage()]


def test_every_interface_logs_what_becomes_reachable(obs, caplog):
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    server = obs.serve_metrics(port=0, addr="0.0.0.0")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            assert b"llm_request_duration_seconds" in r.read()
        assert obs.serve_metrics(port=0, addr="0.0.0.0") is server  # re-run: no second warning
    finally:
        obs.metrics.close()
    (message,) = _exposure_logs(caplog)
    assert server.url in message
    assert "every network interface" in message
    for word in ("model names", "use cases", "costs", "127.0.0.1"):
        assert word in message


def test_loopback_logs_nothing(obs, caplog):
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    obs.serve_metrics(port=0)
    obs.serve_metrics(port=0, addr="127.0.0.1")
    obs.metrics.close()
    assert _exposure_logs(caplog) == []


def test_address_classification():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")
    message = exposure_warning("http://[::]:9464/metrics", "::", 9464)
    assert message is not None and "every network interface" in message
    message = exposure_warning("http://10.1.2.3:9464/metrics", "10.1.2.3", 9464)
    assert message is not None and "10.1.2.3, an address other machines can reach" in message
    assert exposure_warning("http://127.0.0.1:9464/metrics", "127.0.0.1", 9464) is None


def test_a_port_held_by_another_observer_names_it(tmp_path, obs):
    other = llmobs_nb.init(db=tmp_path / "other.duckdb", project="other")
    try:
        held = other.serve_metrics(port=0)
        with pytest.raises(PortInUseError) as caught:
            obs.serve_metrics(port=held.port)
        error = caught.value
        assert isinstance(error, OSError) and error.errno == errno.EADDRINUSE
        text = str(error)
        assert f"port {held.port}" in text
        assert str(other.db_path) in text and "port=0" in text
    finally:
        other.close()
    # Closing the holder frees the port: the same call now works.
    server = obs.serve_metrics(port=held.port)
    assert server.port == held.port


def test_a_port_held_by_another_process_names_the_process(obs):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket,sys,time\n"
            "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(holder.stdout.readline())
        with pytest.raises(PortInUseError) as caught:
            obs.serve_metrics(port=port)
        text = str(caught.value)
        assert f"port {port} on 127.0.0.1 is already in use" in text
        if Path("/proc/net/tcp").exists():
            assert f"process {holder.pid}" in text
    finally:
        holder.kill()
        holder.wait()


def test_serve_again_after_close_and_init_on_the_same_port(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "again.duckdb"
    first = llmobs_nb.init(db=path, project="again")
    first.serve_metrics(port=port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        reply.read()  # a real connection, so the socket has been used before it closes
    first.close()
    second = llmobs_nb.init(db=path, project="again")
    try:
        assert second.serve_metrics(port=port).port == port
        assert second.serve_metrics(port=port).port == port
    finally:
        second.close()


def test_unknown_span_and_trace_ids_raise_the_same_clear_error(obs):
    for kwargs, what in (
        ({"span_id": "ffffffffffffffff"}, "span"),
        ({"trace_id": "f" * 32}, "trace"),
    ):
        with pytest.raises(UnknownSpanError) as caught:
            obs.score(**kwargs, value=0.5)
        error = caught.value
        assert isinstance(error, KeyError) and isinstance(error, LookupError)
        text = str(error)
        assert text.startswith(f"no {what} '{next(iter(kwargs.values()))}' in {obs.db_path}")
        assert "flushed" in text and "check the id" in text
    assert obs.scores().height == 0


def test_ids_of_spans_not_yet_flushed_are_found(obs):
    # flush_interval_s=3600: nothing is written in the background; score() flushes itself.
    with obs.span("rag") as span:
        pass
    obs.score(trace_id=span.trace_id, value=1.0)
    obs.score(span.span_id, value=0.5)
    assert obs.scores()["value"].to_list() == [1.0, 0.5]
