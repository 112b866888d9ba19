"""%load_ext llmobs_nb gives %%llmobs_sql: a read-only query over the store, as polars."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from IPython.core.interactiveshell import InteractiveShell

import llmobs_nb


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "llmobs_nb.magic")
    return ip


def test_the_extension_loads_by_the_package_name(shell: InteractiveShell):
    shell.run_line_magic("load_ext", "llmobs_nb")  # needs the lead's re-export in __init__
    assert "llmobs_sql" in shell.magics_manager.magics["cell"]


def test_a_query_over_the_newest_observer_returns_a_dataframe(
    shell: InteractiveShell, live_obs: llmobs_nb.Observer
):
    found = shell.run_cell_magic(
        "llmobs_sql",
        "",
        "select model, count(*) as n from llm_calls where model = 'o''brien' group by 1",
    )
    assert isinstance(found, pl.DataFrame)
    assert found.to_dicts() == [{"model": "o'brien", "n": 3}]


def test_a_store_file_can_be_named_on_the_magic_line(shell: InteractiveShell, store_file: Path):
    found = shell.run_cell_magic(
        "llmobs_sql", str(store_file), "select count(*) as n from llm_calls;"
    )
    assert found["n"][0] == 5_000


@pytest.mark.parametrize(
    "statement",
    [
        "insert into scores (name, value) values ('x', 1)",
        "update spans set model = 'x'",
        "delete from spans",
        "create table t as select 1",
        "drop table spans",
        "alter table spans add column x int",
        "copy spans to 'out.csv'",
        "attach 'other.duckdb'",
        "select 1; drop table spans",
        "with x as (select 1) insert into scores select * from x",
    ],
)
def test_statements_that_write_are_refused(
    shell: InteractiveShell, live_obs: llmobs_nb.Observer, statement: str
):
    before = live_obs.sql("select count(*) as n from spans")["n"][0]
    with pytest.raises((PermissionError, ValueError), match=r"read-only|one query"):
        shell.run_cell_magic("llmobs_sql", "", statement)
    assert live_obs.sql("select count(*) as n from spans")["n"][0] == before


def test_write_words_inside_strings_and_functions_are_fine(
    shell: InteractiveShell, live_obs: llmobs_nb.Observer
):
    found = shell.run_cell_magic(
        "llmobs_sql", "", "select replace('drop table', 'drop', 'keep') as said -- delete"
    )
    assert found["said"][0] == "keep table"


def test_without_an_observer_the_magic_says_what_to_do(shell: InteractiveShell):
    if llmobs_nb.registry.live_observers():
        pytest.skip("another test's observer is still open in this process")
    with pytest.raises(RuntimeError, match=r"llmobs_nb\.init"):
        shell.run_cell_magic("llmobs_sql", "", "select 1")
