"""IPython extension: ``%load_ext llmobs_nb`` adds the ``%%llmobs_sql`` cell magic.

The cell is one read-only SQL query over the store of the most recently started observer (or
the DuckDB file named on the magic line) and its result is a polars DataFrame::

    %%llmobs_sql
    select model, count(*) as calls, sum(cost_usd) as cost from llm_calls group by 1

    %%llmobs_sql experiments.duckdb
    select * from scores limit 5

Only one read-only statement runs: DuckDB's own parser decides what the cell holds (a SELECT,
or EXPLAIN of one; see :mod:`llmobs_nb.store.readonly`), and the engine enforces it: the query
runs on a connection of its own in a transaction that is rolled back, and the database cannot
read or write files outside the store, attach databases or load extensions. Anything else
(INSERT, DELETE, COPY, ATTACH, SET, a second statement hidden in a string, ...) raises
``PermissionError`` naming the statement type.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import polars as pl

from llmobs_nb.registry import live_observers, observer_for_path
from llmobs_nb.store.readonly import check_read_only as _check


def check_read_only(query: str) -> str:
    """Return ``query`` stripped if DuckDB's parser finds one read-only statement; else raise.

    ``PermissionError`` names the refused statement type; ``ValueError`` means an empty cell.

    Example:
        >>> check_read_only("select 1;")
        'select 1'
    """
    text = query.strip()
    if not text:
        raise ValueError(
            "%%llmobs_sql: the cell holds no SQL; write a query such as: "
            "select * from llm_calls limit 10"
        )
    try:
        _check(text)
    except PermissionError as exc:
        raise PermissionError(f"%%llmobs_sql is {exc}") from None
    except ValueError as exc:
        raise ValueError(f"%%llmobs_sql: {exc}") from None
    return text.rstrip(";").strip()


def _current_observer() -> Any:
    live = [o for o in live_observers() if not o.closed]
    if not live:
        raise RuntimeError(
            "%%llmobs_sql: no observer in this kernel; start one with "
            "obs = llmobs_nb.init(db=...) or name a file: %%llmobs_sql path/to/store.duckdb"
        )
    return live[-1]


def run_query(line: str, cell: str) -> pl.DataFrame:
    """What the ``%%llmobs_sql`` magic does: check, pick the store, run, return a DataFrame.

    Example:
        >>> run_query("", "select count(*) as n from llm_calls")   # doctest: +SKIP
    """
    query = check_read_only(cell)
    args = shlex.split(line)
    if len(args) > 1:
        raise ValueError(f"%%llmobs_sql takes at most one argument, a store path; got {args}")
    if args:
        from llmobs_nb.store import Store

        path = str(Path(args[0]).expanduser().resolve())
        if not Path(path).exists():
            raise FileNotFoundError(f"%%llmobs_sql: no store at {path}")
        live = observer_for_path(path)
        if live is not None:
            return live.sql(query)
        store = Store(path, read_only=True)
        return store.query(query)
    return _current_observer().sql(query)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%llmobs_sql`` on ``ipython`` (called by ``%load_ext llmobs_nb``)."""

    def llmobs_sql(line: str, cell: str) -> pl.DataFrame:
        return run_query(line, cell)

    llmobs_sql.__doc__ = __doc__
    ipython.register_magic_function(llmobs_sql, magic_kind="cell", magic_name="llmobs_sql")
