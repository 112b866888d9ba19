"""Live Prometheus metrics of one observer, in a registry of its own."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from llmobs_nb import registry
from llmobs_nb.metrics import definitions as d
from llmobs_nb.metrics.bridge_counts import BridgeCounts, Counts
from llmobs_nb.metrics.label_guard import LabelGuard
from llmobs_nb.metrics.server import MetricsServer, PortInUseError
from llmobs_nb.store.schema import LLM_CALLS_COLUMNS, SPANS, is_model_call


def _create(metric: d.MetricDef, registry: CollectorRegistry) -> Counter | Histogram | Gauge:
    if metric.kind == "counter":
        return Counter(metric.name, metric.help, metric.labels, registry=registry)
    if metric.kind == "gauge":
        return Gauge(metric.name, metric.help, metric.labels, registry=registry)
    return Histogram(
        metric.name,
        metric.help,
        metric.labels,
        registry=registry,
        buckets=metric.buckets,
    )


# The llm_calls columns the metrics read, with the view's dtypes (a batch may lack some).
_BATCH_COLUMNS: dict[str, pl.DataType] = {
    c: LLM_CALLS_COLUMNS[c]
    for c in (
        "model",
        "response_model",
        "operation",
        "provider",
        "status",
        "error_type",
        "latency_s",
        "ttft_s",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    )
}


# The span columns the agent and tool metrics read (a batch may lack some: NULL then).
_STEP_COLUMNS: dict[str, pl.DataType] = {
    c: SPANS.polars[c]
    for c in ("trace_id", "kind", "status", "latency_s", "agent_name", "tool_name")
}
_STEP_KINDS = ("agent", "tool")
MAX_TRACKED_TOOL_USES = 10_000
"""(trace, agent, tool) counts kept to find repeated tool calls; the oldest are forgotten."""


def _steps(spans: pa.Table | pl.DataFrame) -> pl.DataFrame | None:
    """The agent and tool rows of a batch of span rows, in :data:`_STEP_COLUMNS`, or None."""
    names = spans.column_names if isinstance(spans, pa.Table) else spans.columns
    if "kind" not in names:
        return None
    if isinstance(spans, pa.Table):  # filter in Arrow: only the few step rows reach polars
        spans = spans.filter(pc.is_in(spans["kind"], pa.array(_STEP_KINDS)))
        if spans.num_rows == 0:
            return None
        spans = pl.from_arrow(spans)  # type: ignore[assignment]
        assert isinstance(spans, pl.DataFrame)
    else:
        spans = spans.filter(pl.col("kind").is_in(_STEP_KINDS))
    if spans.height == 0:
        return None
    return spans.select(
        pl.col(c).cast(dtype) if c in spans.columns else pl.lit(None, dtype).alias(c)
        for c, dtype in _STEP_COLUMNS.items()
    )


def _guarded(frame: pl.DataFrame, column: str, guard: LabelGuard) -> pl.Expr:
    """``column`` mapped through its label guard, one guard call per distinct value, in the
    order they arrive (the guard keeps the first ones)."""
    values = frame[column].fill_null("").unique(maintain_order=True).to_list()
    mapping = {value: guard(value) for value in values}
    return pl.col(column).fill_null("").replace_strict(mapping, return_dtype=pl.String)


def _genai_error(error_type: str) -> str:
    """``error.type`` of a failed call for the GenAI duration: the class name, or the
    convention's ``_OTHER`` when unknown or past the label bound; empty (absent) on success."""
    return d.GENAI_OTHER_ERROR if error_type in (d.UNKNOWN, d.OTHER) else error_type


def _optional(guard: LabelGuard, value: object) -> str:
    """A guarded label value, or empty (absent for Prometheus) when there is none."""
    return "" if value is None or value == "" else guard(value)


