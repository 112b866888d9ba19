"""The one way this package opens DuckDB: one configuration, enforced by the engine.

Every connection (the writer, per-query readers, ``open_many``, views, analytics) comes from
:func:`connect`, so every database instance this package opens has the same settings:

* ``enable_external_access = false``: no file outside the store is read or written (no
  ``read_csv``, ``COPY ... TO``, ``ATTACH``, ``INSTALL``), whatever the SQL says;
* ``autoinstall_known_extensions = false`` and ``autoload_known_extensions = false``: no
  extension is ever fetched from the network or loaded from disk;
* ``TimeZone = 'UTC'`` and no progress bar (it would print into notebook cells);
* ``lock_configuration = true``: SQL cannot change any of the above afterwards.

DuckDB shares one database instance per file within a process and refuses a second connection
with another configuration, so the settings are the same everywhere. Before a file reaches
DuckDB, its header is checked (:func:`check_file`): a SQLite file or random bytes are refused
without being handed to the engine. Damaged files raise :class:`CorruptStoreError` with the path.

Example:
    >>> con = connect(":memory:")
    >>> con.sql("select current_setting('enable_external_access') as x").fetchall()
    [(False,)]
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb

from llmobs_nb.store.errors import (
    CorruptStoreError,
    NotAStoreError,
    StoreError,
    StoreLockedError,
)

MEMORY = ":memory:"

#: Settings given to every database instance at start (all of them global in DuckDB).
SETTINGS: dict[str, object] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
# TimeZone belongs to the (statically linked) ICU extension, so it is not accepted at start-up;
# it and the connection-local progress bar are SET before the configuration is locked.
_AFTER_START = (
    "SET GLOBAL TimeZone = 'UTC'",
    "SET enable_progress_bar = false",
    "SET GLOBAL lock_configuration = true",
)

_opening = threading.Lock()

#: Called with a file's real path before this process opens it for writing: the readers it
#: keeps open between uses (``store/kept_open.py``) close, or DuckDB would refuse the writer
#: ("different configuration"). A reader in use at that moment still makes the writer fail.
BEFORE_WRITING: list[Callable[[str], None]] = []

DUCKDB_MAGIC = b"DUCK"
DUCKDB_MAGIC_OFFSET = 8
SQLITE_MAGIC = b"SQLite format 3\x00"
PARQUET_MAGIC = b"PAR1"

# Messages DuckDB gives for a damaged file (it raises several exception classes for them).
_DAMAGE = re.compile(
    r"corrupt|checksum|could not read enough bytes|not a valid duckdb database|"
    r"invalidated|failed to load metadata",
    re.IGNORECASE,
)


class OpenHereError(StoreError):
    """The file is already open in this process with another mode or other settings."""


def _new_lock_after_fork() -> None:
    global _opening
    _opening = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def check_file(path: str) -> bool:
    """Refuse a file that is not a DuckDB database before DuckDB sees it; True if it exists.

    Reads the first bytes only; the file is never changed. An empty file, a SQLite database or
    anything without DuckDB's ``DUCK`` magic at byte 8 raises :class:`NotAStoreError`.

    Example:
        >>> check_file("/nonexistent/new.duckdb")
        False
    """
    if path == MEMORY:
        return False
    file = Path(path)
    if not file.exists():
        return False
    if file.is_dir():
        raise NotAStoreError(f"{path} is a directory, not an llmobs_nb store; pass a file path")
    with file.open("rb") as handle:
        head = handle.read(64)
    keep = "it was not changed"
    if not head:
        raise NotAStoreError(
            f"{path} is an empty file, not an llmobs_nb store; {keep}. Delete it (then "
            f"llmobs_nb.init creates the store there) or pass another path."
        )
    if head[DUCKDB_MAGIC_OFFSET : DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC)] == DUCKDB_MAGIC:
        return True  # first: a DuckDB file's first 8 bytes are a checksum, any bytes at all
    if head.startswith(SQLITE_MAGIC):
        raise NotAStoreError(
            f"{path} is a SQLite database, not an llmobs_nb store (a DuckDB file); {keep}. "
            f"Pass a new file name to llmobs_nb.init(db=...); read this one with sqlite3."
        )
    if head.startswith(PARQUET_MAGIC):
        # DuckDB itself would open a .parquet path as an in-memory database ("Cannot launch
        # in-memory database in read-only mode!"), which says nothing of what the file is.
        raise NotAStoreError(
            f"{path} is a Parquet file, not an llmobs_nb store (a DuckDB file); {keep}. "
            f"A Phoenix spans export (its spans dataframe saved as parquet, TraceDataset.save) "
            f"is read into a store with llmobs_nb.ingest({path!r}); llmobs_nb's own Parquet "
            f"export (llmobs_nb.export.parquet) is read by the analytics functions directly."
        )
    if head.lstrip().startswith((b"{", b"[")):
        raise NotAStoreError(
            f"{path} is a JSON file, not an llmobs_nb store (a DuckDB file); {keep}. OTLP/JSON "
            f"(the collector's file exporter) and Phoenix spans exports (REST JSON) are read "
            f"into a store with llmobs_nb.ingest({path!r})."
        )
    raise NotAStoreError(
        f"{path} is not a DuckDB database (no DuckDB header), so it is not an llmobs_nb "
        f"store; {keep}. Pass a new file name to llmobs_nb.init(db=...)."
    )


def damage(path: str, exc: BaseException) -> CorruptStoreError | None:
    """The :class:`CorruptStoreError` for ``exc`` if it says ``path`` is damaged, else None.

    Example:
        >>> damage("a.duckdb", duckdb.IOException("Could not read enough bytes")) is not None
        True
    """
    text = str(exc)
    if not isinstance(exc, duckdb.Error) or not _DAMAGE.search(text):
        return None
    first = text.splitlines()[0] if text else type(exc).__name__
    return CorruptStoreError(
        f"{path} is damaged (truncated or corrupted): {first}. It was not changed. Restore it "
        f"from a backup, or start a new store: llmobs_nb.init(db='new.duckdb')."
    )


def raise_if_damaged(path: str, exc: BaseException) -> None:
    """Raise :class:`CorruptStoreError` (from None) if ``exc`` says ``path`` is damaged.

    Example:
        >>> raise_if_damaged("a.duckdb", ValueError("not a DuckDB error"))
    """
    found = damage(path, exc)
    if found is not None:
        raise found from None


def connect(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to ``path`` (a store file or ``":memory:"``) with this package's settings.

    Raises :class:`NotAStoreError` for a file that is not DuckDB, :class:`CorruptStoreError`
    for a damaged one, :class:`StoreLockedError` when another process writes it and
    ``FileNotFoundError`` when a read-only file is missing.

    Example:
        >>> connect(":memory:").sql("select current_setting('TimeZone')").fetchall()
        [('UTC',)]
    """
    exists = check_file(path)
    if read_only and path != MEMORY and not exists:
        raise FileNotFoundError(f"no store at {path}: create one with llmobs_nb.init(db=...)")
    return _open(path, read_only)


