"""A real Prometheus scrapes serve() every second; what it stores is what was recorded."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import polars as pl
import pytest

from llmobs_nb.export.grafana import grafana_dashboard
from llmobs_nb.export.rules import alert_rules, rules_yaml
from llmobs_nb.metrics import ObserverMetrics
from llmobs_nb.metrics.definitions import REQUEST_DURATION


def scrape_config(target_port: int) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: llmobs_nb
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
"""


def panel_queries() -> list[tuple[str, str]]:
    substitutions = {
        "$model": ".*",
        "$use_case": ".*",
        "$agent": ".*",
        "$__rate_interval": "1m",
    }
    queries = []
    for panel in grafana_dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in substitutions.items():
                expr = expr.replace(variable, value)
            queries.append((panel["title"], expr))
    return queries


def agent_steps(n: int, offset: float) -> pl.DataFrame:
    """``n`` tool calls of an agent in one trace (a loop past the third), and the agent."""
    trace = f"trace-{offset}"
    return pl.DataFrame(
        {
            "trace_id": [trace] * (n + 1),
            "kind": ["tool"] * n + ["agent"],
            "tool_name": ["search_docs"] * n + [None],
            "agent_name": ["support_agent"] * (n + 1),
            "status": ["ok"] * (n + 1),
            "latency_s": [0.05 + offset] * (n + 1),
        }
    )


@pytest.fixture(scope="module")
def scraped(start_prometheus, tmp_path_factory, realistic_calls):
    """Two batches of calls and scores, each scraped by Prometheus, with a low-threshold rule."""
    metrics = ObserverMetrics()
    server = metrics.serve(port=0)
    quick = [
        dataclasses.replace(rule, threshold=0.001, for_="0s")
        for rule in alert_rules()
        if rule.name == "LLMHighLatency"
    ]
    workdir = tmp_path_factory.mktemp("live")
    (workdir / "rules.yml").write_text(rules_yaml(quick))
    prometheus = start_prometheus(scrape_config(server.port), workdir=workdir)

    calls = realistic_calls(400)
    total_count = "sum(llm_request_duration_seconds_count)"
    # an OTLP export's counts, as Capture.export_stats() gives them: some spans fail per batch
    export = dict.fromkeys(("sent", "dropped_queue_full", "failed", "unsent_at_close"), 0)
    metrics.watch_bridge(lambda: export, dict)
    for batch, offset in ((calls[:200], 0.0), (calls[200:], 0.05)):
        export["sent"] += len(batch) - 7
        export["failed"] += 7
        metrics.record_calls(batch)
        metrics.record_steps(agent_steps(len(batch), offset))
        for i, call in enumerate(batch):
            metrics.record_score(call["model"], call["use_case"], (i % 10) / 10 + offset)
        expected = len(batch) if offset == 0 else len(calls)
        prometheus.wait_for(
            lambda n=expected: (
                bool(prometheus.query(total_count)) and prometheus.scalar(total_count) == n
            )
        )
    # one more scrape so rate() windows hold samples after the second batch
    seen = prometheus.scalar("max(timestamp(up))")
    prometheus.wait_for(lambda: prometheus.scalar("max(timestamp(up))") > seen)
    yield prometheus, calls
    metrics.close()


def test_prometheus_sees_exact_counters_and_bucket_accurate_quantiles(scraped):
    prometheus, calls = scraped

    input_tokens = sum(c["input_tokens"] or 0 for c in calls)
    output_tokens = sum(c["output_tokens"] or 0 for c in calls)
    cost = sum(c["cost_usd"] or 0 for c in calls)
    assert prometheus.scalar('sum(llm_tokens_total{type="input"})') == input_tokens
    assert prometheus.scalar('sum(llm_tokens_total{type="output"})') == output_tokens
    assert prometheus.scalar("sum(llm_cost_usd_total)") == pytest.approx(cost, rel=1e-12)
    assert prometheus.scalar("sum(llm_errors_total)") == sum(c["status"] == "error" for c in calls)

    latencies = [c["latency_s"] for c in calls]
    exact = float(np.percentile(latencies, 95))
    estimated = prometheus.scalar(
        "histogram_quantile(0.95, sum by (le) (llm_request_duration_seconds_bucket))"
    )
    edges = [0.0, *REQUEST_DURATION.buckets, math.inf]
    lower, upper = next((lo, hi) for lo, hi in itertools.pairwise(edges) if lo < exact <= hi)
    assert lower <= estimated <= upper, (exact, estimated)

    genai_requests = prometheus.scalar("sum(gen_ai_client_operation_duration_seconds_count)")
    assert genai_requests == len(calls)


def test_loaded_alert_rule_becomes_firing(scraped):
    prometheus, _ = scraped

    def firing() -> bool:
        alerts = prometheus.api("alerts")["alerts"]
        return any(
            a["labels"]["alertname"] == "LLMHighLatency" and a["state"] == "firing" for a in alerts
        )

    prometheus.wait_for(firing, timeout_s=10)
    rules = prometheus.api("rules")["groups"][0]["rules"]
    assert [r["health"] for r in rules] == ["ok"]


def test_every_grafana_panel_query_returns_data(scraped):
    prometheus, _ = scraped
    for title, expr in panel_queries():
        result = prometheus.query(expr)
        values = [float(r["value"][1]) for r in result]
        assert any(math.isfinite(v) for v in values), f"{title}: {expr} returned {result}"
