"""A full disk: a real size-limited file system (tmpfs), filled with a ballast file.

User calls keep working, memory stays bounded, reads answer from what is stored with a
``PendingRowsWarning``, every row is either stored or counted as dropped, and writes resume
once space is freed — even after DuckDB invalidated its connection on a failed checkpoint.
Needs root (``mount -t tmpfs``); skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import llmobs_nb
from llmobs_nb import PendingRowsWarning

BOUND = 300  # rows kept in memory while the store cannot be written


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")


def _unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB file system, unmounted afterwards."""
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "8m")
    try:
        yield mnt
    finally:
        _unmount(mnt)


def fill(directory: Path) -> Path:
    """Write a ballast file until the file system is full; returns it."""
    ballast = directory / "ballast"
    with open(ballast, "wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 512)
    return ballast


def stored(obs) -> int:
    with pytest.warns(PendingRowsWarning) if obs.health().pending else contextlib.nullcontext():
        return int(obs.sql("SELECT count(*) AS n FROM spans")["n"][0])


def _converted_by_the_background(obs, seconds: float = 20) -> None:
    """Wait until the flush thread has taken every buffered record (no fixed sleep: a loaded
    machine may run it late)."""
    deadline = time.monotonic() + seconds
    while obs.capture.processor._pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not obs.capture.processor._pending, "the flush thread took nothing in 20 s"


def _caller(obs):
    @obs.observe(model="gpt-4o")
    def ask(i: int) -> dict:
        return {"answer": i, "usage": {"prompt_tokens": 10, "completion_tokens": 2}}

    return ask


def test_disk_full_bounded_memory_counted_drops_and_recovery(small_disk, caplog):
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    obs = llmobs_nb.init(
        db=small_disk / "full.duckdb", flush_interval_s=0.1, max_pending_rows=BOUND
    )
    try:
        ask = _caller(obs)
        produced = 0
        for i in range(100):
            assert ask(i)["answer"] == i
            produced += 1
        obs.flush()
        assert stored(obs) == 100
        ballast = fill(small_disk)

        # DuckDB invalidates its database when a checkpoint fails on a full disk.
        with pytest.raises(duckdb.Error, match=r"(?i)no space|invalidated"):
            obs.store.execute("CHECKPOINT")

        peak = 0
        for _ in range(12):
            for i in range(150):
                assert ask(i)["answer"] == i  # user calls keep working
                produced += 1
            obs.flush()  # never raises
            health = obs.health()
            peak = max(peak, health.pending_memory)
            assert health.pending_memory <= BOUND
            assert health.failing
            assert re.search("(?i)no space|invalidated", health.last_error or "")
        with pytest.warns(PendingRowsWarning, match=r"\d+ captured rows are not in"):
            frame = obs.calls()
        assert frame.height >= 100  # the reads answer from what is stored
        with pytest.warns(PendingRowsWarning):
            assert obs.sql("SELECT count(*) AS n FROM spans")["n"][0] >= 100
        health = obs.health()
        assert health.dropped.get("memory_bound", 0) > 0  # the sidecar is on the same disk
        assert health.pending_sidecar == 0
        assert peak == BOUND
        episode_warnings = [r for r in caplog.records if "cannot write to" in r.getMessage()]
        assert len(episode_warnings) == 1  # one per failure episode, not per attempt
        assert f"{BOUND} in memory" in episode_warnings[0].getMessage()

        ballast.unlink()
        obs.flush()
        health = obs.health()
        assert not health.failing and health.pending == 0
        dropped = health.dropped["memory_bound"]
        assert stored(obs) + dropped == produced
        assert f'llmobs_dropped_spans_total{{reason="memory_bound"}} {float(dropped)}' in (
            obs.metrics_text()
        )
        for i in range(50):  # writes resumed
            ask(i)
        obs.flush()
        assert stored(obs) + dropped == produced + 50
        assert any("resumed" in r.getMessage() for r in caplog.records)
    finally:
        obs.close()
    reopened = llmobs_nb.open(small_disk / "full.duckdb")
    assert reopened.calls().height == produced + 50 - dropped


def test_disk_full_spills_to_a_sidecar_elsewhere_and_loses_nothing(small_disk, tmp_path):
    """With the sidecar folder on another file system, nothing is dropped: rows beyond the
    memory bound wait there and are written, by the background thread alone, after recovery."""
    store = small_disk / "spill.duckdb"
    sidecar = small_disk / "spill.duckdb.pending"
    _mount_tmpfs(sidecar, "64m")
    try:
        obs = llmobs_nb.init(db=store, flush_interval_s=0.1, max_pending_rows=BOUND)
        try:
            ask = _caller(obs)
            produced = 0
            for i in range(50):
                ask(i)
                produced += 1
            obs.flush()
            ballast = fill(small_disk)
            seen_sidecar = 0
            for _ in range(10):
                for i in range(200):
                    ask(i)
                    produced += 1
                _converted_by_the_background(obs)  # it tries (and fails) to write
                health = obs.health()
                assert health.pending_memory <= BOUND + 200
                seen_sidecar = max(seen_sidecar, health.pending_sidecar)
            assert seen_sidecar > 0 and any(sidecar.iterdir())
            with pytest.warns(PendingRowsWarning):
                assert obs.calls().height >= 50
            ballast.unlink()
            deadline = time.monotonic() + 30  # the backoff is at most 15 s
            while obs.health().pending and time.monotonic() < deadline:
                time.sleep(0.1)
            health = obs.health()
            assert health.pending == 0 and not health.failing
            assert health.dropped == {}
            assert stored(obs) == produced
            assert not [p for p in sidecar.iterdir() if p.suffix == ".arrow"]
        finally:
            obs.close()
    finally:
        _unmount(sidecar)


def test_a_memory_store_is_never_reopened(tmp_path):
    """Reopening is for files: a :memory: store would lose everything."""
    obs = llmobs_nb.init(db=":memory:", project=f"mem-{os.getpid()}")
    try:
        ask = _caller(obs)
        ask(1)
        obs.store.reopen()
        assert obs.calls().height == 1
    finally:
        obs.close()


def test_close_on_a_full_disk_neither_raises_nor_hides_a_loss(small_disk, caplog):
    caplog.set_level(logging.WARNING, logger="llmobs_nb")
    db = small_disk / "close.duckdb"
    obs = llmobs_nb.init(db=db, flush_interval_s=3600, max_pending_rows=BOUND)
    ask = _caller(obs)
    for i in range(100):
        ask(i)
    obs.flush()
    ballast = fill(small_disk)
    for i in range(200):
        ask(i)
    obs.close()  # must not raise: rows it cannot keep are counted and said
    health = obs.health()
    assert health.dropped == {"shutdown": 200}
    assert any("200 captured rows could not be written" in r.getMessage() for r in caplog.records)
    ballast.unlink()
    assert llmobs_nb.open(db).calls().height == 100
