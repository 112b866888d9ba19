"""Traffic through llmobs_nb.init: Prometheus's counters equal the stored calls' sums."""

from __future__ import annotations

import random
import urllib.request

import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

import llmobs_nb


def scrape_config(port: int) -> str:
    return f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: notebook
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


@pytest.fixture
def observer(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "x.duckdb", project="p")
    yield obs
    obs.close()


def test_observed_calls_reach_prometheus_with_the_stored_totals(observer, start_prometheus):
    rng = random.Random(3)

    @observer.observe(model="gpt-4o", operation="chat", use_case="support")
    def ask(question: str) -> dict:
        return {"usage": {"prompt_tokens": rng.randint(50, 500), "completion_tokens": 20}}

    @observer.observe(model="gpt-4o-mini", operation="chat")
    def fail(question: str) -> dict:
        raise TimeoutError("upstream timed out")

    server = observer.serve_metrics(port=0)
    assert observer.serve_metrics(port=0) is server
    prometheus = start_prometheus(scrape_config(server.port))
    for i in range(60):
        ask(f"question {i}")
        if i % 10 == 0:
            with pytest.raises(TimeoutError):
                fail("q")
    observer.flush()

    calls = observer.calls()
    assert len(calls) == 66
    input_tokens = int(calls["input_tokens"].sum())
    count = "sum(llm_request_duration_seconds_count)"
    prometheus.wait_for(lambda: bool(prometheus.query(count)) and prometheus.scalar(count) == 66)

    assert prometheus.scalar('sum(llm_tokens_total{type="input"})') == input_tokens
    assert prometheus.scalar('sum(llm_tokens_total{type="output"})') == 20 * 60
    assert prometheus.scalar('llm_errors_total{error_type="TimeoutError"}') == 6
    stored_cost = calls["cost_usd"].sum()
    assert stored_cost > 0  # gpt-4o is priced
    assert prometheus.scalar("sum(llm_cost_usd_total)") == pytest.approx(stored_cost, rel=1e-9)

    exposition = observer.metrics_text()
    with urllib.request.urlopen(server.url, timeout=5) as resp:
        served = resp.read().decode()
    by_model = calls.group_by("model").agg(pl.len()).rows()
    for text in (exposition, served):
        counts = {
            s.labels["model"]: s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "llm_request_duration_seconds_count"
        }
        assert counts == dict(by_model)
