"""Live Prometheus metrics of one observer, in a registry of its own."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from llmobs_nb.metrics import definitions as d
from llmobs_nb.metrics.labels import LabelGuard
from llmobs_nb.metrics.server import MetricsServer


def _create(metric: d.MetricDef, registry: CollectorRegistry) -> Counter | Histogram:
    if metric.kind == "counter":
        return Counter(metric.name, metric.help, metric.labels, registry=registry)
    return Histogram(
        metric.name,
        metric.help,
        metric.labels,
        registry=registry,
        buckets=metric.buckets,
    )


class ObserverMetrics:
    """The six ``llm_*`` metrics of DESIGN.md plus the OpenTelemetry GenAI client metrics.

    Each instance owns its registry (``.registry``), so re-running a notebook cell never raises
    "Duplicated timeseries". Label values are bounded: at most ``max_models`` model names (later
    ones are counted under ``other``), at most ``max_label_values`` operations, providers, use
    cases and error types; a missing value is ``unknown``. No user id or free text is a label.

    Example:
        >>> m = ObserverMetrics()
        >>> m.record_call({"model": "gpt-4o", "operation": "chat", "latency_s": 1.2,
        ...                "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.00045})
        >>> 'llm_tokens_total{model="gpt-4o",type="input"} 100.0' in m.text()
        True
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        max_models: int = 50,
        *,
        max_label_values: int = 20,
    ) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        try:
            self._metrics = {m.name: _create(m, self.registry) for m in d.ALL_METRICS}
        except ValueError as exc:
            raise ValueError(
                f"{exc}: this registry already holds llmobs_nb metrics; pass registry=None "
                f"(each ObserverMetrics then gets its own) or a fresh CollectorRegistry()"
            ) from exc
        self._model = LabelGuard(max_models)
        self._operation = LabelGuard(max_label_values)
        self._provider = LabelGuard(max_label_values)
        self._use_case = LabelGuard(max_label_values)
        self._error_type = LabelGuard(max_label_values)
        # prometheus_client's labels() validates and locks on every call; a dict of children
        # keyed by label values keeps record_call cheap on the observer's flush thread.
        self._children: dict[tuple[str, ...], Any] = {}
        self._server: MetricsServer | None = None
        self._server_lock = threading.Lock()

    def _child(self, metric: d.MetricDef, *values: str) -> Any:
        key = (metric.name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._metrics[metric.name].labels(*values)
        return child

    def record_call(self, row: Mapping[str, Any]) -> None:
        """Add one finished LLM call (a row with the ``llm_calls`` columns) to the metrics.

        Every call with a latency counts as a request (``llm_request_duration_seconds_count``),
        errors included; ``ttft_s``, tokens and ``cost_usd`` are recorded when not None.
        Returns nothing.

        Example:
            >>> ObserverMetrics().record_call({"model": "gpt-4o", "status": "error",
            ...                                "error_type": "RateLimitError", "latency_s": 0.3})
        """
        model = self._model(row.get("model"))
        operation = self._operation(row.get("operation"))
        provider = self._provider(row.get("provider"))
        failed = row.get("status") == "error"
        error_type = self._error_type(row.get("error_type")) if failed else ""

        latency = row.get("latency_s")
        if latency is not None:
            self._child(d.REQUEST_DURATION, model, operation).observe(latency)
            self._child(d.GENAI_DURATION, operation, provider, model, error_type).observe(latency)
        ttft = row.get("ttft_s")
        if ttft is not None:
            self._child(d.TTFT, model).observe(ttft)
            self._child(d.GENAI_TIME_TO_FIRST_CHUNK, operation, provider, model).observe(ttft)
        for token_type in ("input", "output"):
            tokens = row.get(f"{token_type}_tokens")
            if tokens is not None:
                self._child(d.TOKENS, model, token_type).inc(tokens)
                self._child(d.GENAI_TOKEN_USAGE, operation, provider, model, token_type).observe(
                    tokens
                )
        cost = row.get("cost_usd")
        if cost is not None:
            self._child(d.COST, model).inc(cost)
        if failed:
            self._child(d.ERRORS, model, error_type).inc()

    def record_calls(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add several finished calls, as :meth:`record_call` does for each. Returns nothing."""
        for row in rows:
            self.record_call(row)

    def record_score(self, model: str | None, use_case: str | None, value: float) -> None:
        """Observe one quality score of a call to ``model`` in ``use_case``. Returns nothing.

        Example:
            >>> ObserverMetrics().record_score("gpt-4o", "customer_service", 0.82)
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"quality score must be a number, got {value!r}")
        self._child(d.QUALITY, self._model(model), self._use_case(use_case)).observe(value)

    def text(self) -> str:
        """Return the Prometheus text exposition of this registry.

        Example:
            >>> "# TYPE llm_request_duration_seconds histogram" in ObserverMetrics().text()
            True
        """
        return generate_latest(self.registry).decode()

    def serve(self, port: int = 9464, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve the metrics over HTTP for Prometheus to scrape; return the running server.

        Calling it again with the same port (or 0) returns the running server; asking for
        another port while serving raises, so a re-run cell never leaves two servers behind.
        ``port=0`` picks a free port (read it from ``server.port``).

        Example:
            >>> server = ObserverMetrics().serve(port=0)
            >>> server.addr
            '127.0.0.1'
            >>> server.stop()
        """
        with self._server_lock:
            server = self._server
            if server is not None and server.running:
                if port in (0, server.port) and addr == server.addr:
                    return server
                raise ValueError(
                    f"metrics are already served at {server.url}; call close() (or "
                    f"server.stop()) first to serve on {addr}:{port}"
                )
            self._server = MetricsServer.start(self.registry, port, addr)
            return self._server

    @property
    def server(self) -> MetricsServer | None:
        """The running server, or None when not serving."""
        server = self._server
        return server if server is not None and server.running else None

    def close(self) -> None:
        """Stop the HTTP server if one runs; the metrics stay readable through text()."""
        with self._server_lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def __repr__(self) -> str:
        where = self.server.url if self.server else "not served"
        return f"ObserverMetrics({len(self._children)} series, {where})"
