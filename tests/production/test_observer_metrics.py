"""ObserverMetrics: the exposition a Prometheus user scrapes, and the endpoint that serves it."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmobs_nb.metrics import ObserverMetrics


def families(metrics: ObserverMetrics) -> dict:
    return {f.name: f for f in text_string_to_metric_families(metrics.text())}


def sample_value(metrics: ObserverMetrics, name: str, **labels: str) -> float:
    for family in families(metrics).values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name}{labels}")


def test_exposes_the_six_design_metrics_with_their_labels_and_buckets(realistic_calls):
    metrics = ObserverMetrics()
    metrics.record_calls(realistic_calls(60))
    metrics.record_score("gpt-4o", "customer_service", 0.82)
    found = families(metrics)

    expected = {
        "llm_request_duration_seconds": ("histogram", {"model", "operation"}),
        "llm_ttft_seconds": ("histogram", {"model"}),
        "llm_tokens": ("counter", {"model", "type"}),
        "llm_cost_usd": ("counter", {"model"}),
        "llm_quality_score": ("histogram", {"model", "use_case"}),
        "llm_errors": ("counter", {"model", "error_type"}),
    }
    for name, (kind, labels) in expected.items():
        assert found[name].type == kind
        assert {k for s in found[name].samples for k in s.labels} - {"le"} == labels

    def buckets(name: str) -> list[str]:
        les = [s.labels["le"] for s in found[name].samples if s.name.endswith("_bucket")]
        return list(dict.fromkeys(les))

    assert buckets("llm_request_duration_seconds") == [
        "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "+Inf"
    ]  # fmt: skip
    assert buckets("llm_ttft_seconds") == ["0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf"]
    assert buckets("llm_quality_score") == [
        "0.1", "0.2", "0.4", "0.6", "0.7", "0.8", "0.9", "1.0", "+Inf"
    ]  # fmt: skip


def test_exposes_opentelemetry_genai_client_metrics_with_standard_labels(realistic_calls):
    metrics = ObserverMetrics()
    metrics.record_calls(realistic_calls(30))
    found = families(metrics)

    duration = found["gen_ai_client_operation_duration_seconds"]
    assert duration.type == "histogram"
    assert {"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"} <= {
        k for s in duration.samples for k in s.labels
    }
    tokens = found["gen_ai_client_token_usage"]
    assert {s.labels["gen_ai_token_type"] for s in tokens.samples} == {"input", "output"}
    assert "gen_ai_client_operation_time_to_first_chunk_seconds" in found
    # errors carry error_type, successes leave it empty (absent, for Prometheus)
    error_types = {s.labels["error_type"] for s in duration.samples}
    assert "" in error_types and "RateLimitError" in error_types


def test_counters_and_request_count_add_up_to_the_recorded_calls(realistic_calls):
    calls = realistic_calls(90)
    metrics = ObserverMetrics()
    metrics.record_calls(calls)

    gpt = [c for c in calls if c["model"] == "gpt-4o"]
    assert sample_value(metrics, "llm_tokens_total", model="gpt-4o", type="input") == sum(
        c["input_tokens"] or 0 for c in gpt
    )
    assert sample_value(metrics, "llm_cost_usd_total", model="gpt-4o") == pytest.approx(
        sum(c["cost_usd"] or 0 for c in gpt), rel=1e-12
    )
    requests = sum(
        s.value
        for s in families(metrics)["llm_request_duration_seconds"].samples
        if s.name == "llm_request_duration_seconds_count"
    )
    errors = sum(
        s.value for s in families(metrics)["llm_errors"].samples if s.name.endswith("_total")
    )
    assert requests == len(calls)
    assert errors == sum(c["status"] == "error" for c in calls) > 0


def test_unpriced_model_has_no_cost_series_rather_than_a_silent_zero(realistic_calls):
    metrics = ObserverMetrics()
    metrics.record_calls(realistic_calls(30))
    cost_models = {s.labels["model"] for s in families(metrics)["llm_cost_usd"].samples}
    assert "local-llama" not in cost_models
    assert "gpt-4o" in cost_models


def test_promtool_check_metrics_finds_no_problem(promtool, realistic_calls):
    metrics = ObserverMetrics()
    metrics.record_calls(realistic_calls(200))
    metrics.record_score("gpt-4o", "customer_service", 0.9)
    metrics.record_score(None, None, 0.3)

    result = promtool("check", "metrics", stdin=metrics.text())

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_model_label_is_capped_and_missing_values_are_unknown():
    metrics = ObserverMetrics(max_models=3)
    for i in range(10):
        metrics.record_call({"model": f"ft:gpt-4o:user-{i}", "latency_s": 1.0})
    metrics.record_call({"model": None, "latency_s": 1.0})

    models = {
        s.labels["model"]: s.value
        for s in families(metrics)["llm_request_duration_seconds"].samples
        if s.name == "llm_request_duration_seconds_count"
    }
    assert models == {
        "ft:gpt-4o:user-0": 1,
        "ft:gpt-4o:user-1": 1,
        "ft:gpt-4o:user-2": 1,
        "other": 7,
        "unknown": 1,
    }


def test_error_type_label_is_capped():
    metrics = ObserverMetrics(max_label_values=2)
    for i in range(5):
        metrics.record_call(
            {"model": "m", "status": "error", "error_type": f"E{i}", "latency_s": 1}
        )
    errors = {s.labels["error_type"]: s.value for s in families(metrics)["llm_errors"].samples}
    assert {k: v for k, v in errors.items()} == {"E0": 1, "E1": 1, "other": 3}


def test_quality_score_must_be_a_number():
    with pytest.raises(ValueError, match="quality score must be a number, got nan"):
        ObserverMetrics().record_score("gpt-4o", "qa", float("nan"))


def test_two_instances_coexist_without_duplicated_timeseries():
    first, second = ObserverMetrics(), ObserverMetrics()
    first.record_call({"model": "gpt-4o", "latency_s": 2.0})
    assert "gpt-4o" in first.text()
    assert "gpt-4o" not in second.text()


def test_sharing_a_registry_twice_says_what_to_do():
    metrics = ObserverMetrics()
    with pytest.raises(ValueError, match="pass registry=None"):
        ObserverMetrics(registry=metrics.registry)


def test_serve_is_bound_to_loopback_and_idempotent():
    metrics = ObserverMetrics()
    metrics.record_call({"model": "gpt-4o", "latency_s": 0.7})
    server = metrics.serve(port=0)
    try:
        assert server.addr == "127.0.0.1" and server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(server.url, timeout=5) as resp:
            assert 'llm_request_duration_seconds_count{model="gpt-4o"' in resp.read().decode()

        again = metrics.serve(port=server.port)
        assert again is server and metrics.serve(port=0) is server
        with pytest.raises(ValueError, match="already served at"):
            metrics.serve(port=server.port + 1)
    finally:
        metrics.close()
    assert not server.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_serving_on_a_busy_port_says_how_to_pick_another():
    first, second = ObserverMetrics(), ObserverMetrics()
    server = first.serve(port=0)
    try:
        with pytest.raises(OSError, match="pass port=0"):
            second.serve(port=server.port)
    finally:
        first.close()


def test_record_batch_equals_record_call_row_by_row():
    import re

    import polars as pl

    from llmobs_nb.metrics import ObserverMetrics

    rows = [
        {
            "model": "gpt-4o",
            "operation": "chat",
            "provider": "openai",
            "status": "ok",
            "error_type": None,
            "latency_s": 0.5,
            "ttft_s": 0.1,
            "input_tokens": 100,
            "output_tokens": 20,
            "cost_usd": 0.00045,
        },
        {
            "model": "gpt-4o",
            "operation": "chat",
            "provider": "openai",
            "status": "ok",
            "error_type": None,
            "latency_s": 2.5,
            "ttft_s": None,
            "input_tokens": 7,
            "output_tokens": 1,
            "cost_usd": 0.0001,
        },
        {
            "model": "gpt-4o",
            "operation": "chat",
            "provider": "openai",
            "status": "error",
            "error_type": "RateLimitError",
            "latency_s": 61.0,
            "ttft_s": None,
            "input_tokens": None,
            "output_tokens": None,
            "cost_usd": None,
        },
        {
            "model": None,
            "operation": None,
            "provider": None,
            "status": "ok",
            "error_type": None,
            "latency_s": 10.0,
            "ttft_s": 5.0,
            "input_tokens": 3,
            "output_tokens": 4,
            "cost_usd": None,
        },
    ]
    one_by_one, batched = ObserverMetrics(), ObserverMetrics()
    for row in rows:
        one_by_one.record_call(row)
    batched.record_batch(pl.DataFrame(rows))

    def samples(text: str) -> list[str]:
        return sorted(line for line in text.splitlines() if "_created" not in line)

    assert samples(batched.text()) == samples(one_by_one.text())
    bucket = r'llm_request_duration_seconds_bucket\{le="1.0",model="gpt-4o"'
    assert re.search(bucket, batched.text())
