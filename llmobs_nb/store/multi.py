"""Several store files read together as one: the path for many writer processes.

DuckDB allows one writer per file, so a multiprocessing pool or several kernels each write their
own file; :func:`open_many` attaches them read-only into one in-memory database whose tables and
``llm_calls`` view are the union of all files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llmobs_nb.store.errors import NotAStoreError
from llmobs_nb.store.store import Store, _connect, schema_version

UNION_TABLES = ("spans", "scores", "runs", "prices", "llm_calls")


class MultiStore(Store):
    """A read-only Store over the union of several store files."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        import threading

        if not paths:
            raise ValueError("open_many needs at least one store file")
        self.paths = [str(Path(p).expanduser().resolve()) for p in paths]
        for path in self.paths:
            if not Path(path).exists():
                raise FileNotFoundError(f"no store at {path}")
        self.path = ":memory:"
        self.read_only = True
        self._lock = threading.RLock()
        con = _connect(":memory:", read_only=False)
        for i, path in enumerate(self.paths):
            con.execute(f"ATTACH ? AS s{i} (READ_ONLY)", [path])
            con.execute(f"USE s{i}")
            if not schema_version(con):
                raise NotAStoreError(f"{path} holds no llmobs_nb data")
        con.execute("USE memory")
        for table in UNION_TABLES:
            parts = " UNION ALL BY NAME ".join(
                f"SELECT * FROM s{i}.{table}" for i in range(len(self.paths))
            )
            con.execute(f"CREATE VIEW {table} AS {parts}")
        self._con = con
        self.schema_version = 0

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
