"""fork and process pools: a child's calls reach the parent's store; nothing hangs.

Real child processes throughout: multiprocessing pools (fork and spawn), ``os.fork()``, a child
killed by SIGTERM, and a whole script run in a subprocess for what only a normal interpreter
exit exercises. The parent has always flushed *and* read (polars' thread pool ran) before it
forks: the case that used to hang. Every wait has a deadline, and a module-wide watchdog
(faulthandler) kills a hung run with a traceback instead of hanging CI.
"""

from __future__ import annotations

import faulthandler
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import llmobs_nb
from llmobs_nb.store.sidecar import Sidecar

DEADLINE_S = 60  # any single wait; a hang fails the test instead of blocking the run
WATCHDOG_S = 240  # the whole module: dump every thread's stack and exit

# Set in the parent before forking; the forked children inherit them.
_ASK: Callable[[int], Any] | None = None
_OBS: llmobs_nb.Observer | None = None
_READER: llmobs_nb.Observer | None = None


@pytest.fixture(autouse=True, scope="module")
def watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _usage(i: int) -> dict[str, Any]:
    return {"i": i, "usage": {"prompt_tokens": 10, "completion_tokens": i % 7}}


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[llmobs_nb.Observer]:
    """An observer that captured, flushed and read (polars ran) before any fork."""
    global _ASK, _OBS
    obs = llmobs_nb.init(db=tmp_path / "parent.duckdb", project="fork")
    _OBS = obs
    _ASK = obs.observe(model="gpt-4o-mini")(_usage)
    for i in range(200):
        _ASK(i)
    obs.flush()
    assert obs.calls().height == 200  # polars' thread pool has run in the parent
    yield obs
    obs.close()
    _ASK = _OBS = None


def _work(i: int) -> dict[str, Any]:
    assert _ASK is not None
    return _ASK(i)


def _work_and_flush(i: int) -> dict[str, Any]:
    assert _ASK is not None and _OBS is not None
    result = _ASK(i)
    _OBS.flush()
    return result


def _count(obs: llmobs_nb.Observer) -> tuple[int, int]:
    row = obs.sql("select count(*), count(distinct span_id) from llm_calls").row(0)
    return int(row[0]), int(row[1])


def _wait_exit(pid: int, timeout: float = DEADLINE_S) -> int:
    """waitpid with a deadline: the child's wait status; a hung child is killed, then fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not exit within {timeout} s (hung)")


def _fork(child: Callable[[], None]) -> int:
    """os.fork() running ``child``; the child never returns into pytest."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            child()
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


# -- multiprocessing's fork start method -------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "n"),
    [
        (_work, 1000),
        (_work_and_flush, 1000),
        pytest.param(_work, 4000, marks=pytest.mark.slow),
    ],
    ids=["calls", "calls+flush", "4200-calls"],
)
def test_a_fork_pool_loses_no_call_and_the_parent_reads_them_all(parent, task, n):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        results = pool.map_async(task, range(n), chunksize=25).get(DEADLINE_S)
        # Capture never changes what the function returns.
        assert results == [_usage(i) for i in range(n)]
        # Still inside the block (workers alive): every returned call is already readable.
        assert _count(parent) == (200 + n, 200 + n)
        workers = list(pool._pool)  # type: ignore[attr-defined]
    # The block's exit is Pool.terminate(): SIGTERM to every worker. They all left.
    for worker in workers:
        worker.join(DEADLINE_S)
        assert worker.exitcode is not None, "a pool worker hung"
    assert _count(parent) == (200 + n, 200 + n)
    assert Sidecar.for_store(parent.db_path).pending_files() == 0
    tokens = parent.sql("select sum(output_tokens) from llm_calls").item()
    assert tokens == sum(i % 7 for i in range(200)) + sum(i % 7 for i in range(n))
    # The parent's live metrics count the children's calls too (taken in from the sidecar).
    counted = re.findall(
        r"^llm_request_duration_seconds_count\{[^}]*\} (\S+)$", parent.metrics_text(), re.M
    )
    assert sum(float(c) for c in counted) == 200 + n


def test_fork_pool_workers_that_leave_normally_exit_promptly(parent):
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(3)
    try:
        pool.map_async(_work_and_flush, range(300)).get(DEADLINE_S)
    finally:
        pool.close()  # workers return from their loop and run multiprocessing's finalizers
    closer = threading.Thread(target=pool.join, daemon=True)
    closer.start()
    closer.join(DEADLINE_S)
    assert not closer.is_alive(), "pool workers hung on exit"
    assert _count(parent) == (500, 500)


