"""Hostile SQL against every read-only surface: nothing changes, nothing is written or read.

Surfaces: the ``%%llmobs_sql`` magic (``run_query`` and a real IPython shell), ``obs.sql`` of a
capturing observer, ``llmobs_nb.open`` in the writing process and in another process, the magic
on a store path, and ``open_many``. After every statement: the live store's content (rows and
catalog) and the closed files' bytes are unchanged, the target file of the statement does not
exist, the outside directory and DuckDB's extension folder are as before, and the answer holds
no text of the outside files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.magic import run_query

ROOT = Path(__file__).resolve().parents[2]
SECRET = "TOP-SECRET-7f3a9c"
START = datetime(2025, 3, 3, tzinfo=UTC)
# A Python variable DuckDB could read by name (a "replacement scan") if external access were on.
secret_frame = pl.DataFrame({"secret": [SECRET]})

# (id, SQL, expectation): "parser" = refused by DuckDB's parser as not a read (PermissionError),
# "engine" = parsed as a SELECT but the engine refuses it (any error), "ok" = harmless read,
# "any" = either way (a checkpoint moves the WAL into the file; the content stays the same).
# {csv} {txt} {parquet} {json}: outside files holding SECRET; {dir}: their folder;
# {target}: a path nothing may create; {other}: another DuckDB file.
CORPUS: list[tuple[str, str, str]] = [
    ("dollar_quote_hides_delete", "select $q$'$q$; delete from spans", "parser"),
    ("dollar_tag_hides_drop", "select $t$ ; $t$ as x; drop table spans", "parser"),
    ("block_comment_hides_delete", "select 1 /* ; */ ; delete from spans", "parser"),
    ("line_comment_then_delete", "select 1 -- note\n; delete from spans", "parser"),
    ("leading_comment_delete", "/* select */ delete from spans", "parser"),
    ("quoted_identifier_is_fine", 'select 1 as "; delete from spans"', "ok"),
    ("two_selects", "select 1; select 2", "parser"),
    ("cte_delete", "with x as (delete from spans returning *) select count(*) from x", "parser"),
    (
        "cte_insert",
        "with x as (insert into scores (name, value) values ('x', 1) returning *) select * from x",
        "parser",
    ),
    ("cte_update", "with x as (update spans set model = 'x' returning *) select 1", "parser"),
    (
        "query_function_delete",
        "select * from query('with x as (delete from spans returning *) select * from x')",
        "parser",
    ),
    ("query_function_read_csv", "from query('select * from read_csv(''{csv}'')')", "engine"),
    ("query_table_is_fine", "select count(*) as n from query_table('spans')", "ok"),
    ("copy_to_file", "copy spans to '{target}'", "parser"),
    ("copy_query_to_parquet", "copy (select * from spans) to '{target}' (format csv)", "parser"),
    ("copy_from_file", "copy spans from '{csv}'", "parser"),
    ("attach_file", "attach '{other}' as other", "parser"),
    ("attach_memory", "attach ':memory:' as scratch", "parser"),
    ("detach", "detach database if exists other", "parser"),
    ("install_extension", "install httpfs", "parser"),
    ("force_install", "force install sqlite_scanner", "parser"),
    ("load_extension", "load httpfs", "parser"),
    ("set_external_access", "set enable_external_access = true", "parser"),
    ("set_unlock", "set lock_configuration = false", "parser"),
    ("reset_setting", "reset enable_external_access", "parser"),
    ("set_variable", "set variable x = 1", "parser"),
    ("use_database", "use memory", "parser"),
    ("pragma", "pragma disable_checkpoint_on_shutdown", "parser"),
    ("call_checkpoint", "call checkpoint()", "parser"),
    ("checkpoint", "checkpoint", "parser"),
    ("force_checkpoint_function", "select * from force_checkpoint()", "engine"),
    ("checkpoint_function", "select * from checkpoint()", "any"),
    ("python_variable_scan", "select * from secret_frame", "engine"),
    ("export_database", "export database '{target}'", "parser"),
    ("import_database", "import database '{dir}'", "parser"),
    ("read_csv", "select * from read_csv('{csv}')", "engine"),
    ("read_csv_auto", "select * from read_csv_auto('{csv}')", "engine"),
    ("read_text", "select * from read_text('{txt}')", "engine"),
    ("read_blob", "select * from read_blob('{txt}')", "engine"),
    ("read_parquet", "select * from read_parquet('{parquet}')", "engine"),
    ("read_json", "select * from read_json('{json}')", "engine"),
    ("read_json_objects", "select * from read_json_objects('{json}')", "engine"),
    ("sniff_csv", "select * from sniff_csv('{csv}')", "engine"),
    ("parquet_metadata", "select * from parquet_metadata('{parquet}')", "engine"),
    ("glob", "select * from glob('{dir}/*')", "engine"),
    ("glob_root", "select * from glob('/root/*')", "engine"),
    ("replacement_scan_path", "select * from '{csv}'", "engine"),
    ("read_in_subquery", "select (select count(*) from read_text('{txt}')) as n", "engine"),
    ("create_temp_table", "create temp table t as select * from spans", "parser"),
    ("create_macro", "create macro m(a) as a", "parser"),
    ("create_temp_macro", "create temp macro m(a) as (select 1)", "parser"),
    ("create_view", "create view v as select 1", "parser"),
    ("create_sequence", "create sequence s", "parser"),
    ("create_secret", "create secret (type s3, key_id 'k', secret 'x')", "parser"),
    ("nextval", "select nextval('s')", "engine"),
    ("delete", "delete from spans", "parser"),
    ("update", "update spans set model = 'x'", "parser"),
    ("insert", "insert into scores (name, value) values ('x', 1)", "parser"),
    ("drop_table", "drop table spans", "parser"),
    ("drop_view", "drop view llm_calls", "parser"),
    ("alter_table", "alter table spans add column x int", "parser"),
    ("truncate", "truncate spans", "parser"),
    ("merge_into", "merge into scores using scores s on true when matched then delete", "parser"),
    ("begin_transaction", "begin transaction", "parser"),
    ("vacuum", "vacuum", "parser"),
    ("prepare", "prepare p as delete from spans", "parser"),
    ("explain_analyze_delete", "explain analyze delete from spans", "parser"),
    ("explain_select_is_fine", "explain select count(*) from spans", "ok"),
    ("pivot_creates_types", "pivot spans on model using count(*)", "parser"),
    ("describe_is_fine", "describe spans", "ok"),
    ("summarize_is_fine", "summarize select model from spans", "ok"),
    ("huge_cross_join_is_fine", "select count(*) as n from range(2000) a, range(2000) b", "ok"),
]
IDS = [case[0] for case in CORPUS]


@dataclass
class World:
    """Everything a case needs: the live observer, closed store files and the outside files."""

    live: llmobs_nb.Observer
    closed: Path
    copies: list[Path]
    outside: Path
    other: Path
    home_duckdb: Path
    many: llmobs_nb.Observer  # one open_many for all cases: no case may change it for the next

    def sql(self, case_id: str, template: str) -> str:
        return template.format(
            csv=self.outside / "secret.csv",
            txt=self.outside / "secret.txt",
            parquet=self.outside / "secret.parquet",
            json=self.outside / "secret.json",
            dir=self.outside,
            target=self.outside / f"target-{case_id}",
            other=self.other,
        )


def _write_outside(folder: Path) -> None:
    folder.mkdir()
    (folder / "secret.txt").write_text(f"{SECRET}\n")
    (folder / "secret.csv").write_text(f"secret\n{SECRET}\n")
    (folder / "secret.json").write_text(json.dumps({"secret": SECRET}))
    pq.write_table(pa.table({"secret": [SECRET]}), folder / "secret.parquet")


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def live_content(obs: llmobs_nb.Observer) -> str:
    """A hash of every row and every catalog object of the live store, read by the writer."""
    digest = hashlib.sha256()
    with obs.store._connection() as con:
        for table in ("spans", "scores", "runs", "prices", "_migrations"):
            # Row count and an order-free sum of every row's hash, computed by DuckDB.
            rows = con.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchall()
            digest.update(repr(rows).encode())
        for catalog in (
            "SELECT database_name, schema_name, table_name FROM duckdb_tables()",
            "SELECT database_name, view_name FROM duckdb_views() WHERE NOT internal",
            "SELECT database_name FROM duckdb_databases()",
            "SELECT sequence_name FROM duckdb_sequences()",
            "SELECT current_setting('enable_external_access'), "
            "current_setting('lock_configuration'), current_setting('TimeZone'), "
            "current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')",
        ):
            digest.update(repr(sorted(con.execute(catalog).fetchall())).encode())
    return digest.hexdigest()


def _listing(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("hostile")
    _write_outside(base / "outside")
    closed = base / "closed.duckdb"
    demo.generate(300, days=1, seed=1, start=START, incidents=False, store=closed)
    copies = [base / "a.duckdb", base / "b.duckdb"]
    for copy in copies:
        shutil.copyfile(closed, copy)
    other = base / "other.duckdb"
    shutil.copyfile(closed, other)
    live = llmobs_nb.init(db=base / "live.duckdb", project="hostile")
    demo.generate(300, days=1, seed=2, start=START, incidents=False, store=live)
    with live.run("hostile-run", params={"k": 1}):
        pass
    live.flush()
    many = llmobs_nb.open_many(copies)
    yield World(live, closed, copies, base / "outside", other, Path.home() / ".duckdb", many)
    many.close()
    live.close()


@pytest.fixture(scope="module")
def shell(world: World) -> Any:
    interactive = pytest.importorskip("IPython.core.interactiveshell")
    ip = interactive.InteractiveShell.instance()
    ip.run_line_magic("load_ext", "llmobs_nb")
    return ip


def _answer_text(found: Any) -> str:
    if isinstance(found, pl.DataFrame):
        return repr(found.to_dicts())
    return repr(found)


def _check_outcome(expect: str, outcome: BaseException | Any) -> None:
    if expect == "parser":
        assert isinstance(outcome, PermissionError), f"not refused by the parser: {outcome!r}"
        assert "read-only" in str(outcome)
    elif expect == "engine":
        assert isinstance(outcome, BaseException), f"the engine ran it: {outcome!r}"
    elif expect == "ok":
        assert isinstance(outcome, pl.DataFrame), f"a harmless read failed: {outcome!r}"


def _run(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # the outcome is checked by the caller
        return exc


def _check_nothing_happened(world: World, case_id: str, answer: str, before: dict) -> None:
    assert SECRET not in answer
    assert not (world.outside / f"target-{case_id}").exists()
    assert _listing(world.outside) == before["outside"]
    assert _listing(world.home_duckdb) == before["home"]
    assert live_content(world.live) == before["live"]
    for path in (world.closed, *world.copies):
        assert file_hash(path) == before["files"][path]


def _before(world: World) -> dict:
    return {
        "outside": _listing(world.outside),
        "home": _listing(world.home_duckdb),
        "live": live_content(world.live),
        "files": {p: file_hash(p) for p in (world.closed, *world.copies)},
    }


def _surface(world: World, shell: Any, name: str) -> Callable[[str], Any]:
    live_path = str(world.live.db_path)
    surfaces: dict[str, Callable[[str], Any]] = {
        "magic_run_query": lambda sql: run_query("", sql),
        "magic_ipython": lambda sql: shell.run_cell_magic("llmobs_sql", live_path, sql),
        "magic_on_a_file": lambda sql: run_query(str(world.closed), sql),
        "obs_sql": lambda sql: world.live.sql(sql),
        "open_in_the_writing_process": lambda sql: llmobs_nb.open(live_path).sql(sql),
        "open_many": lambda sql: world.many.sql(sql),
    }
    return surfaces[name]


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
@pytest.mark.parametrize(
    "surface",
    [
        "magic_run_query",
        "magic_ipython",
        "magic_on_a_file",
        "obs_sql",
        "open_in_the_writing_process",
        "open_many",
    ],
)
def test_hostile_sql_changes_writes_and_reads_nothing(
    world: World, shell: Any, surface: str, case: tuple[str, str, str]
) -> None:
    case_id, template, expect = case
    run = _surface(world, shell, surface)
    # The magic without a path reads the newest live observer: make sure it is ours.
    assert llmobs_nb.registry.live_observers()[-1] is world.live
    before = _before(world)
    outcome = _run(lambda: run(world.sql(case_id, template)))
    _check_nothing_happened(world, case_id, _answer_text(outcome), before)
    if isinstance(outcome, pl.DataFrame):  # no listing of the outside folder either
        assert "secret.csv" not in _answer_text(outcome)
    _check_outcome(expect, outcome)


_CHILD = """
import hashlib, json, sys
from pathlib import Path
import llmobs_nb
path, cases = sys.argv[1], json.loads(sys.argv[2])
observer = llmobs_nb.open(path)
out = {}
for case_id, sql in cases:
    try:
        found = observer.sql(sql)
        result = {"kind": "answer", "text": repr(found.to_dicts())}
    except Exception as exc:
        result = {"kind": type(exc).__name__, "permission": isinstance(exc, PermissionError),
                  "text": str(exc)}
    result["hash"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    out[case_id] = result
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def child_outcomes(world: World) -> dict[str, dict]:
    """Every case run by ``llmobs_nb.open(path)`` in one child process (HOME of its own)."""
    cases = [(case_id, world.sql(case_id, template)) for case_id, template, _ in CORPUS]
    home = world.outside.parent / "child-home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(world.closed), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=True,
    )
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    outcomes["__home__"] = {"listing": _listing(home)}
    return outcomes


