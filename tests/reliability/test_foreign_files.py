"""Files that are not (or no longer) llmobs_nb stores: refused before a byte is written.

A SQLite file, random bytes, an empty file, a user's own DuckDB database with a ``spans`` table,
a store cut in half and a store with bytes overwritten in the middle, each given to ``init``,
``open``, ``open_many`` and the ``%%llmobs_sql`` magic: the right error class, the path in the
message, the file's bytes unchanged, no file created beside it, and DuckDB never asked to load
or install an extension (checked in a child process with a HOME of its own).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.magic import run_query
from llmobs_nb.store import CorruptStoreError, NotAStoreError, StoreError, schema

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 3, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real, closed store of 2,000 calls."""
    path = tmp_path_factory.mktemp("real") / "real.duckdb"
    demo.generate(2_000, days=1, seed=1, start=START, store=path)
    return path.read_bytes()


def _sqlite(path: Path, real: bytes) -> None:
    con = sqlite3.connect(path)
    con.execute("create table spans (trace_id text, model text)")
    con.execute("insert into spans values ('t1', 'gpt-4o')")
    con.commit()
    con.close()


def _random_bytes(path: Path, real: bytes) -> None:
    path.write_bytes(random.Random(7).randbytes(300_000))


def _empty(path: Path, real: bytes) -> None:
    path.write_bytes(b"")


def _users_duckdb(path: Path, real: bytes) -> None:
    con = duckdb.connect(str(path))
    con.execute("create table spans as select range as id, 'mine' as note from range(1000)")
    con.close()


def _truncated(path: Path, real: bytes) -> None:
    path.write_bytes(real[: len(real) // 2])


def _corrupted(path: Path, real: bytes) -> None:
    damaged = bytearray(real)
    start, end = int(len(real) * 0.4), int(len(real) * 0.6)
    damaged[start:end] = random.Random(11).randbytes(end - start)
    path.write_bytes(bytes(damaged))


# name: (make the file, the error class, words the message must hold)
FILES: dict[str, tuple[Callable[[Path, bytes], None], type[StoreError], str]] = {
    "sqlite": (_sqlite, NotAStoreError, "SQLite"),
    "random_bytes": (_random_bytes, NotAStoreError, "not a DuckDB database"),
    "empty_file": (_empty, NotAStoreError, "empty file"),
    "users_duckdb_with_spans": (_users_duckdb, NotAStoreError, "tables of its own (spans)"),
    "truncated_store": (_truncated, CorruptStoreError, "damaged"),
    "corrupted_store": (_corrupted, CorruptStoreError, "damaged"),
}


# Every table of a store (the rollups too: the damaged bytes may fall in any of them).
TABLES = tuple(t.name for t in schema.TABLES if t.name != "llm_calls")


def _read_everything(observer: llmobs_nb.Observer) -> None:
    # Every block of every table is read (and its checksum verified) by DuckDB.
    for table in TABLES:
        observer.sql(f"select * from {table}")


def _init(path: Path) -> None:
    observer = llmobs_nb.init(db=path, project="demo")
    try:
        _read_everything(observer)
    finally:
        observer.close()


def _open(path: Path) -> None:
    _read_everything(llmobs_nb.open(path))


def _open_many(path: Path) -> None:
    observer = llmobs_nb.open_many([path])
    try:
        _read_everything(observer)
    finally:
        observer.close()


def _magic(path: Path) -> None:
    for table in TABLES:
        run_query(str(path), f"select * from {table}")


SURFACES = {"init": _init, "open": _open, "open_many": _open_many, "magic": _magic}


@pytest.mark.parametrize("surface", sorted(SURFACES))
@pytest.mark.parametrize("kind", sorted(FILES))
def test_a_foreign_or_damaged_file_is_refused_and_left_as_it_was(
    tmp_path: Path, real_store: bytes, kind: str, surface: str
) -> None:
    make, error, words = FILES[kind]
    path = tmp_path / "given.duckdb"
    make(path, real_store)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(error) as raised:
        SURFACES[surface](path)
    message = str(raised.value)
    assert str(path) in message
    assert words in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.duckdb"]  # no WAL, no sidecar


def test_a_users_duckdb_file_gets_no_migrations_table(tmp_path: Path, real_store: bytes) -> None:
    path = tmp_path / "mine.duckdb"
    _users_duckdb(path, real_store)
    with pytest.raises(NotAStoreError, match=re.escape("llmobs_nb.init(db='new.duckdb')")):
        llmobs_nb.init(db=path, project="p")
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()] == [
            "spans"
        ]
    finally:
        con.close()


def test_an_empty_duckdb_database_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "blank.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(NotAStoreError, match="holds no llmobs_nb data"):
        llmobs_nb.open(path)
    observer = llmobs_nb.init(db=path, project="p")
    try:
        assert observer.calls().height == 0
    finally:
        observer.close()


_CHILD = """
import sys
import llmobs_nb
for how in ("init", "open"):
    try:
        llmobs_nb.init(db=sys.argv[1]) if how == "init" else llmobs_nb.open(sys.argv[1])
    except llmobs_nb.NotAStoreError as exc:
        print(how, "refused:", exc)
"""


def test_a_sqlite_file_never_reaches_duckdb_nor_the_network(tmp_path: Path) -> None:
    """DuckDB given a SQLite file would install and load sqlite_scanner (into ~/.duckdb)."""
    path = tmp_path / "app.db"
    _sqlite(path, b"")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert done.stdout.count("is a SQLite database") == 2, done.stdout + done.stderr
    assert list(home.iterdir()) == []  # no ~/.duckdb/extensions: nothing installed or loaded