def connect_many(paths: list[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory database with each store file attached read-only as ``s0``, ``s1``, ...

    The files are attached first; then external access is switched off and the configuration
    locked, so the connection has the same settings as :func:`connect`'s afterwards.

    Example:
        >>> connect_many([]).sql("select current_setting('lock_configuration')").fetchall()
        [(True,)]
    """
    for path in paths:
        if not check_file(path):
            raise FileNotFoundError(f"no store at {path}")
    start = {**SETTINGS, "enable_external_access": True}
    con = duckdb.connect(MEMORY, config=start)
    try:
        for i, path in enumerate(paths):
            try:
                con.execute(f"ATTACH ? AS s{i} (READ_ONLY)", [path])
            except duckdb.Error as exc:
                raise _open_error(path, exc) from None
        con.execute("SET GLOBAL enable_external_access = false")
        for statement in _AFTER_START:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


def _open(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    # One opening at a time: two threads opening the same file share one instance, and both
    # would otherwise see it unlocked and the second SET would fail once the first locked it.
    if not read_only and path != MEMORY:
        for close_readers in BEFORE_WRITING:
            close_readers(os.path.realpath(path))
    with _opening:
        try:
            con = duckdb.connect(path, read_only=read_only, config=dict(SETTINGS))
        except duckdb.Error as exc:
            raise _open_error(path, exc) from None
        try:
            locked = con.execute("SELECT current_setting('lock_configuration')").fetchall()
            if not (locked and locked[0][0]):
                for statement in _AFTER_START:
                    con.execute(statement)
            # Else an instance opened earlier in this process (same file, same config) and
            # configured here then: its global settings hold; only the connection-local
            # progress bar cannot be switched off (it shows on queries over 2 s).
        except duckdb.Error as exc:
            con.close()
            raise _open_error(path, exc) from None
        return con


def _open_error(path: str, exc: duckdb.Error) -> Exception:
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        holder = f"process {pid.group(1)}" if pid else "another process"
        return StoreLockedError(
            f"{path} is open for writing in {holder} (DuckDB allows one writer per file). "
            f"Read it there (obs.calls(), obs.sql(...)), close that observer first "
            f"(obs.close()), or give this process its own file: "
            f"llmobs_nb.init(db='another.duckdb'). Several files can be read together "
            f"with llmobs_nb.open_many([...])."
        )
    if "different configuration" in text:
        return OpenHereError(
            f"{path} is already open in this process in another mode or with other DuckDB "
            f"settings (your own duckdb.connect, or an llmobs_nb.init writer when reading it "
            f"read-only). Use the observer that has it open (obs.sql(...), llmobs_nb.open on "
            f"the same path) or close the other connection first."
        )
    found = damage(path, exc)
    if found is not None:
        return found
    return StoreError(f"{path} cannot be opened as a DuckDB store: {text.splitlines()[0]}")
