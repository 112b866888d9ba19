"""Names, labels and buckets of the exported metrics: the contract with dashboards and alerts.

Two families are exported side by side:

- the ``llm_*`` metrics of docs/design.md §1 (Export), which the generated Grafana dashboard
  and alert rules read;
- the OpenTelemetry GenAI client metrics under the names an OTLP→Prometheus pipeline would give
  them (``gen_ai.client.operation.duration`` → ``gen_ai_client_operation_duration_seconds``;
  the ``{token}`` unit is an annotation and adds no suffix), so community GenAI dashboards work
  on the same endpoint. Reference: semantic-conventions-genai, docs/gen-ai/gen-ai-metrics.md
  (metrics ``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``,
  ``gen_ai.client.operation.time_to_first_chunk``; buckets are the spec's advice), checked
  against semantic conventions v1.41. Attributes: ``gen_ai.operation.name`` and
  ``gen_ai.provider.name`` (required; ``unknown`` when a span names none),
  ``gen_ai.request.model`` (conditionally required: absent, i.e. empty, when unknown),
  ``gen_ai.response.model`` (recommended: empty when the answer named none), ``error.type``
  on the duration of failed calls (the class name; ``_OTHER``, the convention's fallback,
  when unknown or past the label bound), ``gen_ai.token.type`` on token usage.
  ``server.address``/``server.port`` (recommended) are not captured, so not exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmobs_nb.capture.semconv import ERROR_TYPE_OTHER


@dataclass(frozen=True)
class MetricDef:
    """One exported metric: what a Prometheus user sees in the exposition."""

    name: str
    kind: Literal["counter", "histogram", "gauge"]
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()


REQUEST_DURATION = MetricDef(
    "llm_request_duration_seconds",
    "histogram",
    ("model", "operation"),
    "Duration of LLM calls, errors included; its _count is the request count.",
    (0.5, 1, 2.5, 5, 10, 30, 60),
)
TTFT = MetricDef(
    "llm_ttft_seconds",
    "histogram",
    ("model",),
    "Time to first token of streamed LLM calls.",
    (0.1, 0.25, 0.5, 1, 2.5, 5),
)
TOKENS = MetricDef(
    "llm_tokens_total",
    "counter",
    ("model", "type"),
    "Tokens used by LLM calls; type is input (cached input included) or output.",
)
COST = MetricDef(
    "llm_cost_usd_total",
    "counter",
    ("model",),
    "Cost of priced LLM calls in US dollars (unpriced calls add nothing).",
)
QUALITY = MetricDef(
    "llm_quality_score",
    "histogram",
    ("model", "use_case"),
    "Quality scores attached to LLM calls (human, heuristic or LLM judge).",
    (0.1, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0),
)
ERRORS = MetricDef(
    "llm_errors_total",
    "counter",
    ("model", "error_type"),
    "LLM calls that ended in an error, by exception class.",
)

_GENAI_LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
)
GENAI_SECONDS_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**i for i in range(14))
"""The convention's advised boundaries for GenAI durations: 0.01, 0.02, 0.04 … 81.92 s."""
GENAI_TOKEN_BUCKETS: tuple[float, ...] = tuple(float(4**i) for i in range(14))
"""The convention's advised boundaries for token counts: 1, 4, 16 … 67,108,864."""
GENAI_OTHER_ERROR = ERROR_TYPE_OTHER
"""``error.type``'s fallback value in the conventions (an unknown or unbounded error type)."""
GENAI_DURATION = MetricDef(
    "gen_ai_client_operation_duration_seconds",
    "histogram",
    (*_GENAI_LABELS, "error_type"),
    "GenAI operation duration (OpenTelemetry gen_ai.client.operation.duration).",
    GENAI_SECONDS_BUCKETS,
)
GENAI_TOKEN_USAGE = MetricDef(
    "gen_ai_client_token_usage",
    "histogram",
    (*_GENAI_LABELS, "gen_ai_token_type"),
    "Number of input and output tokens used (OpenTelemetry gen_ai.client.token.usage).",
    GENAI_TOKEN_BUCKETS,
)
GENAI_TIME_TO_FIRST_CHUNK = MetricDef(
    "gen_ai_client_operation_time_to_first_chunk_seconds",
    "histogram",
    _GENAI_LABELS,
    "Time to the first chunk of a streamed response "
    "(OpenTelemetry gen_ai.client.operation.time_to_first_chunk).",
    GENAI_SECONDS_BUCKETS,
)

