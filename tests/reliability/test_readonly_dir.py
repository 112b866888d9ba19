"""A store whose file system turns read-only under it, as the kernel does after a disk error.

``mount -o remount,ro`` is refused while DuckDB holds the file open for writing ("mount point
is busy"), and chmod does not stop root; so the store lives on a small ext4 file system
(a loop-mounted image, ``errors=remount-ro``) and ``mount -o remount,abort`` triggers the same
emergency read-only remount a real I/O error would. Recovery is what an administrator does:
unmount, ``e2fsck``, mount again. Meanwhile user calls keep working, memory stays bounded,
reads answer with a ``PendingRowsWarning``; afterwards writes resume on the new mount (the
writer's connection is reopened) and every row is stored or counted as dropped.
Needs root, loop devices and ext4; skipped with the reason otherwise.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb import PendingRowsWarning

BOUND = 300


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True)


def _mount(image: Path, mnt: Path) -> None:
    done = _run("mount", "-o", "loop,errors=remount-ro", str(image), str(mnt))
    if done.returncode != 0:
        pytest.skip(f"cannot loop-mount an ext4 image here (needs root): {done.stderr.strip()}")


@pytest.fixture
def ext4(tmp_path: Path) -> Iterator[tuple[Path, Path, list[str]]]:
    """A 24 MB ext4 file system on a loop device: (image, mount point, extra loop devices
    the test attaches, detached afterwards)."""
    image = tmp_path / "disk.img"
    mnt = tmp_path / "disk"
    mnt.mkdir()
    with open(image, "wb") as out:
        out.truncate(24 * 1024 * 1024)
    made = _run("mkfs.ext4", "-q", "-F", str(image))
    if made.returncode != 0:
        pytest.skip(f"mkfs.ext4 unavailable: {made.stderr.strip()}")
    _mount(image, mnt)
    loops: list[str] = []
    try:
        yield image, mnt, loops
    finally:
        if _run("umount", str(mnt)).returncode != 0:
            _run("umount", "-l", str(mnt))
        for device in loops:
            _run("losetup", "-d", device)


def _count(obs) -> int:
    return int(obs.sql("SELECT count(*) AS n FROM spans")["n"][0])


def test_file_system_turns_read_only_then_recovers(ext4):
    image, mnt, loops = ext4
    obs = llmobs_nb.init(db=mnt / "ro.duckdb", flush_interval_s=0.1, max_pending_rows=BOUND)
    try:

        @obs.observe(model="gpt-4o")
        def ask(i: int) -> dict:
            return {"answer": i, "usage": {"prompt_tokens": 3, "completion_tokens": 1}}

        produced = 0
        for i in range(100):
            ask(i)
            produced += 1
        obs.flush()
        assert _count(obs) == 100

        aborted = _run("mount", "-o", "remount,abort", str(mnt))
        if aborted.returncode != 0:
            pytest.skip(f"ext4 'abort' not supported here: {aborted.stderr.strip()}")
        with pytest.raises(OSError, match="Read-only file system"):
            (mnt / "probe").write_text("x")

        for _ in range(8):
            for i in range(150):
                assert ask(i)["answer"] == i
                produced += 1
            obs.flush()  # never raises
            health = obs.health()
            assert health.pending_memory <= BOUND
            assert health.failing
        assert re.search("(?i)read-only|invalid", obs.health().last_error or "")
        with pytest.warns(PendingRowsWarning):
            assert obs.calls().height >= 100
        dropped_during = obs.health().dropped.get("memory_bound", 0)
        assert dropped_during > 0  # the sidecar beside the store is read-only too

        # The administrator's recovery: unmount (lazily: DuckDB still holds the old file),
        # check the file system, mount it again.
        assert _run("umount", "-l", str(mnt)).returncode == 0
        fsck = _run("e2fsck", "-fy", str(image))
        assert fsck.returncode in (0, 1, 2), fsck.stdout + fsck.stderr
        # A new loop device: `mount -o loop` would reuse the old one, whose (aborted) file
        # system lives on while the old connection's files are open.
        device = _run("losetup", "--find", "--show", str(image)).stdout.strip()
        loops.append(device)
        remounted = _run("mount", "-o", "errors=remount-ro", device, str(mnt))
        assert remounted.returncode == 0, remounted.stderr

        obs.flush()
        health = obs.health()
        assert not health.failing, health.last_error
        assert health.pending == 0
        dropped = health.dropped.get("memory_bound", 0)
        assert _count(obs) + dropped == produced
        for i in range(40):
            ask(i)
        obs.flush()
        assert _count(obs) + dropped == produced + 40
    finally:
        obs.close()
    assert llmobs_nb.open(mnt / "ro.duckdb").calls().height == produced + 40 - dropped
