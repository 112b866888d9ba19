"""SIGKILL: rows captured more than one flush interval before a ``kill -9`` survive, and the
file always opens afterwards.

A child process traces continuously — each span carries its sequence number — and reports on
stdout how many calls it had made at each moment, and when the flush thread starts and ends a
write. The test kills it with SIGKILL at a chosen moment (at an arbitrary time, right after a
write began, right after one committed), reopens the file (read-only, then as a writer) and
checks that every call made more than one flush interval plus a margin before the kill is
stored, exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import llmobs_nb

INTERVAL_S = 0.2
MARGIN_S = 0.6  # scheduling on a loaded machine; the promise is about one interval

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import llmobs_nb

    def say(text):  # one write(2) per line: lines from two threads never interleave
        os.write(1, (text + "\\n").encode())

    obs = llmobs_nb.init(db=sys.argv[1], flush_interval_s=float(sys.argv[2]))
    write = obs.store.write_spans

    def announced(table):  # tell the parent when a write starts and when it is committed
        say(f"W {time.time():.6f}")
        write(table)
        say(f"D {time.time():.6f}")

    obs.store.write_spans = announced
    seq = 0
    while True:
        for _ in range(20):
            with obs.span("call", kind="llm", model="gpt-4o", seq=seq):
                pass
            seq += 1
        say(f"C {seq} {time.time():.6f}")
        time.sleep(0.002)
    """
)


class Child:
    """The tracing child and what it reported, read by a thread as it comes."""

    def __init__(self, db: Path, script: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(db), str(INTERVAL_S)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(llmobs_nb.__file__).parent.parent,
        )
        self.counts: list[tuple[float, int]] = []  # (child's time, calls made by then)
        self.writes: list[tuple[str, float]] = []
        self.event = threading.Event()
        self._want: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if parts and parts[0] == "C":
                self.counts.append((float(parts[2]), int(parts[1])))
            elif parts and parts[0] in ("W", "D"):
                self.writes.append((parts[0], float(parts[1])))
                if self._want == parts[0]:
                    self.event.set()

    def wait_for(self, marker: str, timeout: float = 20) -> None:
        self.event.clear()
        self._want = marker
        assert self.event.wait(timeout), f"no {marker!r} from the child: {self.stderr()}"

    def kill(self) -> float:
        at = time.time()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        self._reader.join(timeout=20)
        return at

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param("anytime", marks=pytest.mark.slow),
        "mid_write",
        pytest.param("after_commit", marks=pytest.mark.slow),
    ],
)
def test_rows_older_than_one_interval_survive_sigkill(tmp_path, moment):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db = tmp_path / "killed.duckdb"
    child = Child(db, script)
    try:
        child.wait_for("D")  # running, and at least one batch committed
        # Long enough that calls made more than an interval (plus the margin) before the kill
        # exist whatever the moment: the first write may come as soon as one interval in.
        time.sleep(INTERVAL_S + MARGIN_S + 0.5)
        if moment == "mid_write":
            child.wait_for("W")
        elif moment == "after_commit":
            child.wait_for("D")
        killed_at = child.kill()
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
    assert child.proc.returncode == -signal.SIGKILL
    cutoff = killed_at - INTERVAL_S - MARGIN_S
    required = max((n for t, n in child.counts if t <= cutoff), default=0)
    made = child.counts[-1][1]
    assert required > 0, "the child made no calls early enough to check"

    reader = llmobs_nb.open(db)  # the file opens after the kill, read-only
    seqs = reader.sql("SELECT CAST(json_extract(attributes, '$.seq') AS BIGINT) AS seq FROM spans")[
        "seq"
    ].to_list()
    assert len(seqs) == len(set(seqs)), "a row was stored twice"
    missing = set(range(required)) - set(seqs)
    assert not missing, (
        f"{len(missing)} of the first {required} calls lost (made {made}, stored {len(seqs)}, "
        f"killed {moment}; last writes {child.writes[-4:]})"
    )
    assert max(seqs) < made + 20
    print(f"{moment}: made {made}, required {required}, stored {len(seqs)}")

    writer = llmobs_nb.init(db=db, project="after-kill")  # and as a writer
    try:
        with writer.span("after", kind="llm", model="gpt-4o"):
            pass
        assert writer.calls().height == len(seqs) + 1
    finally:
        writer.close()
