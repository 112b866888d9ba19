"""Several store files read together as one: the path for many writer processes.

DuckDB allows one writer per file, so a multiprocessing pool or several kernels each write their
own file; :func:`open_many` attaches them read-only into one in-memory database whose tables and
``llm_calls`` view are the union of all files. The files are attached before the engine's
external access is switched off (see :func:`llmobs_nb.store.connect.connect_many`), so queries
have the same read-only guarantees as on one file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb

from llmobs_nb.store.connect import connect_many, raise_if_damaged
from llmobs_nb.store.errors import NotAStoreError
from llmobs_nb.store.store import Store, _foreign

UNION_TABLES = ("spans", "scores", "runs", "prices", "llm_calls")


class MultiStore(Store):
    """A read-only Store over the union of several store files.

    Example:
        >>> both = MultiStore(["a.duckdb", "b.duckdb"])                  # doctest: +SKIP
        >>> both.query("select count(*) n from llm_calls")                # doctest: +SKIP
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        if not paths:
            raise ValueError("open_many needs at least one store file")
        self.paths = [str(Path(p).expanduser().resolve()) for p in paths]
        self.path = ":memory:"
        self.read_only = True
        self._lock = threading.RLock()
        con = connect_many(self.paths)
        try:
            for i, path in enumerate(self.paths):
                _check_attached(con, f"s{i}", path)
            for table in UNION_TABLES:
                parts = " UNION ALL BY NAME ".join(
                    f"SELECT * FROM s{i}.{table}" for i in range(len(self.paths))
                )
                con.execute(f"CREATE VIEW {table} AS {parts}")
        except BaseException:
            con.close()
            raise
        self._con = con
        self.schema_version = 0

    @property
    def _files(self) -> str:
        if len(self.paths) == 1:
            return self.paths[0]
        return "one of " + ", ".join(self.paths)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _check_attached(con: duckdb.DuckDBPyConnection, alias: str, path: str) -> None:
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                "UNION ALL SELECT view_name FROM duckdb_views() "
                "WHERE database_name = ? AND NOT internal ORDER BY 1",
                [alias, alias],
            ).fetchall()
        ]
    except duckdb.Error as exc:
        raise_if_damaged(path, exc)
        raise
    if "_migrations" not in tables:
        if tables:
            raise _foreign(path, tables)
        raise NotAStoreError(f"{path} holds no llmobs_nb data")
