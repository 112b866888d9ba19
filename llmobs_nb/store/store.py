"""The DuckDB store: one file per project, plain SQL tables anyone can open.

Writes arrive as Arrow tables (columnar batches) from the capture layer's background flush;
reads return polars frames. DuckDB allows one writer process per file: a second process gets a
:class:`StoreLockedError` that names the file and what to do instead.
"""

from __future__ import annotations

import ctypes
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from llmobs_nb.store.errors import (
    ForkedChildError,
    NotAStoreError,
    SchemaTooNewError,
    StoreLockedError,
)
from llmobs_nb.store.migrations import MIGRATIONS

MEMORY = ":memory:"
TABLES = ("spans", "scores", "runs", "prices")
# Connections a forked child inherited and must never close (see Store.abandon).
_ABANDONED: list[duckdb.DuckDBPyConnection] = []


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise StoreLockedError(
                f"{path} is open for writing in {holder} (DuckDB allows one writer per file). "
                f"Read it there (obs.calls(), obs.sql(...)), close that observer first "
                f"(obs.close()), or give this process its own file: "
                f"llmobs_nb.init(db='another.duckdb'). Several files can be read together "
                f"with llmobs_nb.open_many([...])."
            ) from None
        if read_only and "does not exist" in text.lower():
            raise FileNotFoundError(
                f"no store at {path}: create one with llmobs_nb.init(db=...)"
            ) from None
        raise NotAStoreError(f"{path} cannot be opened as a DuckDB store: {text}") from None
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB's terminal progress bar would print into notebook cells.
    con.execute("SET enable_progress_bar = false")
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations applied to the database behind ``con``, in order."""
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_migrations'"
    ).fetchone()
    if not has or not has[0]:
        return []
    return [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY seq").fetchall()]


def migrate(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """Apply the migrations this package knows and the file lacks; returns the schema version."""
    applied = schema_version(con)
    known = [name for name, _ in MIGRATIONS]
    if applied[: len(known)] != known[: len(applied)] or len(applied) > len(known):
        raise SchemaTooNewError(
            f"{path} has schema version {len(applied)} ({applied[-1] if applied else '-'}), but "
            f"this llmobs_nb knows {len(known)} migrations: the file was written by a newer "
            f"llmobs_nb. Upgrade the package (pip install -U llmobs_nb) or use another file; "
            f"the file was not changed."
        )
    if not applied:
        con.execute("CREATE TABLE _migrations (seq INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    for seq, (name, fn) in enumerate(MIGRATIONS):
        if seq < len(applied):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?, now())", [seq, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def forked_child_message(path: str) -> str:
    """What a forked child is told when it uses its parent's store.

    Example:
        >>> "read them in the parent" in forked_child_message("/tmp/a.duckdb")
        True
    """
    return (
        f"this process (pid {os.getpid()}) is a fork of the process writing {path}: DuckDB "
        f"connections do not survive a fork, so this child cannot read or write that file. "
        f"Its calls are recorded (into the sidecar folder beside the file) and stored by the "
        f"parent: read them in the parent (obs.calls() there). To read in a worker, give it "
        f"its own file instead: a 'spawn' pool whose workers call "
        f"llmobs_nb.init(db='worker-N.duckdb'), read together with llmobs_nb.open_many([...])."
    )


class Store:
    """A DuckDB file (or ``:memory:``) holding spans, scores, runs and prices.

    Example:
        >>> store = Store(":memory:")
        >>> store.query("select count(*) as n from llm_calls")["n"][0]
        0
    """

    def __init__(self, path: str | Path = MEMORY, *, read_only: bool = False) -> None:
        self.path = str(path) if str(path) == MEMORY else str(Path(path).expanduser().resolve())
        self.read_only = read_only
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        if read_only:
            if self.path == MEMORY:
                raise ValueError("a read-only store needs a file path, not ':memory:'")
            # Readers connect per query so they never keep the writer out of the file.
            with self._connection() as con:
                self._check_readable(con)
        else:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._con = _connect(self.path, read_only=False)
            self._owner_pid = os.getpid()
            self.schema_version = migrate(self._con, self.path)

    def _check_readable(self, con: duckdb.DuckDBPyConnection) -> None:
        applied = schema_version(con)
        if not applied:
            raise NotAStoreError(
                f"{self.path} holds no llmobs_nb data (no _migrations table): "
                f"create a store with llmobs_nb.init(db={self.path!r})"
            )
        if len(applied) > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"{self.path} has schema version {len(applied)}, newer than this llmobs_nb "
                f"({len(MIGRATIONS)}): upgrade the package (pip install -U llmobs_nb)"
            )
        self.schema_version = len(applied)

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # A forked child: its store was abandoned, or this is a copy made before the fork.
        abandoned = getattr(self, "_abandoned", None)
        if abandoned is None and getattr(self, "_owner_pid", None) not in (None, os.getpid()):
            abandoned = forked_child_message(self.path)
        if abandoned is not None:
            raise ForkedChildError(abandoned)
        if self._con is not None or not self.read_only:
            with self._lock:
                if self._con is None:
                    raise RuntimeError(f"store {self.path} is closed")
                yield self._con
            return
        con = _connect(self.path, read_only=True)
        try:
            yield con
        finally:
            con.close()

    # -- writes ------------------------------------------------------------------------------
    def _insert(self, table: str, data: pa.Table) -> None:
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only; writes go through init()")
        if data.num_rows == 0:
            return
        with self._connection() as con:
            con.register("_incoming", data)
            try:
                columns = ", ".join(f'"{c}"' for c in data.column_names)
                con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _incoming")
            finally:
                con.unregister("_incoming")

    def write_spans(self, data: pa.Table) -> None:
        """Append span rows (columns of the ``spans`` table; missing ones are NULL)."""
        self._insert("spans", data)

    def write_scores(self, data: pa.Table) -> None:
        """Append score rows (columns of the ``scores`` table)."""
        self._insert("scores", data)

    def write_runs(self, data: pa.Table) -> None:
        """Append run rows (columns of the ``runs`` table)."""
        self._insert("runs", data)

    def write_prices(self, data: pa.Table) -> None:
        """Append price rows (columns of the ``prices`` table)."""
        self._insert("prices", data)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (used for run end times and the like)."""
        with self._connection() as con:
            con.execute(sql, params or [])

    # -- reads -------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run ``sql`` (with ``?`` or ``$name`` parameters) and return a polars DataFrame."""
        with self._connection() as con:
            relation = con.sql(sql, params=params or None)
            if relation is None:  # a statement, not a query
                return pl.DataFrame()
            return relation.pl()

    def close(self) -> None:
        """Checkpoint and close the file."""
        with self._lock:
            if self._con is not None:
                try:
                    if self.path != MEMORY:
                        self._con.execute("CHECKPOINT")
                finally:
                    self._con.close()
                    self._con = None

    def abandon(self, reason: str | None = None) -> None:
        """Let go of the connection without closing or checkpointing it; later use raises
        :class:`ForkedChildError` with ``reason`` (by default: :func:`forked_child_message`).

        For a forked child: its copy of the parent's DuckDB connection shares the parent's
        file, so closing it (or letting it be garbage-collected, which closes it) could write
        into that file. The connection is kept alive until the process ends, never used.

        Example:
            >>> store = Store(":memory:")
            >>> store.abandon("read in the parent")
            >>> store.query("select 1")
            Traceback (most recent call last):
            ...
            llmobs_nb.store.errors.ForkedChildError: read in the parent
        """
        con, self._con = self._con, None
        if con is not None:
            _ABANDONED.append(con)
            # One reference more than any container holds: not even the interpreter's
            # teardown (which clears module globals) frees it, so its destructor never runs.
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(con))
        self._abandoned = reason or forked_child_message(self.path)
        self._lock = threading.RLock()

    @property
    def closed(self) -> bool:
        return self._con is None and not self.read_only