# The write path's own health: never silent about rows not (yet) in the store.
DROPPED_SPANS = MetricDef(
    "llmobs_dropped_spans_total",
    "counter",
    ("reason",),
    "Captured span rows given up before reaching the store, by reason (memory_bound, "
    "conversion, rejected, shutdown, after_close).",
)
PENDING_SPANS = MetricDef(
    "llmobs_pending_spans",
    "gauge",
    ("where",),
    "Captured span rows not written to the store yet: held in memory or in the sidecar folder.",
)
HEALTH_METRICS = (DROPPED_SPANS, PENDING_SPANS)

LLM_METRICS = (REQUEST_DURATION, TTFT, TOKENS, COST, QUALITY, ERRORS)
GENAI_METRICS = (GENAI_DURATION, GENAI_TOKEN_USAGE, GENAI_TIME_TO_FIRST_CHUNK)
ALL_METRICS = LLM_METRICS + GENAI_METRICS

# Agents and their tools (issue #15), from the agent (``invoke_agent``) and tool
# (``execute_tool``) spans of each flushed batch. Labels: the tool's name, the agent it ran in
# (``unknown`` outside any agent) and the span's status; never a trace, session or call id.
# Not in ALL_METRICS: the backfill and the backtest read model calls (``llm_calls``), which
# hold no agent or tool span.
TOOL_REPEAT_AFTER = 3
"""Calls of one tool by one agent in one trace that are still ordinary: later ones repeat."""
TOOL_CALLS = MetricDef(
    "llmobs_tool_calls_total",
    "counter",
    ("tool", "agent", "status"),
    "Tool calls (execute_tool spans) that ended, by tool, the agent that called it and "
    "status (ok, error).",
)
TOOL_DURATION = MetricDef(
    "llmobs_tool_call_duration_seconds",
    "histogram",
    ("tool", "agent"),
    "Duration of tool calls, errors included.",
    (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOOL_REPEATS = MetricDef(
    "llmobs_tool_repeat_calls_total",
    "counter",
    ("tool", "agent"),
    f"Calls of a tool that the same agent had already called {TOOL_REPEAT_AFTER} times or more "
    "in the same trace: the signature of a tool loop.",
)
AGENT_INVOCATIONS = MetricDef(
    "llmobs_agent_invocations_total",
    "counter",
    ("agent", "status"),
    "Agent invocations (invoke_agent spans) that ended, by agent and status (ok, error).",
)
AGENT_METRICS = (TOOL_CALLS, TOOL_DURATION, TOOL_REPEATS, AGENT_INVOCATIONS)

UNKNOWN = "unknown"
OTHER = "other"

# The standards bridge's own counts, read at each scrape from the export and receiver stats
# (never incremented twice): every span that did not reach an OTLP endpoint is counted.
EXPORT_SPANS = MetricDef(
    "llmobs_export_spans_total",
    "counter",
    ("outcome",),
    "Spans handed to OTLP export, by outcome: sent, dropped_queue_full, failed, "
    "unsent_at_close (summed over endpoints).",
)
EXPORT_OUTCOMES = ("sent", "dropped_queue_full", "failed", "unsent_at_close")
EXPORT_SCORES = MetricDef(
    "llmobs_export_scores_total",
    "counter",
    ("outcome",),
    "Scores handed to OTLP export as gen_ai.evaluation.result events, by outcome: sent, "
    "dropped_queue_full, failed (unsent at close included; summed over endpoints).",
)
#: ``Capture.export_stats()`` key → outcome label of :data:`EXPORT_SCORES`.
EXPORT_SCORE_OUTCOMES = {
    "scores_sent": "sent",
    "scores_dropped": "dropped_queue_full",
    "scores_failed": "failed",
}
RECEIVED_SPANS = MetricDef(
    "llmobs_received_spans_total",
    "counter",
    ("outcome",),
    "Spans sent to this notebook's OTLP receivers, by outcome: accepted or refused.",
)
RECEIVED_REQUESTS = MetricDef(
    "llmobs_received_requests_total",
    "counter",
    ("outcome",),
    "OTLP export requests to this notebook's receivers, by outcome: accepted (answered 200) "
    "or refused (answered 4xx, or 503 once closed).",
)
BRIDGE_METRICS = (EXPORT_SPANS, RECEIVED_SPANS, RECEIVED_REQUESTS)