def _process_child(n: int) -> None:
    assert _ASK is not None
    for i in range(n):
        _ASK(i)


def test_a_fork_process_that_just_returns_exits_and_keeps_its_calls(parent):
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_process_child, args=(50,)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(DEADLINE_S)
        assert child.exitcode == 0, f"child exit code {child.exitcode} (None: hung)"
    assert _count(parent) == (350, 350)


# -- os.fork() ---------------------------------------------------------------------------------
def test_os_fork_child_calls_reach_the_parent(parent):
    assert _ASK is not None
    ask = _ASK
    pids = [_fork(lambda: [ask(i) for i in range(100)]) for _ in range(2)]
    for i in range(100, 150):  # the parent keeps working meanwhile
        ask(i)
    for pid in pids:
        assert os.waitstatus_to_exitcode(_wait_exit(pid)) == 0
    assert _count(parent) == (450, 450)


def test_a_child_killed_by_sigterm_keeps_every_call_that_returned(parent):
    assert _ASK is not None
    ask = _ASK
    read_end, write_end = os.pipe()

    def child() -> None:
        for i in range(120):
            ask(i)
        os.write(write_end, b"returned")
        time.sleep(DEADLINE_S)  # killed here; it never reaches a flush or an exit handler

    pid = _fork(child)
    os.close(write_end)
    assert os.read(read_end, 16) == b"returned"
    os.kill(pid, signal.SIGTERM)
    status = _wait_exit(pid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert _count(parent) == (320, 320)


def test_spans_started_before_the_fork_stay_the_parents(parent):
    """Code after os.fork() runs in both processes: a span open across the fork ends twice,
    yet is stored once (by the process that started it); the child's inner calls are kept."""
    assert _ASK is not None
    ask = _ASK
    with parent.span("batch") as batch:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                for i in range(10):
                    ask(i)
            finally:
                os._exit(0)
    assert os.waitstatus_to_exitcode(_wait_exit(pid)) == 0
    spans = parent.sql("select name, count(*) n from spans where name = 'batch' group by 1")
    assert spans.rows() == [("batch", 1)]
    children = parent.sql(
        "select count(*) from llm_calls where parent_span_id = ?", [batch.span_id]
    ).item()
    assert children == 10


def test_reads_and_scores_in_a_forked_child_raise_a_clear_error_quickly(parent):
    global _READER
    _READER = llmobs_nb.open(parent.db_path)  # a read-only view made before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        answers = pool.apply_async(_read_in_child).get(DEADLINE_S)
    _READER = None
    for name, kind, message in answers:
        assert kind == "ForkedChildError", (name, kind, message)
        assert "read them in the parent" in message and parent.db_path in message
    names = ["calls", "sql", "score", "open", "opened before the fork", "run"]
    assert [name for name, _, _ in answers] == names
    assert _count(parent) == (201, 201)  # the child's call before it tried to read


def _read_in_child() -> list[tuple[str, str, str]]:
    assert _OBS is not None and _ASK is not None
    obs = _OBS
    _ASK(1)
    out = []
    attempts: list[tuple[str, Callable[[], Any]]] = [
        ("calls", obs.calls),
        ("sql", lambda: obs.sql("select 1")),
        ("score", lambda: obs.score(trace_id="0" * 32, value=0.5)),
        ("open", lambda: llmobs_nb.open(obs.db_path).calls()),
        ("opened before the fork", lambda: _READER.calls()),  # type: ignore[union-attr]
        ("run", lambda: obs.run("in-child").__enter__()),
    ]
    for name, attempt in attempts:
        try:
            attempt()
            out.append((name, "no error", ""))
        except Exception as exc:
            out.append((name, type(exc).__name__, str(exc)))
    return out


def test_forking_while_the_parent_flushes_hangs_nothing_and_loses_nothing(tmp_path):
    """A parent thread keeps capturing (small batches: its flush thread is busy writing)
    while the main thread forks children that capture, flush and exit, one after another."""
    obs = llmobs_nb.init(db=tmp_path / "busy.duckdb", project="fork", flush_interval_s=0.01)
    try:
        ask = obs.observe(model="gpt-4o-mini")(_usage)
        ask(0)
        obs.flush()
        obs.calls()
        stop = threading.Event()
        made = [0]

        def keep_calling() -> None:
            while not stop.is_set():
                ask(made[0])
                made[0] += 1

        busy = threading.Thread(target=keep_calling)
        busy.start()
        try:
            for _ in range(8):

                def child() -> None:
                    for i in range(20):
                        ask(i)
                    obs.flush()
                    obs.close()

                assert os.waitstatus_to_exitcode(_wait_exit(_fork(child))) == 0
        finally:
            stop.set()
            busy.join(DEADLINE_S)
        assert _count(obs) == (1 + made[0] + 8 * 20,) * 2
    finally:
        obs.close()


# -- a whole interpreter: atexit and teardown in the child -------------------------------------
CHILD_SCRIPT = """
import hashlib, json, os, sys, time
from pathlib import Path
import llmobs_nb
from llmobs_nb.store.errors import ForkedChildError

db = Path(sys.argv[1])
obs = llmobs_nb.init(db=db, project="fork", flush_interval_s=3600)
ask = obs.observe(model="gpt-4o-mini")(lambda i: {"usage": {"prompt_tokens": 3}})
for i in range(100):
    ask(i)
obs.flush()
assert obs.calls().height == 100          # polars ran; the WAL holds uncheckpointed rows

def digest():
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(db.parent.glob(db.name + "*")) if p.is_file()}

before = digest()
pid = os.fork()
if pid == 0:
    for i in range(30):
        ask(i)
    try:
        obs.calls()
        sys.exit(3)
    except ForkedChildError:
        pass
    obs.flush()
    del obs                                 # teardown must not close the inherited connection
    sys.exit(0)                             # normal exit: atexit, then interpreter teardown
deadline = time.monotonic() + 60
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done or time.monotonic() > deadline:
        break
    time.sleep(0.01)
if not done:
    os.kill(pid, 9)  # a hung child must not outlive the test
    os.waitpid(pid, 0)
after = digest()
print(json.dumps({
    "exit": os.waitstatus_to_exitcode(status) if done else None,
    "store_unchanged": before == after,
    "calls": obs.calls().height,
}))
"""


def test_a_child_leaving_through_atexit_never_touches_the_parents_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD_SCRIPT), str(tmp_path / "p.duckdb")],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S * 2,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exit": 0, "store_unchanged": True, "calls": 130}, result.stderr


