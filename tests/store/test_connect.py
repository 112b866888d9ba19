"""store.connect: the one way the package opens DuckDB."""

from __future__ import annotations

from pathlib import Path

from llmobs_nb.store import Store
from llmobs_nb.store.connect import connect


def test_a_file_opened_read_only_twice_in_one_process_answers_on_both(tmp_path: Path) -> None:
    # Regression: the settings check left a result unfinished on the new connection, so the
    # second read-only connection of a file already open here refused its first query.
    path = tmp_path / "calls.duckdb"
    Store(path).close()
    first = connect(path, read_only=True)
    second = connect(path, read_only=True)
    try:
        assert second.sql("SELECT count(*) FROM spans").fetchall() == [(0,)]
        assert first.sql("SELECT count(*) FROM spans").fetchall() == [(0,)]
    finally:
        first.close()
        second.close()
