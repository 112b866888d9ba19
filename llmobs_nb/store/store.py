"""The DuckDB store: one file per project, plain SQL tables anyone can open.

Writes arrive as Arrow tables (columnar batches) from the capture layer's background flush;
reads return polars frames. DuckDB allows one writer process per file: a second process gets a
:class:`StoreLockedError` that names the file and what to do instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from llmobs_nb.store import rollups
from llmobs_nb.store.connect import connect, connect_many, raise_if_damaged
from llmobs_nb.store.errors import ForkedChildError, SchemaTooNewError
from llmobs_nb.store.file_checks import (
    check_before_writing,
    check_tables,
    refuse_non_store,
    user_tables,
)
from llmobs_nb.store.migrations import MIGRATIONS
from llmobs_nb.store.readonly import run_read_only

MEMORY = ":memory:"
TABLES = ("spans", "scores", "runs", "prices")
# What Store.attach_many reads as the union of its files.
UNION_TABLES = (*TABLES, "llm_calls")
# Connections a forked child inherited and must never close (see Store.abandon).
_ABANDONED: list[duckdb.DuckDBPyConnection] = []


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    # Every connection of the package has the same engine settings: see store/connect.py.
    return connect(path, read_only=read_only)


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
        #: Called with each batch of score rows once written (the OTLP export's evaluation
        #: events); never raises into the writer.
        self.on_scores_written: Callable[[pa.Table], None] | None = None
        self._setup(
            str(path) if str(path) == MEMORY else str(Path(path).expanduser().resolve()),
            read_only,
        )
        if read_only:
            if self.path == MEMORY:
                raise ValueError("a read-only store needs a file path, not ':memory:'")
            # Readers connect per query so they never keep the writer out of the file.
            with self._connection() as con:
                self._check_readable(con)
        else:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                check_before_writing(self.path)
            self._con = _connect(self.path, read_only=False)
            self._owner_pid = os.getpid()
            try:
                self.schema_version = migrate(self._con, self.path)
            except BaseException as exc:
                self._con.close()
                self._con = None
                raise_if_damaged(self.path, exc)
                raise

    def _setup(
        self,
        path: str,
        read_only: bool,
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        view_of: Store | None = None,
        files: list[str] | None = None,
    ) -> None:
        """Every field of a store, set by each constructor (``Store(...)``, :meth:`read_view`,
        :meth:`attach_many`)."""
        self.path = path
        self.read_only = read_only
        self._con = con
        # A read view shares the live store's lock and reads through it (see read_view).
        self._view_of = view_of
        self._lock = view_of._lock if view_of is not None else threading.RLock()
        self.paths = files if files is not None else [path]
        self.schema_version = view_of.schema_version if view_of is not None else 0
        self._owner_pid: int | None = None  # the writer's process (see _refuse_in_forked_child)
        self._abandoned: str | None = None
        # The writer's rollup upkeep (catch_up_rollups): spans stored since the last
        # catch-up, when it ran, and how many ran (every few, a compaction).
        self._unrolled, self._rolled_at, self._catch_ups = 0, time.monotonic(), 0

    @classmethod
    def read_view(cls, live: Store) -> Store:
        """A read-only face on a store this process is writing (DuckDB: one instance per file).

        Reads go to the live store's connection, each on a cursor of its own in a rolled-back
        transaction; every write is refused (``PermissionError``); closing it closes nothing.

        Example:
            >>> live = Store()
            >>> Store.read_view(live).query("select count(*) n from spans")["n"][0]
            0
        """
        view = cls.__new__(cls)
        view._setup(live.path, True, view_of=live)
        return view

    @classmethod
    def attach_many(cls, paths: Sequence[str | Path]) -> Store:
        """A read-only store over several store files (one per writer process): every table
        and ``llm_calls`` is the union of the files' (``UNION ALL BY NAME``).

        The files are attached before the engine's external access is switched off (see
        :func:`llmobs_nb.store.connect.connect_many`): queries have the same read-only
        guarantees as on one file. A file that is not a store raises ``NotAStoreError``.

        Example:
            >>> both = Store.attach_many(["a.duckdb", "b.duckdb"])      # doctest: +SKIP
            >>> both.query("select count(*) n from llm_calls")          # doctest: +SKIP
        """
        if not paths:
            raise ValueError("open_many needs at least one store file")
        files = [str(Path(p).expanduser().resolve()) for p in paths]
        con = connect_many(files)
        try:
            for i, path in enumerate(files):
                check_tables(con, path, catalog=f"s{i}")
            for table in UNION_TABLES:
                parts = " UNION ALL BY NAME ".join(
                    f"SELECT * FROM s{i}.{table}" for i in range(len(files))
                )
                con.execute(f"CREATE VIEW {table} AS {parts}")
        except BaseException:
            con.close()
            raise
        store = cls.__new__(cls)
        store._setup(MEMORY, True, con=con, files=files)
        return store

    def _check_readable(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            applied = schema_version(con)
            tables = [] if applied else user_tables(con)
        except duckdb.Error as exc:
            raise_if_damaged(self.path, exc)
            raise
        if not applied:  # someone else's file, an empty one, or a first migration that died
            refuse_non_store(self.path, [t for t in tables if t != "_migrations"])
        if len(applied) > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"{self.path} has schema version {len(applied)}, newer than this llmobs_nb "
                f"({len(MIGRATIONS)}): upgrade the package (pip install -U llmobs_nb)"
            )
        self.schema_version = len(applied)

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._refuse_in_forked_child()
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

    def _refuse_in_forked_child(self) -> None:
        """A forked child: its store was abandoned, or this is a copy made before the fork."""
        abandoned = self._abandoned
        if abandoned is None and self._owner_pid not in (None, os.getpid()):
            abandoned = forked_child_message(self.path)
        if abandoned is not None:
            raise ForkedChildError(abandoned)

    @property
    def _files(self) -> str:
        """The file(s) behind this store, for error messages."""
        if len(self.paths) == 1:
            return self.paths[0]
        return "one of " + ", ".join(self.paths)

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own for one read: a cursor of the open database, or (readers of
        a file another process writes) a read-only connection per query."""
        if self._view_of is not None:
            with self._view_of._reading() as con:
                yield con
            return
        self._refuse_in_forked_child()
        if self._con is not None:
            with self._lock:
                if self._con is None:
                    raise RuntimeError(f"store {self.path} is closed")
                cursor = self._con.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
            return
        if not self.read_only:
            raise RuntimeError(f"store {self.path} is closed")
        con = _connect(self.path, read_only=True)
        try:
            yield con
        finally:
            con.close()

    # -- writes ------------------------------------------------------------------------------
    needs_reopen = False
    """A write found the connection invalidated by a fatal error: :meth:`reopen` before use."""

    def _insert(self, table: str, data: pa.Table) -> None:
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only; writes go through init()")
        if data.num_rows == 0:
            return
        with self._connection() as con:
            try:
                con.register("_incoming", data)
                try:
                    columns = ", ".join(f'"{c}"' for c in data.column_names)
                    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _incoming")
                finally:  # an invalidated connection refuses this too: keep the insert's error
                    with contextlib.suppress(duckdb.Error):
                        con.unregister("_incoming")
            except duckdb.FatalException:
                self.needs_reopen = True  # "database has been invalidated": see reopen()
                raise

    def catch_up_rollups(self, *, force: bool = False) -> int:
        """Roll up the spans stored since the last catch-up when enough have accumulated
        (:data:`~llmobs_nb.store.rollups.CATCH_UP_ROWS` rows or
        :data:`~llmobs_nb.store.rollups.CATCH_UP_S` seconds), or now with ``force``; returns
        the spans rolled up. Never raises: the rollups are derived data, and readers roll up
        what is past the mark themselves, so a failure costs only speed (logged).

        Example:
            >>> Store(":memory:").catch_up_rollups(force=True)
            0
        """
        if self.read_only or self._con is None:
            return 0
        due = self._unrolled >= rollups.CATCH_UP_ROWS or (
            self._unrolled and time.monotonic() - self._rolled_at >= rollups.CATCH_UP_S
        )
        if not (force or due):
            return 0
        try:
            with self._connection() as con:
                rolled = rollups.catch_up(con)
                self._unrolled, self._rolled_at = 0, time.monotonic()
                self._catch_ups += 1
                if self._catch_ups % rollups.COMPACT_EVERY == 0:
                    rollups.compact(con)
            return rolled
        except duckdb.FatalException:
            self.needs_reopen = True
        except Exception as exc:  # retried at the next flush; readers cover the tail
            self._rolled_at = time.monotonic()
            logging.getLogger("llmobs_nb").warning(
                "llmobs_nb could not update the rollups (%s: %s); reads stay exact, retried "
                "in %.0f s",
                type(exc).__name__,
                exc,
                rollups.CATCH_UP_S,
            )
        return 0

    def rebuild_rollups(self) -> int:
        """Rebuild the rollups from the stored spans (they are derived data); returns the
        number of model calls rolled up.

        Example:
            >>> Store(":memory:").rebuild_rollups()
            0
        """
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only; writes go through init()")
        with self._connection() as con:
            self._unrolled, self._rolled_at = 0, time.monotonic()
            return rollups.rebuild(con)

    def reopen(self) -> None:
        """Close the writer's connection and open the file again (after a failed write).

        A DuckDB connection that failed to checkpoint on a full disk is invalidated for good
        ("database has been invalidated because of a previous fatal error"), and one whose file
        system was remounted keeps writing to the old one: reopening is how writes resume once
        the file can be written again. If the file cannot be opened for writing, it is opened
        read-only so reads keep answering from what is stored, and the error is raised (the
        write path retries later). A ``:memory:`` or read-only store is left as it is.

        Example:
            >>> Store(":memory:").reopen()   # nothing to reopen: the data lives in the connection
        """
        if self.read_only or self.path == MEMORY:
            return
        with self._lock:
            self.needs_reopen = False
            old, self._con = self._con, None
            if old is not None:
                with contextlib.suppress(Exception):
                    old.close()
            try:
                self._con = _connect(self.path, read_only=False)
            except Exception:
                with contextlib.suppress(Exception):  # reads go on from what is stored
                    self._con = _connect(self.path, read_only=True)
                raise

    def write_spans(self, data: pa.Table) -> None:
        """Append span rows (columns of the ``spans`` table; missing ones are NULL)."""
        self._insert("spans", data)
        self._unrolled += data.num_rows
        self.catch_up_rollups()

    def write_scores(self, data: pa.Table) -> None:
        """Append score rows (columns of the ``scores`` table), then show them to
        :attr:`on_scores_written`."""
        self._insert("scores", data)
        if self.on_scores_written is not None and data.num_rows:
            try:
                self.on_scores_written(data)
            except Exception as exc:  # the scores are stored: an export problem stays there
                logging.getLogger("llmobs_nb").warning(
                    "llmobs_nb could not export %d scores (%s)", data.num_rows, exc
                )

    def write_runs(self, data: pa.Table) -> None:
        """Append run rows (columns of the ``runs`` table)."""
        self._insert("runs", data)

    def write_prices(self, data: pa.Table) -> None:
        """Append price rows (columns of the ``prices`` table)."""
        self._insert("prices", data)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (used for run end times and the like)."""
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only; writes go through init()")
        with self._connection() as con:
            con.execute(sql, params or [])

    # -- reads -------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one read-only query (with ``?`` or ``$name`` parameters) as a polars DataFrame.

        Read-only whoever calls it: DuckDB's parser must find one SELECT (or EXPLAIN of one),
        it runs on a connection of its own in a transaction that is rolled back, and the engine
        cannot reach files outside the store. Anything else raises ``PermissionError``; the
        package writes with :meth:`execute` and the ``write_*`` methods.

        Example:
            >>> Store().query("select count(*) as n from spans")["n"][0]
            0
        """
        with self._reading() as con:
            try:
                return run_read_only(con, sql, params)
            except duckdb.Error as exc:
                raise_if_damaged(self._files, exc)
                raise

    def first_project(self) -> str | None:
        """The project of the first stored span that names one (None if none does): the
        project ``llmobs_nb.open`` reports for a file.

        Example:
            >>> Store().first_project() is None
            True
        """
        found = self.query("SELECT project FROM spans WHERE project IS NOT NULL LIMIT 1")
        return found["project"][0] if found.height else None

    def close(self) -> None:
        """Checkpoint and close the file.

        A checkpoint that fails (a full disk) is logged, not raised: committed rows are safe
        in the write-ahead log, which DuckDB replays when the file is next opened. The spans
        not yet rolled up are rolled up first (never raises either).
        """
        if self._unrolled and self._owner_pid == os.getpid() and not self._abandoned:
            self.catch_up_rollups(force=True)
        with self._lock:
            if self._con is not None:
                try:
                    if self.path != MEMORY and not self.read_only:
                        self._con.execute("CHECKPOINT")
                except duckdb.Error as exc:
                    logging.getLogger("llmobs_nb").warning(
                        "llmobs_nb could not checkpoint %s on close (%s); committed rows stay "
                        "in its write-ahead log and are replayed when it is next opened",
                        self.path,
                        exc,
                    )
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
        """The writer's file was closed (a read view: its live store's)."""
        if self._view_of is not None:
            return self._view_of.closed
        return self._con is None and not self.read_only
