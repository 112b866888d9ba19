"""observe() and span(): every kind of function, streams, errors, nesting, concurrency."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time

import polars as pl
import pytest

import llmobs_nb

USAGE = {"usage": {"prompt_tokens": 1000, "completion_tokens": 500}}


def test_sync_call_records_model_tokens_latency_and_cost(obs):
    @obs.observe(model="gpt-4o", operation="chat", use_case="support")
    def ask(question):
        time.sleep(0.02)
        return {**USAGE, "model": "gpt-4o-2024-08-06"}

    assert ask("hi") == {**USAGE, "model": "gpt-4o-2024-08-06"}
    row = obs.calls().row(0, named=True)
    assert row["model"] == "gpt-4o"
    assert row["response_model"] == "gpt-4o-2024-08-06"
    assert row["operation"] == "chat"
    assert row["use_case"] == "support"
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 500)
    assert row["cost_usd"] == pytest.approx(0.0075)
    assert row["latency_s"] >= 0.02
    assert row["ttft_s"] is None
    assert row["status"] == "ok"


def test_async_function_is_captured(obs):
    @obs.observe(model="gpt-4o-mini")
    async def ask(q):
        await asyncio.sleep(0.01)
        return USAGE

    assert asyncio.run(ask("x")) == USAGE
    calls = obs.calls()
    assert calls.height == 1
    assert calls["input_tokens"][0] == 1000
    assert calls["latency_s"][0] >= 0.01


def test_generator_records_ttft_at_first_chunk_and_usage_from_last(obs):
    @obs.observe(model="gpt-4o")
    def stream(q):
        time.sleep(0.05)
        yield "Hel"
        time.sleep(0.05)
        yield "lo"
        yield {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2}}

    chunks = list(stream("hi"))
    assert chunks[:2] == ["Hel", "lo"]
    row = obs.calls().row(0, named=True)
    assert 0.05 <= row["ttft_s"] < 0.09
    assert row["latency_s"] >= 0.1
    assert (row["input_tokens"], row["output_tokens"]) == (12, 2)


def test_async_generator_records_ttft(obs):
    @obs.observe(model="gpt-4o")
    async def stream(q):
        await asyncio.sleep(0.03)
        yield "a"
        yield "b"

    async def consume():
        return [c async for c in stream("q")]

    assert asyncio.run(consume()) == ["a", "b"]
    row = obs.calls().row(0, named=True)
    assert 0.03 <= row["ttft_s"] < 0.07
    # no usage arrived: tokens unknown (NULL) and flagged, never 0
    assert row["input_tokens"] is None
    assert json.loads(row["attributes"])["llmobs.usage_missing"] is True


def test_abandoned_stream_still_ends_its_span(obs):
    @obs.observe(model="gpt-4o")
    def stream(q):
        for i in range(100):
            yield f"tok{i}"

    it = stream("q")
    assert next(it) == "tok0"
    del it
    gc.collect()
    row = obs.calls().row(0, named=True)
    assert row["ttft_s"] is not None
    assert json.loads(row["attributes"])["llmobs.stream.abandoned"] is True


def test_closed_stream_ends_its_span(obs):
    @obs.observe(model="gpt-4o")
    def stream(q):
        yield "a"
        yield "b"

    it = stream("q")
    next(it)
    it.close()
    assert obs.calls().height == 1


def test_exception_is_recorded_and_reraised_unchanged(obs):
    class RateLimitError(Exception):
        pass

    error = RateLimitError("slow down")

    @obs.observe(model="gpt-4o")
    def ask(q):
        raise error

    with pytest.raises(RateLimitError) as raised:
        ask("x")
    assert raised.value is error
    row = obs.calls().row(0, named=True)
    assert row["status"] == "error"
    assert row["error_type"] == "RateLimitError"
    # Content capture is off: the message (it may echo the prompt) is not kept.
    assert obs.spans()["error_message"][0] == "RateLimitError"
    assert row["input_tokens"] is None and row["cost_usd"] is None


def test_exception_in_a_stream_is_recorded(obs):
    @obs.observe(model="gpt-4o")
    def stream(q):
        yield "a"
        raise TimeoutError("stalled")

    with pytest.raises(TimeoutError):
        list(stream("q"))
    assert obs.calls()["error_type"].to_list() == ["TimeoutError"]


def test_nested_rag_trace_has_correct_parent_links(obs):
    @obs.observe(model="gpt-4o", name="generation")
    def generate(q, docs):
        return USAGE

    with obs.span("rag", kind="chain", user_id="alice", use_case="qa") as root:
        with obs.span("retrieval", kind="retrieval", top_k=5) as span:
            span.set_attributes({"retrieval.doc_count": 5})
        with obs.span("rerank", kind="rerank"):
            pass
        generate("q", ["d"])

    spans = obs.spans()
    by_name = {r["name"]: r for r in spans.iter_rows(named=True)}
    assert set(by_name) == {"rag", "retrieval", "rerank", "generation"}
    assert by_name["rag"]["parent_span_id"] is None
    for child in ("retrieval", "rerank", "generation"):
        assert by_name[child]["parent_span_id"] == root.span_id
        assert by_name[child]["trace_id"] == root.trace_id
    assert by_name["retrieval"]["kind"] == "retrieval"
    assert json.loads(by_name["retrieval"]["attributes"])["retrieval.doc_count"] == 5
    assert json.loads(by_name["retrieval"]["attributes"])["top_k"] == 5
    # labels of the enclosing span reach the LLM call
    assert by_name["generation"]["user_id"] == "alice"
    assert by_name["generation"]["use_case"] == "qa"


def test_eight_threads_times_1000_calls_keep_their_parents(obs):
    @obs.observe(model="gpt-4o-mini")
    def ask(i):
        return USAGE

    roots: dict[int, str] = {}

    def worker(n: int) -> None:
        with obs.span(f"worker-{n}") as root:
            roots[n] = root.span_id
            for i in range(1000):
                ask(i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = obs.sql("select parent_span_id, count(*) n from llm_calls group by 1 order by 1")
    assert counts.height == 8
    assert sorted(counts["parent_span_id"].to_list()) == sorted(roots.values())
    assert counts["n"].to_list() == [1000] * 8


def test_thousand_concurrent_asyncio_tasks_keep_their_parents(obs):
    @obs.observe(model="gpt-4o-mini")
    async def ask(i):
        await asyncio.sleep(0.001)
        return USAGE

    async def one(i: int) -> str:
        with obs.span(f"request-{i}") as root:
            await ask(i)
            return root.span_id

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(1000)))

    root_ids = asyncio.run(main())
    calls = obs.calls()
    assert calls.height == 1000
    assert sorted(calls["parent_span_id"].to_list()) == sorted(root_ids)


def test_capture_failure_never_breaks_the_call(obs, caplog):
    class Weird:
        @property
        def usage(self):
            raise RuntimeError("usage exploded")

    weird = Weird()

    @obs.observe(model="gpt-4o")
    def ask():
        return weird

    assert ask() is weird
    assert obs.calls().height == 1


@pytest.mark.parametrize(
    ("usage", "expected_input", "problem"),
    [
        ({"prompt_tokens": None, "completion_tokens": 5}, None, None),
        ({"completion_tokens": 5}, None, None),
        ({"prompt_tokens": "12", "completion_tokens": 5}, None, "is not a number"),
        ({"prompt_tokens": -3, "completion_tokens": 5}, None, "is negative"),
        ({"prompt_tokens": 2.5, "completion_tokens": 5}, None, "whole number"),
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 50},
            },
            10,
            "exceeds input_tokens",
        ),
        ("not a usage object", None, "not an object"),
    ],
)
def test_bad_usage_gives_null_and_a_named_problem_and_keeps_the_span(
    obs, usage, expected_input, problem
):
    @obs.observe(model="gpt-4o")
    def ask():
        return {"usage": usage}

    assert ask() == {"usage": usage}
    row = obs.calls().row(0, named=True)
    assert row["input_tokens"] == expected_input
    assert row["cached_input_tokens"] is None
    if problem:
        assert problem in row["attributes"]


def test_usage_none_records_missing_usage(obs):
    @obs.observe(model="gpt-4o")
    def ask():
        return {"usage": None}

    ask()
    row = obs.calls().row(0, named=True)
    assert row["input_tokens"] is None and row["cost_usd"] is None


def test_non_string_model_is_a_clear_error_at_decoration():
    obs = llmobs_nb.init(db=":memory:", project="bad-model")
    try:
        with pytest.raises(TypeError, match="model must be a string, got 4"):
            obs.observe(model=4)
        with pytest.raises(ValueError, match="kind 'banana' is not one of"):
            obs.span("x", kind="banana")
    finally:
        obs.close()


def test_third_party_non_string_model_attribute_is_null_with_a_note(obs):
    with obs.span("weird", kind="llm") as span:
        span.set_attribute("gen_ai.request.model", 123)
    row = obs.calls().row(0, named=True)
    assert row["model"] is None
    assert "model 123 is not a string" in row["attributes"]


def test_span_set_usage_and_first_token_by_hand(obs):
    with obs.span("manual", kind="llm", model="gpt-4o") as span:
        time.sleep(0.01)
        span.mark_first_token()
        span.set_usage({"input_tokens": 100, "output_tokens": 10})
    row = obs.calls().row(0, named=True)
    assert row["input_tokens"] == 100 and row["ttft_s"] >= 0.01


def test_observe_around_an_instrumented_call_counts_the_call_once(obs):
    @obs.observe(model="gpt-4o", name="inner sdk call")
    def sdk_call():
        return {"usage": {"prompt_tokens": 100, "completion_tokens": 5}}

    @obs.observe(model="gpt-4o", name="ask", use_case="support")
    def ask():
        sdk_call()
        return "text only"

    ask()
    calls = obs.calls()
    assert calls["name"].to_list() == ["inner sdk call"]
    assert calls["use_case"].to_list() == ["support"]  # labels reach the inner call
    outer = obs.spans().filter(pl.col("name") == "ask").row(0, named=True)
    assert outer["kind"] == "chain"
    assert json.loads(outer["attributes"])["llmobs.wraps_model_call"] is True


def test_odd_attribute_values_are_stored_as_standard_json(obs):
    odd = {"nan": float("nan"), "big": 2**70, "raw": b"\x00ab", "inf": [float("inf"), 1.5]}
    with obs.span("odd", **odd):
        pass
    with obs.span("odd but small", nan=float("nan"), tags=("a", "b")):
        pass

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    rows = dict(obs.sql("select name, attributes from spans").rows())
    stored = {name: json.loads(text, parse_constant=refuse) for name, text in rows.items()}
    assert stored["odd"] == {"nan": None, "big": 2**70, "raw": "b'\\x00ab'", "inf": [None, 1.5]}
    assert stored["odd but small"] == {"nan": None, "tags": ["a", "b"]}


def test_an_unsampled_parent_from_another_service_does_not_hide_the_call(obs):
    from opentelemetry import context, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
    try:

        @obs.observe(model="gpt-4o")
        def ask(q):
            return {"usage": {"prompt_tokens": 3, "completion_tokens": 1}}

        ask("q")
    finally:
        context.detach(token)
    row = obs.calls().row(0, named=True)
    assert (row["trace_id"], row["parent_span_id"]) == (
        format(0xABC, "032x"),
        format(0xDEF, "016x"),
    )
    assert row["input_tokens"] == 3