# -- spawn pools: each worker its own file ------------------------------------------------------
_WORKER_OBS: llmobs_nb.Observer | None = None


def _init_worker(folder: str, ready: Any) -> None:
    global _WORKER_OBS
    # A long flush interval: nothing is written before the worker leaves.
    _WORKER_OBS = llmobs_nb.init(
        db=Path(folder) / f"worker-{os.getpid()}.duckdb", project="spawn", flush_interval_s=3600
    )
    ready.wait(DEADLINE_S)  # no worker is terminated while it creates its file


def _spawn_work(i: int) -> int:
    assert _WORKER_OBS is not None
    _WORKER_OBS.observe(model="gpt-4o-mini")(_usage)(i)
    return i


@pytest.mark.parametrize("leave", ["terminate", "close"])
def test_a_spawn_pool_on_own_files_loses_nothing_and_open_many_reads_it(tmp_path, leave):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(2)
    with ctx.Pool(2, initializer=_init_worker, initargs=(str(tmp_path), ready)) as pool:
        assert pool.map_async(_spawn_work, range(400)).get(DEADLINE_S * 2) == list(range(400))
        workers = list(pool._pool)  # type: ignore[attr-defined]
        if leave == "close":  # workers leave normally: multiprocessing's finalizers
            pool.close()
            pool.join()
        # else: the block's exit terminates them (SIGTERM)
    for worker in workers:
        worker.join(DEADLINE_S)
        assert worker.exitcode is not None, "a spawn worker hung"
    files = sorted(tmp_path.glob("worker-*.duckdb"))
    assert len(files) == 2
    combined = llmobs_nb.open_many(files)
    assert _count(combined) == (400, 400)


def _init_on(path: str) -> tuple[str, str]:
    try:
        llmobs_nb.init(db=path)
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "no error", ""


def test_a_spawn_worker_on_the_parents_file_gets_store_locked_error(parent):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        kind, message = pool.apply_async(_init_on, (parent.db_path,)).get(DEADLINE_S * 2)
    assert kind == "StoreLockedError"
    assert parent.db_path in message and "open_many" in message
    assert _count(parent) == (200, 200)