def _observe_many(child: Any, values: np.ndarray) -> None:
    """Observe many values in one step per bucket (prometheus_client observes one by one)."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None:  # another client version: be exact
        for value in values:
            child.observe(float(value))
        return
    # observe() puts a value in the first bucket whose upper bound is >= the value.
    index = np.searchsorted(np.asarray(bounds, dtype=float), values, side="left")
    counts = np.bincount(index, minlength=len(bounds))
    for i, count in enumerate(counts):
        if count:
            buckets[i].inc(float(count))
    total.inc(float(values.sum()))


class ObserverMetrics:
    """The six ``llm_*`` metrics (docs/design.md §1) plus the OpenTelemetry GenAI client metrics,
    and the agent and tool metrics (``llmobs_tool_calls_total`` …, :meth:`record_steps`).

    Each instance owns its registry (``.registry``), so re-running a notebook cell never raises
    "Duplicated timeseries". Label values are bounded: at most ``max_models`` model names (later
    ones are counted under ``other``), at most ``max_label_values`` operations, providers, use
    cases, error types and agents, at most ``max_tools`` tools; a missing value is ``unknown``.
    No user, trace or session id or free text is a label.

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
        max_tools: int = 50,
    ) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        try:
            self._metrics = {
                m.name: _create(m, self.registry)
                for m in d.ALL_METRICS + d.HEALTH_METRICS + d.AGENT_METRICS
            }
        except ValueError as exc:
            raise ValueError(
                f"{exc}: this registry already holds llmobs_nb metrics; pass registry=None "
                f"(each ObserverMetrics then gets its own) or a fresh CollectorRegistry()"
            ) from exc
        self._model = LabelGuard(max_models)
        self._response_model = LabelGuard(max_models)
        self._operation = LabelGuard(max_label_values)
        self._provider = LabelGuard(max_label_values)
        self._use_case = LabelGuard(max_label_values)
        self._error_type = LabelGuard(max_label_values)
        self._agent = LabelGuard(max_label_values)
        self._tool = LabelGuard(max_tools)
        # (trace id, agent, tool) → calls seen, for llmobs_tool_repeat_calls_total; bounded
        self._tool_uses: OrderedDict[tuple[Any, Any, Any], int] = OrderedDict()
        self._tool_uses_lock = threading.Lock()
        # prometheus_client's labels() validates and locks on every call; a dict of children
        # keyed by label values keeps record_call cheap on the observer's flush thread.
        self._children: dict[tuple[str, ...], Any] = {}
        self._server: MetricsServer | None = None
        self._server_lock = threading.Lock()
        self._bridge: BridgeCounts | None = None

    def _child(self, metric: d.MetricDef, *values: str) -> Any:
        key = (metric.name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._metrics[metric.name].labels(*values)
        return child

    def record_call(self, row: Mapping[str, Any]) -> None:
        """Add one finished LLM call (a row with the ``llm_calls`` columns) to the metrics.

        Every call with a latency counts as a request (``llm_request_duration_seconds_count``),
        errors included; ``ttft_s``, tokens and ``cost_usd`` are recorded when not None. A row
        with a ``kind`` counts only if it is a model call
        (:data:`~llmobs_nb.store.schema.is_model_call`, the ``llm_calls`` view's rule: an
        ``evaluator`` span without a model is not one). Returns nothing.

        Example:
            >>> ObserverMetrics().record_call({"model": "gpt-4o", "status": "error",
            ...                                "error_type": "RateLimitError", "latency_s": 0.3})
        """
        if "kind" in row and not is_model_call(row["kind"], row.get("model")):
            return
        model = self._model(row.get("model"))
        operation = self._operation(row.get("operation"))
        provider = self._provider(row.get("provider"))
        failed = row.get("status") == "error"
        error_type = self._error_type(row.get("error_type")) if failed else ""
        # the GenAI attributes: models absent (empty) when unknown, error.type's fallback
        genai = (
            operation,
            provider,
            _optional(self._model, row.get("model")),
            _optional(self._response_model, row.get("response_model")),
        )

        latency = row.get("latency_s")
        if latency is not None:
            self._child(d.REQUEST_DURATION, model, operation).observe(latency)
            self._child(d.GENAI_DURATION, *genai, _genai_error(error_type)).observe(latency)
        ttft = row.get("ttft_s")
        if ttft is not None:
            self._child(d.TTFT, model).observe(ttft)
            self._child(d.GENAI_TIME_TO_FIRST_CHUNK, *genai).observe(ttft)
        for token_type in ("input", "output"):
            tokens = row.get(f"{token_type}_tokens")
            if tokens is not None:
                self._child(d.TOKENS, model, token_type).inc(tokens)
                self._child(d.GENAI_TOKEN_USAGE, *genai, token_type).observe(tokens)
        cost = row.get("cost_usd")
        if cost is not None:
            self._child(d.COST, model).inc(cost)
        if failed:
            self._child(d.ERRORS, model, error_type).inc()

    def record_batch(self, calls: pl.DataFrame) -> None:
        """Add a batch of finished calls (a frame with the ``llm_calls`` columns) at once.

        Same result as :meth:`record_call` on each row (with a ``kind`` column, only the model
        calls count), computed per label set with polars and numpy: the observer's flush thread
        calls this once per batch. Returns nothing.

        Example:
            >>> m = ObserverMetrics()
            >>> m.record_batch(pl.DataFrame({"model": ["gpt-4o"] * 2, "latency_s": [0.4, 3.0],
            ...     "status": ["ok", "ok"], "input_tokens": [10, 20]}))
            >>> 'llm_tokens_total{model="gpt-4o",type="input"} 30.0' in m.text()
            True
        """
        if "kind" in calls.columns:  # spans of any kind: only the model calls count
            self.record_steps(calls)  # ... here; the agent and tool spans count there
            if "model" not in calls.columns:
                calls = calls.with_columns(model=pl.lit(None, pl.String))
            calls = calls.filter(is_model_call.polars())
        if calls.height == 0:
            return
        frame = calls.select(
            [
                pl.col(c) if c in calls.columns else pl.lit(None, dtype).alias(c)
                for c, dtype in _BATCH_COLUMNS.items()
            ]
        ).with_columns(
            pl.col(c).cast(pl.String).fill_null("")
            for c in ("model", "response_model", "operation", "provider")
        )
        frame = frame.with_columns(
            _guarded(frame, "model", self._model),
            pl.when(pl.col("response_model") == "")
            .then(pl.lit(""))
            .otherwise(_guarded(frame, "response_model", self._response_model))
            .alias("response_model"),
            # gen_ai.request.model: absent (empty) when unknown, else the guarded model
            pl.when(pl.col("model") == "")
            .then(pl.lit(""))
            .otherwise(_guarded(frame, "model", self._model))
            .alias("request_model"),
            _guarded(frame, "operation", self._operation),
            _guarded(frame, "provider", self._provider),
            pl.when(pl.col("status") == "error")
            .then(
                _guarded(
                    frame.with_columns(pl.col("error_type").fill_null("")),
                    "error_type",
                    self._error_type,
                )
            )
            .otherwise(pl.lit(""))
            .alias("error_type"),
        )
        by = ["model", "request_model", "response_model", "operation", "provider", "error_type"]
        for keys, group in frame.group_by(by):
            model, request_model, response_model, operation, provider, error_type = (
                str(k) for k in keys
            )
            genai = (operation, provider, request_model, response_model)
            latency = group["latency_s"].drop_nulls().to_numpy()
            if latency.size:
                _observe_many(self._child(d.REQUEST_DURATION, model, operation), latency)
                _observe_many(
                    self._child(d.GENAI_DURATION, *genai, _genai_error(error_type)), latency
                )
            ttft = group["ttft_s"].drop_nulls().to_numpy()
            if ttft.size:
                _observe_many(self._child(d.TTFT, model), ttft)
                _observe_many(self._child(d.GENAI_TIME_TO_FIRST_CHUNK, *genai), ttft)
            for token_type in ("input", "output"):
                tokens = group[f"{token_type}_tokens"].drop_nulls().to_numpy()
                if tokens.size:
                    self._child(d.TOKENS, model, token_type).inc(float(tokens.sum()))
                    _observe_many(
                        self._child(d.GENAI_TOKEN_USAGE, *genai, token_type),
                        tokens.astype(float),
                    )
            cost = group["cost_usd"].drop_nulls()
            if cost.len():
                self._child(d.COST, model).inc(float(cost.sum()))
            if error_type:
                self._child(d.ERRORS, model, error_type).inc(group.height)

    def record_steps(self, spans: pa.Table | pl.DataFrame) -> None:
        """Add the agent and tool spans of a batch of span rows (Arrow or polars, ``spans``
        columns; other kinds are skipped): ``llmobs_tool_calls_total{tool, agent, status}``,
        ``llmobs_tool_call_duration_seconds{tool, agent}``,
        ``llmobs_tool_repeat_calls_total{tool, agent}`` and
        ``llmobs_agent_invocations_total{agent, status}``. The flush thread calls it once per
        batch. Returns nothing.

        A tool call repeats when the same agent already called the same tool
        :data:`~llmobs_nb.metrics.definitions.TOOL_REPEAT_AFTER` times in the same trace
        (arguments are content, not always captured, so they are not compared); the counts
        per trace are kept for the last :data:`MAX_TRACKED_TOOL_USES` (trace, agent, tool).

        Example:
            >>> m = ObserverMetrics()
            >>> m.record_steps(pl.DataFrame({"trace_id": ["t1"] * 5, "kind": ["tool"] * 5,
            ...     "tool_name": ["search"] * 5, "agent_name": ["helper"] * 5,
            ...     "status": ["ok"] * 5, "latency_s": [0.2] * 5}))
            >>> print(m.text().split("llmobs_tool_repeat_calls_total{")[1].splitlines()[0])
            agent="helper",tool="search"} 2.0
        """
        steps = _steps(spans)
        if steps is None:
            return
        steps = steps.with_columns(
            agent=_guarded(steps, "agent_name", self._agent),
            tool=_guarded(steps, "tool_name", self._tool),
            state=pl.when(pl.col("status") == "error")
            .then(pl.lit("error"))
            .otherwise(pl.lit("ok")),
        )
        tools = steps.filter(pl.col("kind") == "tool")
        for (tool, agent, status), group in tools.group_by("tool", "agent", "state"):
            self._child(d.TOOL_CALLS, str(tool), str(agent), str(status)).inc(group.height)
        for (tool, agent), group in tools.group_by("tool", "agent"):
            # the repeat series exists (at 0) from the pair's first call on, so increase()
            # sees a loop's first repeats rather than a series born at its count
            self._child(d.TOOL_REPEATS, str(tool), str(agent))
            latency = group["latency_s"].drop_nulls().to_numpy()
            if latency.size:
                _observe_many(self._child(d.TOOL_DURATION, str(tool), str(agent)), latency)
        for (tool, agent), repeated in self._repeats(tools).items():
            if repeated:
                self._child(d.TOOL_REPEATS, tool, agent).inc(repeated)
        invocations = steps.filter(pl.col("kind") == "agent").group_by("agent", "state").len()
        for agent, status, count in invocations.iter_rows():
            self._child(d.AGENT_INVOCATIONS, agent, status).inc(count)

    def _repeats(self, tools: pl.DataFrame) -> dict[tuple[str, str], int]:
        """Repeated calls in this batch per (tool, agent) label, counted against the calls
        seen before in the same trace (raw names, so two tools capped to ``other`` stay apart).
        """
        per_trace = tools.group_by("trace_id", "agent_name", "tool_name", maintain_order=True).agg(
            pl.len(), pl.col("tool").first(), pl.col("agent").first()
        )
        after = d.TOOL_REPEAT_AFTER
        repeats: dict[tuple[str, str], int] = {}
        with self._tool_uses_lock:
            uses = self._tool_uses
            for trace_id, agent_name, tool_name, n, tool, agent in per_trace.iter_rows():
                key = (trace_id, agent_name, tool_name)
                before = uses.pop(key, 0)
                uses[key] = before + n  # now the most recent
                extra = max(0, before + n - after) - max(0, before - after)
                repeats[tool, agent] = repeats.get((tool, agent), 0) + extra
            while len(uses) > MAX_TRACKED_TOOL_USES:
                uses.popitem(last=False)
        return repeats

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

    def record_dropped(self, reason: str, rows: int) -> None:
        """Count ``rows`` span rows given up for ``reason`` (``llmobs_dropped_spans_total``).

        Example:
            >>> m = ObserverMetrics()
            >>> m.record_dropped("memory_bound", 3)
            >>> 'llmobs_dropped_spans_total{reason="memory_bound"} 3.0' in m.text()
            True
        """
        self._child(d.DROPPED_SPANS, reason).inc(rows)

    def watch_pending(self, memory: Callable[[], float], sidecar: Callable[[], float]) -> None:
        """Report ``llmobs_pending_spans{where="memory"|"sidecar"}`` from these functions,
        called at each scrape.

        Example:
            >>> m = ObserverMetrics()
            >>> m.watch_pending(lambda: 5, lambda: 0)
            >>> 'llmobs_pending_spans{where="memory"} 5.0' in m.text()
            True
        """
        self._child(d.PENDING_SPANS, "memory").set_function(memory)
        self._child(d.PENDING_SPANS, "sidecar").set_function(sidecar)

    def watch_bridge(self, export_stats: Counts, receiver_counts: Counts) -> None:
        """Report ``llmobs_export_spans_total{outcome}`` from ``export_stats()`` and
        ``llmobs_received_spans_total`` / ``llmobs_received_requests_total{outcome}`` from
        ``receiver_counts()``, both called at each scrape (see ``bridge_counts``). Calling it
        again replaces the functions.

        Example:
            >>> m = ObserverMetrics()
            >>> m.watch_bridge(lambda: {"sent": 4, "failed": 1}, lambda: {"spans_received": 2})
            >>> 'llmobs_received_spans_total{outcome="accepted"} 2.0' in m.text()
            True
        """
        if self._bridge is None:
            self._bridge = BridgeCounts(export_stats, receiver_counts)
            self.registry.register(self._bridge)
        else:
            self._bridge.export_stats, self._bridge.receiver_counts = export_stats, receiver_counts

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
        ``port=0`` picks a free port (read it from ``server.port``). A port taken by another
        observer of this kernel raises ``PortInUseError`` naming that observer.

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
            try:
                self._server = MetricsServer.start(self.registry, port, addr)
            except PortInUseError as exc:
                if (holder := registry.port_holder(port, but=self)) is None:
                    raise
                raise PortInUseError(port, addr, holder) from exc
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
