"""Documented recipes: OpenTelemetry's openai-v2 and OpenInference's instrumentations, with
``init(set_global=True)``, land in ``llm_calls`` with the server's exact usage and cost."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb.local_llm import LLMTestServer, Usage
from llmobs_nb.pricing import PriceBook

ROOT = Path(__file__).resolve().parents[2]
RECIPES = {
    "openai-v2": "opentelemetry.instrumentation.openai_v2",
    "openinference-openai": "openinference.instrumentation.openai",
    "openinference-anthropic": "openinference.instrumentation.anthropic",
    "openinference-suppressed": "openinference.instrumentation.openai",
}
# openai-v2 2.4b0 reports input and output tokens only (no cached or reasoning counts), so its
# server usage has none: cost then matches exactly, and unknown counts stay NULL, never 0.
PLAIN = Usage(input_tokens=1200, output_tokens=80)
CACHED = Usage(input_tokens=1200, output_tokens=80, cached_tokens=1024, reasoning_tokens=20)


def run_recipe(
    recipe: str, usage: Usage, tmp_path: Path, reply: str = "The capital of France is Paris."
) -> llmobs_nb.Observer:
    if importlib.util.find_spec(RECIPES[recipe]) is None:
        pytest.skip(f"{RECIPES[recipe]} is not installed (pip install -e '.[dev]')")
    db = tmp_path / f"{recipe}.duckdb"
    with LLMTestServer(usage=usage, ttft_s=0.05, reply=reply) as server:
        result = subprocess.run(
            [sys.executable, "-m", "tests.clients.recipe_run", recipe, server.url, str(db)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return llmobs_nb.open(db)


def expected_cost(model: str, provider: str, usage: Usage) -> float:
    cost, _ = PriceBook().cost(
        model,
        provider=provider,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_tokens or None,
        reasoning_tokens=usage.reasoning_tokens or None,
    )
    assert cost is not None
    return cost


def test_opentelemetry_openai_v2(tmp_path):
    calls = run_recipe("openai-v2", PLAIN, tmp_path).calls()
    assert calls.height == 2  # plain and streamed
    assert calls["model"].to_list() == ["gpt-4o", "gpt-4o"]
    assert calls["input_tokens"].to_list() == [1200, 1200]
    assert calls["output_tokens"].to_list() == [80, 80]
    assert calls["cached_input_tokens"].null_count() == 2
    for cost in calls["cost_usd"]:
        assert cost == pytest.approx(expected_cost("gpt-4o", "openai", PLAIN))


def test_openinference_openai_reads_cached_and_reasoning_tokens(tmp_path):
    calls = run_recipe("openinference-openai", CACHED, tmp_path).calls()
    assert calls.height == 2
    assert calls["input_tokens"].to_list() == [1200, 1200]
    assert calls["cached_input_tokens"].to_list() == [1024, 1024]
    assert calls["reasoning_tokens"].to_list() == [20, 20]
    for cost in calls["cost_usd"]:
        assert cost == pytest.approx(expected_cost("gpt-4o", "openai", CACHED))


def test_openinference_anthropic_with_the_sdks_own_tracing_counts_each_call_once(tmp_path):
    store = run_recipe("openinference-anthropic", CACHED, tmp_path)
    calls = store.calls()
    assert calls.height == 2  # the Anthropic SDK's own spans do not count a second time
    assert calls["input_tokens"].to_list() == [1200, 1200]  # cache reads included
    assert calls["cached_input_tokens"].to_list() == [1024, 1024]
    for cost in calls["cost_usd"]:
        assert cost == pytest.approx(expected_cost("claude-sonnet-4-6", "anthropic", CACHED))
    sdk_spans = store.spans().filter(store.spans()["kind"] == "other")
    assert sdk_spans.height == 2
    assert all("llmobs.duplicate_call" in a for a in sdk_spans["attributes"])


def test_openinference_honours_suppress_instrumentation_and_the_judge_is_counted_once(tmp_path):
    # OpenInference reads OpenTelemetry's suppress-instrumentation key: the call made inside
    # llmobs_nb's suppress_instrumentation() and the judge's own client call are not traced
    # by it; the judge's call is stored once, as its evaluator span.
    verdict = '{"score": 4, "reason": "correct"}'
    store = run_recipe("openinference-suppressed", PLAIN, tmp_path, reply=verdict)
    calls = store.calls()
    assert sorted(calls["kind"].to_list()) == ["evaluator", "llm"]
    judged = calls.filter(calls["kind"] == "evaluator").row(0, named=True)
    assert (judged["input_tokens"], judged["output_tokens"]) == (1200, 80)
    assert store.spans().height == 2  # no instrumentor span under the judge's
