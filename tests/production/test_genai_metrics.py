"""The OpenTelemetry GenAI client metrics a real observer serves: names promtool accepts, the
convention's attributes (semantic conventions v1.41) and its advised bucket boundaries."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import llmobs_nb

ADVISED_SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]
ADVISED_SECONDS += [40.96, 81.92]
ADVISED_TOKENS = [4.0**i for i in range(14)]  # 1, 4, 16 … 67,108,864
ADVISED = {
    "gen_ai_client_operation_duration_seconds": ADVISED_SECONDS,
    "gen_ai_client_operation_time_to_first_chunk_seconds": ADVISED_SECONDS,
    "gen_ai_client_token_usage": ADVISED_TOKENS,
}


@pytest.fixture
def scraped(tmp_path) -> str:
    """/metrics of a real observer after a streamed call, a plain call and a failed one."""
    obs = llmobs_nb.init(db=tmp_path / "x.duckdb", project="p")
    try:
        chat = {"kind": "llm", "model": "gpt-4o", "provider": "openai", "operation": "chat"}
        with obs.span("chat gpt-4o", **chat) as span:
            span.mark_first_token()
            span.set_response(
                {
                    "model": "gpt-4o-2024-08-06",
                    "usage": {"prompt_tokens": 90, "completion_tokens": 7},
                }
            )
        with obs.span("chat gpt-4o", **chat) as span:
            span.set_response({"usage": {"prompt_tokens": 5000, "completion_tokens": 1}})
        with pytest.raises(TimeoutError), obs.span("chat gpt-4o", **chat):
            raise TimeoutError("upstream timed out")
        with pytest.raises(ValueError), obs.span("embed", kind="embedding"):
            raise ValueError("no model, no provider")
        obs.flush()
        server = obs.serve_metrics(port=0)
        with urllib.request.urlopen(server.url, timeout=5) as resp:
            return resp.read().decode()
    finally:
        obs.close()


def samples(text: str, name: str) -> list:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def test_promtool_accepts_the_served_exposition_without_lint_problems(scraped, promtool):
    result = promtool("check", "metrics", stdin=scraped)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""  # no lint warning either


def test_promtool_check_would_flag_a_badly_named_counter(promtool):
    # Guards the test above: the same check on a counter without _total must complain.
    bad = "# HELP llm_things Things.\n# TYPE llm_things counter\nllm_things 1\n"
    result = promtool("check", "metrics", stdin=bad)
    assert result.returncode != 0 and "_total" in result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(ADVISED))
def test_each_genai_histogram_has_the_advised_bucket_boundaries(scraped, name):
    buckets = samples(scraped, f"{name}_bucket")
    assert buckets, f"{name} not served"
    for series in {
        tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) for s in buckets
    }:
        les = [
            float(s.labels["le"])
            for s in buckets
            if tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) == series
        ]
        assert les == [*ADVISED[name], float("inf")], (series, les)


def test_genai_attributes_follow_the_convention(scraped):
    duration = samples(scraped, "gen_ai_client_operation_duration_seconds_count")
    # error.type only on failed calls; gen_ai.response.model absent (empty) when not answered
    by_outcome = {(s.labels["error_type"], s.labels["gen_ai_response_model"]): s for s in duration}
    assert set(by_outcome) == {
        ("", "gpt-4o-2024-08-06"),
        ("", ""),
        ("TimeoutError", ""),
        ("ValueError", ""),
    }
    ok = by_outcome["", "gpt-4o-2024-08-06"]
    assert ok.labels["gen_ai_request_model"] == "gpt-4o"
    assert ok.labels["gen_ai_operation_name"] == "chat"
    assert ok.labels["gen_ai_provider_name"] == "openai"
    assert ok.value == 1
    # a model call naming no model: request model absent, provider the 'unknown' placeholder
    embed = by_outcome["ValueError", ""]
    assert embed.labels["gen_ai_request_model"] == ""
    assert embed.labels["gen_ai_provider_name"] == "unknown"

    first_chunk = samples(scraped, "gen_ai_client_operation_time_to_first_chunk_seconds_count")
    assert [s.value for s in first_chunk] == [1]  # only the streamed call reports it
    assert "error_type" not in first_chunk[0].labels

    tokens = {
        (s.labels["gen_ai_token_type"], s.labels["gen_ai_response_model"]): s.value
        for s in samples(scraped, "gen_ai_client_token_usage_sum")
    }
    assert tokens == {
        ("input", "gpt-4o-2024-08-06"): 90,
        ("output", "gpt-4o-2024-08-06"): 7,
        ("input", ""): 5000,
        ("output", ""): 1,
    }


def test_an_unknown_or_unbounded_error_type_is_the_conventions_other():
    from llmobs_nb.metrics import ObserverMetrics

    metrics = ObserverMetrics(max_label_values=1)
    for error_type in (None, "RateLimitError", "APITimeoutError"):  # the last is past the bound
        metrics.record_call(
            {"model": "m", "status": "error", "error_type": error_type, "latency_s": 1}
        )
    duration = samples(metrics.text(), "gen_ai_client_operation_duration_seconds_count")
    assert {s.labels["error_type"]: s.value for s in duration} == {"_OTHER": 2, "RateLimitError": 1}
    # the llm_* family keeps its own placeholders
    errors = samples(metrics.text(), "llm_errors_total")
    assert {s.labels["error_type"] for s in errors} == {"unknown", "RateLimitError", "other"}