@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_hostile_sql_through_open_in_another_process(
    world: World, child_outcomes: dict[str, dict], case: tuple[str, str, str]
) -> None:
    case_id, _, expect = case
    found = child_outcomes[case_id]
    if expect == "parser":
        assert found["permission"], found
    elif expect == "engine":
        assert found["kind"] != "answer", found
    elif expect == "ok":
        assert found["kind"] == "answer", found
    assert SECRET not in found["text"]
    assert found["hash"] == file_hash(world.closed)
    assert not (world.outside / f"target-{case_id}").exists()
    assert child_outcomes["__home__"]["listing"] == []  # nothing installed, nothing downloaded


SAFE = {
    "enable_external_access": "false",
    "lock_configuration": "true",
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
    "TimeZone": "UTC",
    "enable_progress_bar": "false",
}


def _view_source(path: Path) -> contextlib.AbstractContextManager[Any]:
    from llmobs_nb.view.data_source import DataSource

    @contextlib.contextmanager
    def opened() -> Iterator[Any]:
        source = DataSource(path)
        with source.session():
            yield source._con

    return opened()


def _analytics_source(path: Path) -> contextlib.AbstractContextManager[Any]:
    from llmobs_nb.analytics.source import open_source

    @contextlib.contextmanager
    def opened() -> Iterator[Any]:
        with open_source(path) as engine:
            # The engine wraps its connection: ask through the engine's own runner.
            yield engine._run

    return opened()


