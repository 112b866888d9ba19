"""The HTTP endpoint Prometheus scrapes, run by prometheus_client's own server.

It binds to loopback by default. Any other address logs a warning that says what becomes
reachable from the network; a port already taken raises :class:`PortInUseError`, which names
the port, what holds it when that can be found out, and what to do.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import threading
import urllib.request
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger("llmobs_nb")

CONTENTS = (
    "model names, use cases, operations, providers, error types, token counts, latencies and "
    "costs (no prompts, answers or user ids)"
)


class PortInUseError(OSError):
    """The metrics port is taken. An ``OSError`` with ``errno.EADDRINUSE``, as before.

    Example:
        >>> str(PortInUseError(9464, "127.0.0.1", "process 42 (python)"))[:40]
        'port 9464 on 127.0.0.1 is already in use'
    """

    def __init__(self, port: int, addr: str, holder: str | None = None) -> None:
        self.port, self.addr, self.holder = port, addr, holder
        held = f" by {holder}" if holder else " (by another program, or another kernel)"
        super().__init__(
            errno.EADDRINUSE,
            f"port {port} on {addr} is already in use{held}: pass port=0 to pick a free port "
            f"(read it from server.port) or another port, or stop what holds it",
        )

    def __str__(self) -> str:
        return str(self.strerror)


def every_interface(addr: str) -> bool:
    """Whether binding ``addr`` listens on every network interface (``0.0.0.0``, ``::``, "").

    Example:
        >>> every_interface("0.0.0.0"), every_interface("::"), every_interface("127.0.0.1")
        (True, True, False)
    """
    if addr == "":
        return True
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_unspecified
    except ValueError:
        return False


def is_loopback(addr: str) -> bool:
    """Whether ``addr`` (an IP address or a host name) only reaches this machine.

    A host name counts as loopback when every address it resolves to is a loopback one.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if every_interface(addr):
        return False
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(addr, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    hosts = {info[4][0].split("%")[0] for info in infos}
    return bool(hosts) and all(ipaddress.ip_address(host).is_loopback for host in hosts)


def exposure_warning(url: str, addr: str, port: int) -> str | None:
    """The warning to log for serving on ``addr``, or None for a loopback address.

    Example:
        >>> "every network interface" in exposure_warning("http://0.0.0.0:1/metrics", "0.0.0.0", 1)
        True
    """
    if is_loopback(addr):
        return None
    where = (
        "every network interface of this machine"
        if every_interface(addr)
        else f"{addr}, an address other machines can reach"
    )
    return (
        f"llmobs_nb metrics are served at {url}, listening on {where}: anyone who can reach "
        f"port {port} can read them — {CONTENTS}. Use addr='127.0.0.1' unless a Prometheus on "
        f"another host must scrape them, and then restrict the port with a firewall."
    )


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def _process_holding(port: int) -> str | None:
    """``process PID (name)`` listening on ``port``, from /proc (Linux), when visible."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in targets for fd in fds):
                name = Path(f"/proc/{pid}/comm").read_text().strip()
                this = " — this process" if int(pid) == os.getpid() else ""
                return f"process {pid} ({name}{this})"
        except OSError:
            continue
    return None


def _describe_holder(port: int, addr: str) -> str | None:
    """What holds ``port``: a process from /proc, and whether it serves llmobs_nb metrics."""
    try:
        holder = _process_holding(port)
    except Exception:  # best effort only: an error message must not fail
        holder = None
    host = "127.0.0.1" if every_interface(addr) or is_loopback(addr) else addr
    host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=0.5) as reply:
            body = reply.read(200_000).decode("utf-8", "replace")
        if "llm_request_duration_seconds" in body:
            what = "an llmobs_nb metrics endpoint (another observer or notebook kernel)"
            return f"{holder}, {what}" if holder else what
    except Exception:  # not HTTP, or not answering: nothing more to say
        pass
    return holder


class MetricsServer:
    """A running exposition endpoint in a daemon thread; ``stop()`` shuts it down.

    ``port`` is the port actually bound (the free port chosen when 0 was asked for).

    Example:
        >>> server = MetricsServer.start(CollectorRegistry(), port=0)
        >>> server.url.startswith("http://127.0.0.1:")
        True
        >>> server.stop()
    """

    def __init__(self, httpd: WSGIServer, thread: threading.Thread, addr: str) -> None:
        self._httpd = httpd
        self._thread = thread
        self.addr = addr
        self.port: int = httpd.server_address[1]

    @classmethod
    def start(
        cls, registry: CollectorRegistry, port: int = 9464, addr: str = "127.0.0.1"
    ) -> MetricsServer:
        """Serve ``registry`` on ``addr:port`` and return the running server.

        Raises :class:`PortInUseError` when the port is taken; logs a warning when ``addr`` is
        not a loopback address (see :func:`exposure_warning`).
        """
        try:
            httpd, thread = start_http_server(port, addr=addr, registry=registry)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(port, addr, _describe_holder(port, addr)) from exc
            raise
        server = cls(httpd, thread, addr)
        warning = exposure_warning(server.url, addr, server.port)
        if warning is not None:
            log.warning(warning)
        return server

    @property
    def url(self) -> str:
        """The scrape URL, e.g. ``http://127.0.0.1:9464/metrics``."""
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    @property
    def running(self) -> bool:
        """Whether the server thread is still serving."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and release the port; calling it again does nothing."""
        if not self.running:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"MetricsServer({self.url}, {state})"
