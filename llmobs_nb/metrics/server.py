"""The HTTP endpoint Prometheus scrapes, run by prometheus_client's own server."""

from __future__ import annotations

import errno
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


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
        """Serve ``registry`` on ``addr:port`` and return the running server."""
        try:
            httpd, thread = start_http_server(port, addr=addr, registry=registry)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OSError(
                    exc.errno,
                    f"port {port} on {addr} is already in use (another process, or another "
                    f"observer's metrics): pass port=0 to pick a free port, or stop the other "
                    f"server",
                ) from exc
            raise
        return cls(httpd, thread, addr)

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
