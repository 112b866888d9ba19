"""Is this file an llmobs_nb store? One rule, asked before writing, reading and attaching.

A store holds a ``_migrations`` table. A DuckDB file with tables of its own and no
``_migrations`` is someone else's: it is refused, unchanged (:class:`NotAStoreError`). An empty
file is a new store for a writer, and "no llmobs_nb data" for a reader.
"""

from __future__ import annotations

import duckdb

from llmobs_nb.store.connect import OpenHereError, check_file, connect, raise_if_damaged
from llmobs_nb.store.errors import NotAStoreError


def user_tables(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[str]:
    """Tables and views of the database ``catalog`` (default: the connection's own).

    Example:
        >>> user_tables(duckdb.connect())
        []
    """
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = coalesce(?, current_database()) ORDER BY table_name",
        [catalog],
    ).fetchall()
    return [r[0] for r in rows]


def refuse_non_store(path: str, tables: list[str], *, empty_ok: bool = False) -> None:
    """Raise :class:`NotAStoreError` unless ``tables`` (of the file at ``path``) are a store's.

    Example:
        >>> refuse_non_store("a.duckdb", ["_migrations", "spans"])   # a store: no error
        >>> refuse_non_store("new.duckdb", [], empty_ok=True)         # a new file: no error
    """
    if "_migrations" in tables:
        return
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise NotAStoreError(
            f"{path} holds no llmobs_nb data: it is a DuckDB database with tables of its own "
            f"({shown}) but no llmobs_nb schema (no _migrations table); it was not changed. "
            f"Give llmobs_nb a file of its own: llmobs_nb.init(db='new.duckdb')."
        )
    if not empty_ok:
        raise NotAStoreError(
            f"{path} holds no llmobs_nb data (no _migrations table): "
            f"create a store with llmobs_nb.init(db={path!r})"
        )


def check_tables(con: duckdb.DuckDBPyConnection, path: str, catalog: str | None = None) -> None:
    """:func:`refuse_non_store` on a connected (or attached, as ``catalog``) file; a damaged
    one raises :class:`~llmobs_nb.store.errors.CorruptStoreError`.

    Example:
        >>> check_tables(duckdb.connect(), ":memory:")
        Traceback (most recent call last):
        ...
        llmobs_nb.store.errors.NotAStoreError: :memory: holds no llmobs_nb data ...
    """
    try:
        tables = user_tables(con, catalog)
    except duckdb.Error as exc:
        raise_if_damaged(path, exc)
        raise
    refuse_non_store(path, tables)


def check_before_writing(path: str) -> None:
    """Refuse an existing file that is not a store before the writer opens it (no byte
    written); a new or empty file is fine.

    Example:
        >>> check_before_writing("/nonexistent/new.duckdb")   # a new file: nothing to check
    """
    if not check_file(path):
        return  # a new file
    try:
        con = connect(path, read_only=True)
    except OpenHereError:
        return  # already open in this process: the writer's own connect decides
    try:
        tables = user_tables(con)
    except duckdb.Error as exc:
        raise_if_damaged(path, exc)
        raise
    finally:
        con.close()
    refuse_non_store(path, tables, empty_ok=True)
