"""The one background batcher behind the span flush and online evaluation: real threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb.capture.batcher import Batcher
from llmobs_nb.evals import NonEmpty, OnlineEvaluator


class Recorder:
    """A handler that takes everything waiting and remembers each call."""

    def __init__(self, limit: int | None = None) -> None:
        self.batcher: Batcher[int] | None = None
        self.limit = limit
        self.calls: list[tuple[list[int], bool, str]] = []
        self.called = threading.Event()

    def __call__(self, final: bool) -> None:
        assert self.batcher is not None
        taken = self.batcher.take(self.limit)
        self.calls.append((taken, final, threading.current_thread().name))
        self.called.set()

    @property
    def seen(self) -> list[int]:
        return [item for taken, _, _ in self.calls for item in taken]


def batcher(recorder: Recorder, **options) -> Batcher[int]:
    options.setdefault("name", "test-batcher")
    options.setdefault("interval_s", 3600)
    b: Batcher[int] = Batcher(recorder, start=False, **options)
    recorder.batcher = b
    b.start()
    return b


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_the_handler_runs_on_the_named_thread_when_enough_items_wait():
    recorder = Recorder()
    b = batcher(recorder, wake_at=3)
    try:
        b.put(1)
        b.put(2)
        assert not recorder.called.wait(0.3)  # two of three: the thread sleeps on
        b.put(3)
        assert recorder.called.wait(5)
        assert recorder.calls[0] == ([1, 2, 3], False, "test-batcher")
    finally:
        assert b.close(timeout=5)


def test_the_handler_runs_every_interval_with_fewer_items():
    recorder = Recorder()
    b = batcher(recorder, interval_s=0.05, wake_at=1_000)
    try:
        b.put(7)
        assert wait_until(lambda: recorder.seen == [7])
    finally:
        b.close(timeout=5)


def test_next_wait_shortens_the_sleep():
    recorder = Recorder()
    b = batcher(recorder, wake_at=1_000, next_wait=lambda: 0.05)
    try:
        b.put(1)
        assert wait_until(lambda: recorder.seen == [1], timeout=5)
    finally:
        b.close(timeout=5)


def test_past_maxsize_put_refuses_and_appends_nothing():
    recorder = Recorder()
    b = batcher(recorder, wake_at=1_000, maxsize=2)
    try:
        assert [b.put(i) for i in range(4)] == [True, True, False, False]
        assert list(b.items) == [0, 1]
    finally:
        b.close(timeout=5)


def test_take_returns_only_what_waits_oldest_first_up_to_the_limit():
    b: Batcher[int] = Batcher(lambda final: None, name="idle", interval_s=3600, start=False)
    for i in range(5):
        b.put(i)
    assert b.take(2) == [0, 1]
    assert b.take() == [2, 3, 4]
    assert b.take() == []


def test_close_makes_a_final_call_and_ends_the_thread():
    recorder = Recorder()
    b = batcher(recorder, wake_at=1_000)
    b.put(1)
    assert b.close(timeout=5)
    assert not b.alive and b.stopping
    assert recorder.calls == [([1], True, "test-batcher")]


def test_with_finish_the_thread_ends_only_once_every_item_is_handled():
    recorder = Recorder(limit=1)  # one item per call: the thread must come back for the rest
    b = batcher(recorder, wake_at=1_000, finish=True)
    for i in range(5):
        b.put(i)
    assert b.close(timeout=5)
    assert recorder.seen == [0, 1, 2, 3, 4]
    assert not b.items


def test_a_failing_handler_is_reported_and_the_thread_goes_on():
    errors: list[BaseException] = []
    runs: list[bool] = []

    def handle(final: bool) -> None:
        runs.append(final)
        if len(runs) == 1:
            raise RuntimeError("boom")

    b: Batcher[int] = Batcher(handle, name="t", interval_s=3600, on_error=errors.append)
    b.put(1)  # wake_at=1: the first call raises
    assert wait_until(lambda: len(runs) == 1)
    b.wake()
    assert wait_until(lambda: len(runs) == 2)
    assert b.alive
    assert b.close(timeout=5)
    assert [str(e) for e in errors] == ["boom"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_after_a_fork_the_child_drops_the_parents_items_and_runs_a_new_thread():
    recorder = Recorder()
    b = batcher(recorder, wake_at=2, name="fork-batcher")
    try:
        b.put(1)  # waits in the parent: the child must not handle it
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                recorder.calls.clear()
                recorder.called.clear()
                b.reset_after_fork()
                b.put(10)
                b.put(11)
                ok = recorder.called.wait(5) and recorder.calls[0][0] == [10, 11]
                name = recorder.calls[0][2] if recorder.calls else ""
                os.write(write, f"{ok} {name}".encode())
            finally:
                os._exit(0)
        os.close(write)
        report = os.read(read, 100).decode()
        os.waitpid(pid, 0)
        os.close(read)
        assert report == "True fork-batcher"
        assert list(b.items) == [1]  # the parent's item is still the parent's
    finally:
        b.close(timeout=5)


def test_after_a_stop_a_fork_reset_starts_no_thread():
    b: Batcher[int] = Batcher(lambda final: None, name="stopped", interval_s=3600)
    assert b.close(timeout=5)
    b.put(1)
    b.reset_after_fork()
    assert not b.alive and not b.items


def test_the_observer_and_online_evaluation_run_on_their_named_batcher_threads(tmp_path: Path):
    obs = llmobs_nb.init(db=tmp_path / "b.duckdb", project="batcher", flush_interval_s=3600)
    online = OnlineEvaluator(obs, [NonEmpty()])
    try:
        names = {thread.name for thread in threading.enumerate()}
        assert {"llmobs_nb-flush", "llmobs-online-eval"} <= names
        processor = obs.capture.processor
        with obs.span("step"):
            pass
        assert len(processor._pending) == 1  # buffered until the interval or a flush
        obs.flush()
        assert len(processor._pending) == 0
        assert obs.sql("SELECT count(*) AS n FROM spans")["n"].item() == 1
    finally:
        online.close()
        obs.close()
    assert not processor._batcher.alive and not online._batcher.alive
