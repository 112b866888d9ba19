"""A read-only connection to a store file kept open between uses, closed once idle.

A dashboard over a file asks a dozen questions per filter change. Opening the file for each
change cost 30 ms, and DuckDB drops its cache of the file's blocks when the last connection
closes, so every change read and decompressed the same columns again (at 1M calls: the same
queries took 180–195 ms on a new connection, 120–125 ms on one kept open). A
:class:`KeptOpen` keeps its connection for :data:`IDLE_S` seconds after the last use, then
closes it: while someone explores, the file stays warm; a moment later, a writer in another
process can open it again (DuckDB allows one writer per file and no reader beside it). A
writer in this process closes the idle ones of its file first (``connect.BEFORE_WRITING``).

Example:
    >>> kept = KeptOpen("experiments.duckdb")          # doctest: +SKIP
    >>> with kept.use() as con:                        # doctest: +SKIP
    ...     con.sql("select count(*) from llm_calls").fetchall()
    >>> kept.close()                                   # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Iterator

import duckdb

from llmobs_nb.store.connect import BEFORE_WRITING, connect

#: Seconds a connection stays open after its last use.
IDLE_S = 5.0


class KeptOpen:
    """One read-only connection to ``path`` for one thread at a time (DuckDB connections are
    not shared between threads), opened on first :meth:`use` and closed ``idle_s`` seconds
    after the last, or by :meth:`close`."""

    def __init__(self, path: str, idle_s: float = IDLE_S) -> None:
        self.path = path
        self.idle_s = idle_s
        self._real_path = os.path.realpath(path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        self._timer: threading.Timer | None = None
        _KEPT.add(self)

    @property
    def is_open(self) -> bool:
        """Whether the connection is open now."""
        return self._con is not None

    @contextlib.contextmanager
    def use(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection, opened if it was not (raising the store's own errors: locked,
        damaged, not a store), for the length of the block."""
        with self._lock:
            self._cancel_timer()
            if self._con is None:
                self._con = connect(self.path, read_only=True)
            self._users += 1
            con = self._con
        try:
            yield con
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._con is not None:
                    timer = threading.Timer(self.idle_s, self._close_if_idle)
                    timer.daemon = True
                    timer.name = "llmobs_nb-close-idle"
                    self._timer = timer
                    timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_if_idle(self) -> None:
        if sys.is_finalizing():  # too late for DuckDB in this thread (see _close_all_at_exit)
            return
        with self._lock:
            if self._users == 0 and self._timer is threading.current_thread():
                self._timer = None
                self._close()

    def _close(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            con.close()

    def close(self) -> None:
        """Close the connection now (a later :meth:`use` opens it again)."""
        with self._lock:
            self._cancel_timer()
            if self._users == 0:
                self._close()


_KEPT: weakref.WeakSet[KeptOpen] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    # The idle timers are daemon threads. One that closed its connection while the interpreter
    # shut down aborted the process ("terminate called ... FATAL: exception not rethrown",
    # exit status 134; 11 of 40 runs of a script that exited right after a read): DuckDB's
    # close gives up the GIL, and a daemon thread taking it back after finalization is
    # unwound through DuckDB's C++. So every kept connection is closed here first, from the
    # main thread, after the atexit handlers registered later (an observer's close) ran.
    for kept in list(_KEPT):
        kept.close()


atexit.register(_close_all_at_exit)


def _close_idle_readers(real_path: str) -> None:
    # Before this process opens ``real_path`` for writing (connect.BEFORE_WRITING).
    for kept in list(_KEPT):
        if kept._real_path == real_path:
            kept.close()


BEFORE_WRITING.append(_close_idle_readers)

__all__ = ["IDLE_S", "KeptOpen"]