def test_every_connection_has_the_locked_safe_settings(world: World) -> None:
    from llmobs_nb.store import Store

    reader = Store(world.closed, read_only=True)
    openers = {
        "writer": world.live.store._connection,
        "writer_cursor": world.live.store._reading,
        "reader": reader._reading,
        "open_many": world.many.store._reading,
        "view_source": lambda: _view_source(world.closed),
        "analytics_source": lambda: _analytics_source(world.copies[0]),
    }
    names = ", ".join(f"'{name}'" for name in SAFE)
    ask = f"SELECT name, value FROM duckdb_settings() WHERE name IN ({names})"
    for name, opener in openers.items():
        with opener() as con:
            if callable(con):
                found = dict(con(ask, []).iter_rows())
            else:
                found = dict(con.execute(ask).fetchall())
        assert found == SAFE, name


def test_reads_still_work_on_every_surface(world: World, shell: Any) -> None:
    expected = world.live.sql("select count(*) as n from spans")["n"][0]
    assert expected > 0
    assert run_query("", "select count(*) as n from spans")["n"][0] == expected
    view = llmobs_nb.open(world.live.db_path)
    assert view.sql("select count(*) as n from spans where ? = 1", [1])["n"][0] == expected
    both = world.many.sql("select count(*) as n from spans")["n"][0]
    assert both == 2 * llmobs_nb.open(world.closed).sql("select count(*) as n from spans")["n"][0]


def test_threads_opening_one_file_at_once_all_get_the_safe_settings(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from llmobs_nb.store import Store

    reader = Store(world.closed, read_only=True)
    ask = "SELECT current_setting('enable_external_access') AS ext, count(*) AS n FROM spans"

    def one(_: int) -> tuple[bool, int]:
        row = reader.query(ask).row(0)
        return row[0], row[1]

    with ThreadPoolExecutor(8) as pool:
        found = set(pool.map(one, range(64)))
    assert len(found) == 1 and next(iter(found))[0] is False
