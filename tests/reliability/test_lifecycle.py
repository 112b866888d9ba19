"""Lifecycle: traced code never fails because of its observer.

After ``obs.close()`` decorated functions (sync, async, generator, async generator),
``obs.span(...)`` blocks and instrumented SDK clients keep working: untraced, with one warning
per observer; once ``llmobs_nb.init`` opens the same file again they record into the new
observer. Explicit calls on a closed observer (``run``, ``score``) raise a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import llmobs_nb
from llmobs_nb.local_llm.llm_server import LLMTestServer
from llmobs_nb.local_llm.reply import Usage
from llmobs_nb.observer import ObserverClosedError

USAGE = {"usage": {"prompt_tokens": 10, "completion_tokens": 2}}
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "life.duckdb"
    for observer in llmobs_nb.live_observers():
        if str(observer.db_path).startswith(str(tmp_path)):
            observer.close()


def _closed_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is closed" in r.getMessage()]


def _decorated(obs: llmobs_nb.Observer) -> dict[str, object]:
    @obs.observe(model="gpt-4o")
    def sync(x):
        return {**USAGE, "x": x}

    @obs.observe(model="gpt-4o")
    async def coro(x):
        await asyncio.sleep(0)
        return {**USAGE, "x": x}

    @obs.observe(model="gpt-4o")
    def gen(x):
        yield "a"
        yield {"choices": [], **USAGE}
        return x

    @obs.observe(model="gpt-4o")
    async def agen(x):
        yield "a"
        await asyncio.sleep(0)
        yield {"choices": [], **USAGE}

    return {"sync": sync, "coro": coro, "gen": gen, "agen": agen}


def _call_all(fns: dict[str, object]) -> list[object]:
    async def collect(agen):
        return [item async for item in agen]

    return [
        fns["sync"](1),
        asyncio.run(fns["coro"](2)),
        list(fns["gen"](3)),
        asyncio.run(collect(fns["agen"](4))),
    ]


EXPECTED = [
    {**USAGE, "x": 1},
    {**USAGE, "x": 2},
    ["a", {"choices": [], **USAGE}],
    ["a", {"choices": [], **USAGE}],
]


def test_after_close_every_kind_of_function_runs_untraced_with_one_warning(store, caplog):
    obs = llmobs_nb.init(db=store, project="life")
    fns = _decorated(obs)
    assert _call_all(fns) == EXPECTED
    obs.close()
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    for _ in range(3):
        assert _call_all(fns) == EXPECTED
    warnings = _closed_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert str(store) in warnings[0] and "llmobs_nb.init" in warnings[0]
    # Nothing was recorded after the close: the file holds the first round only.
    reader = llmobs_nb.open(store)
    try:
        assert reader.calls().height == 4
    finally:
        reader.close()


def test_init_again_on_the_same_file_receives_calls_of_functions_decorated_before(store, caplog):
    first = llmobs_nb.init(db=store, project="life")
    fns = _decorated(first)
    _call_all(fns)
    first.close()
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    second = llmobs_nb.init(db=store, project="life")
    assert second is not first
    assert _call_all(fns) == EXPECTED
    calls = second.calls()
    assert calls.height == 8  # 4 before the close (on disk) + 4 recorded into the new observer
    assert calls["input_tokens"].to_list() == [10] * 8
    assert _closed_warnings(caplog) == []  # a live successor: no warning at all
    # A third generation: the functions follow again (resolved through the registry).
    second.close()
    third = llmobs_nb.init(db=store, project="life")
    _call_all(fns)
    assert third.calls().height == 12


def test_in_memory_observer_reinit_receives_old_functions():
    first = llmobs_nb.init(db=":memory:", project="life-mem")
    fns = _decorated(first)
    first.close()
    second = llmobs_nb.init(db=":memory:", project="life-mem")
    try:
        assert _call_all(fns) == EXPECTED
        assert second.calls().height == 4
    finally:
        second.close()


def test_span_blocks_after_close_run_and_follow_a_new_observer(store, caplog):
    obs = llmobs_nb.init(db=store, project="life")
    obs.close()
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    ran = []
    with obs.span("retrieval", kind="retrieval", top_k=3) as span:
        span.set_attribute("retrieval.doc_count", 3)
        span.set_usage({"input_tokens": 1})
        ran.append(span.span_id)
    assert ran == ["0000000000000000"]
    assert span.recording is False
    with pytest.raises(ValueError, match="boom"), obs.span("failing"):
        raise ValueError("boom")  # the user's own exception still propagates, unchanged
    assert len(_closed_warnings(caplog)) == 1
    new = llmobs_nb.init(db=store, project="life")
    with obs.span("rag") as root, obs.span("retrieval", kind="retrieval") as child:
        assert child.recording
    spans = new.spans()
    assert set(spans["name"]) == {"rag", "retrieval"}
    assert spans.filter(spans["name"] == "retrieval")["parent_span_id"][0] == root.span_id


def test_instrumented_client_after_close_and_after_reinit(store, caplog):
    with LLMTestServer(usage=Usage(input_tokens=50, output_tokens=5)) as server:
        obs = llmobs_nb.init(db=store, project="life")
        client = obs.instrument_openai(openai.OpenAI(base_url=server.base_url, api_key="sk-x"))
        plain = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        obs.close()
        caplog.set_level(logging.WARNING, logger="llmobs_nb")
        after = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        chunks = list(
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        )
        assert after.choices[0].message.content == plain.choices[0].message.content
        assert chunks
        assert len(_closed_warnings(caplog)) == 1
        new = llmobs_nb.init(db=store, project="life")
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        calls = new.calls()
    assert calls.height == 2  # the first call and the one after init; none while closed
    assert calls["input_tokens"].to_list() == [50, 50]


def test_explicit_calls_on_a_closed_observer_raise_a_clear_error(store):
    obs = llmobs_nb.init(db=store, project="life")
    with obs.span("x") as span:
        pass
    obs.close()
    with pytest.raises(ObserverClosedError, match="closed") as caught, obs.run("prompt-v2"):
        pass
    assert isinstance(caught.value, RuntimeError)  # what it always was
    assert str(store) in str(caught.value)
    with pytest.raises(ObserverClosedError):
        obs.score(span.span_id, value=0.5)


def test_closing_inside_a_run_block_does_not_raise_on_leaving_it(store):
    obs = llmobs_nb.init(db=store, project="life")

    @obs.observe(model="gpt-4o")
    def ask():
        return USAGE

    with obs.run("exp"):
        ask()
        obs.close()
        ask()


def test_decorating_with_a_read_only_observer_fails_at_decoration(store):
    llmobs_nb.init(db=store, project="life").close()
    reader = llmobs_nb.open(store)
    try:
        with pytest.raises(PermissionError, match="read-only"):

            @reader.observe(model="gpt-4o")
            def ask():
                return USAGE
    finally:
        reader.close()


def test_close_while_threads_call_never_raises_into_a_call(store):
    obs = llmobs_nb.init(db=store, project="life")

    @obs.observe(model="gpt-4o")
    def ask(i):
        return {**USAGE, "i": i}

    failures: list[BaseException] = []
    stop = threading.Event()

    def worker():
        i = 0
        while not stop.is_set():
            try:
                assert ask(i)["i"] == i
            except BaseException as exc:
                failures.append(exc)
                return
            i += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        obs.close()
        new = llmobs_nb.init(db=store, project="life")
    finally:  # whatever happens, the callers stop: a failure here must not hang the run
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert new.calls().height > 0


def test_capture_errors_are_exported_and_readable(store):
    obs = llmobs_nb.init(db=store, project="life", capture_content=True)

    class Hostile:
        def __repr__(self):
            raise RuntimeError("no repr")

    @obs.observe(model="gpt-4o")
    def ask(x):
        return USAGE

    assert ask(Hostile()) == USAGE
    assert obs.capture_errors.snapshot() == {"input": 1}
    assert 'llmobs_capture_errors_total{stage="input"} 1.0' in obs.metrics_text()
    assert obs.calls().height == 1  # the call is recorded, without its input text


def test_a_call_in_flight_when_the_observer_closes_reaches_the_next_observer(store):
    """A call that started before close() and ends after it is not lost: its row waits in the
    sidecar beside the file and the next observer of the file takes it in."""
    obs = llmobs_nb.init(db=store, project="life")
    started, release = threading.Event(), threading.Event()

    @obs.observe(model="gpt-4o", name="slow call")
    def slow():
        started.set()
        release.wait(10)
        return USAGE

    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(slow()))
    worker.start()
    assert started.wait(10)
    obs.close()
    release.set()
    worker.join(10)
    assert results == [USAGE]
    assert obs.health().dropped == {}
    again = llmobs_nb.init(db=store, project="life")
    calls = again.calls()
    assert calls["name"].to_list() == ["slow call"]
    assert calls["input_tokens"].to_list() == [10]
