"""A reader kept open between uses: warm while used, closed when idle, never in a writer's way
for longer than its idle time (store/kept_open.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmobs_nb.store import Store
from llmobs_nb.store.connect import connect
from llmobs_nb.store.errors import StoreLockedError
from llmobs_nb.store.kept_open import KeptOpen

# A process of its own that tries to open the store for writing each time it reads a line
# (imported before the test's clock starts: an import can take seconds on a loaded machine).
WRITE_IN_CHILD = """
import sys
from llmobs_nb.store.connect import connect
for path in sys.stdin:
    try:
        connect(path.strip()).close()
    except Exception as exc:
        print(type(exc).__name__, flush=True)
    else:
        print("opened", flush=True)
"""


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = str(tmp_path / "kept.duckdb")
    Store(path).close()
    return path


@pytest.fixture
def writer() -> Iterator[subprocess.Popen]:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITE_IN_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield child
    child.stdin.close()
    child.wait(timeout=60)


def _write_in(child: subprocess.Popen, path: str) -> str:
    child.stdin.write(path + "\n")
    child.stdin.flush()
    return child.stdout.readline().strip()


def test_one_connection_serves_every_use_until_it_is_idle(store_path: str):
    kept = KeptOpen(store_path, idle_s=0.3)
    with kept.use() as first:
        first.sql("select count(*) from spans").fetchall()
    with kept.use() as second:
        assert second is first  # still open: the same connection, its cache warm
    assert kept.is_open
    deadline = time.monotonic() + 10
    while kept.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not kept.is_open  # closed once idle
    with kept.use() as third:  # and opened again when needed
        assert third.sql("select 1").fetchall() == [(1,)]
    kept.close()
    assert not kept.is_open


def test_a_connection_in_use_is_not_closed_by_its_timer(store_path: str):
    kept = KeptOpen(store_path, idle_s=0.05)
    with kept.use() as con:
        time.sleep(0.3)  # far past the idle time, but in use
        assert con.sql("select 1").fetchall() == [(1,)]
    kept.close()


def test_another_process_can_write_once_the_reader_is_idle(store_path: str, writer):
    assert _write_in(writer, store_path) == "opened"  # the child is ready
    kept = KeptOpen(store_path, idle_s=1.0)
    with kept.use():
        assert _write_in(writer, store_path) == StoreLockedError.__name__
    assert _write_in(writer, store_path) == StoreLockedError.__name__  # idle, still open
    deadline = time.monotonic() + 10
    while kept.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not kept.is_open
    assert _write_in(writer, store_path) == "opened"


def test_a_writer_in_this_process_closes_the_idle_readers_of_its_file(store_path: str):
    kept = KeptOpen(store_path, idle_s=60)
    with kept.use():
        pass
    assert kept.is_open
    writer = connect(store_path)  # read-write: DuckDB would refuse it beside the reader
    try:
        writer.execute("select count(*) from spans").fetchall()
        assert not kept.is_open
    finally:
        writer.close()


def test_threads_each_keep_their_own_and_close_all(store_path: str):
    readers = [KeptOpen(store_path, idle_s=60) for _ in range(3)]
    errors: list[BaseException] = []

    def read(kept: KeptOpen) -> None:
        try:
            for _ in range(20):
                with kept.use() as con:
                    con.sql("select count(*) from spans").fetchall()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(k,)) for k in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and all(k.is_open for k in readers)
    for kept in readers:
        kept.close()
    assert not any(k.is_open for k in readers)


# A script that reads through a KeptOpen and exits at once, while the idle timer (idle_s=0)
# closes the connection: the process must exit cleanly (before the fix: SIGABRT, exit
# status 134, in about one run of four).
READ_AND_EXIT = """
import sys
from llmobs_nb.store.kept_open import KeptOpen
kept = KeptOpen(sys.argv[1], idle_s=0.0)
with kept.use() as con:
    con.sql("select count(*) from spans").fetchall()
"""


@pytest.mark.slow
def test_a_process_exiting_while_its_idle_reader_closes_exits_cleanly(store_path: str):
    failed = []
    for _ in range(4):  # 16 runs, four at a time
        children = [
            subprocess.Popen(
                [sys.executable, "-c", READ_AND_EXIT, store_path],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for child in children:
            _, err = child.communicate(timeout=120)
            if child.returncode != 0:
                failed.append((child.returncode, err[-300:]))
    assert not failed, failed
