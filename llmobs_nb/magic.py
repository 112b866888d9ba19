"""IPython extension: ``%load_ext llmobs_nb`` adds the ``%%llmobs_sql`` cell magic.

The cell is one read-only SQL query over the store of the most recently started observer (or
the DuckDB file named on the magic line) and its result is a polars DataFrame::

    %%llmobs_sql
    select model, count(*) as calls, sum(cost_usd) as cost from llm_calls group by 1

    %%llmobs_sql experiments.duckdb
    select * from scores limit 5

Statements that write (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, COPY, ATTACH, …) are
refused: the store is written by the capture layer only.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import polars as pl

# The first keyword of each statement must be one of these (WITH … SELECT, EXPLAIN, etc.).
_READ_KEYWORDS = {
    "select",
    "with",
    "from",
    "values",
    "explain",
    "describe",
    "show",
    "summarize",
    "table",
    "pivot",
    "unpivot",
}
# Words that write or reach outside the store, refused anywhere in the cell.
# (Function names such as replace() are fine: only statement words are listed.)
_WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|create|drop|alter|copy|attach|detach|install|truncate|"
    r"merge|vacuum|checkpoint|export|import)\b",
    re.IGNORECASE,
)
_STRINGS_AND_COMMENTS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL
)


def check_read_only(query: str) -> str:
    """Return ``query`` stripped if it is one read-only statement; raise ValueError otherwise.

    Example:
        >>> check_read_only("select 1")
        'select 1'
    """
    code = _STRINGS_AND_COMMENTS.sub(" ", query)
    statements = [s for s in code.split(";") if s.strip()]
    if not statements:
        raise ValueError(
            "%%llmobs_sql: the cell holds no SQL; write a query such as: "
            "select * from llm_calls limit 10"
        )
    if len(statements) > 1:
        raise ValueError("%%llmobs_sql runs one query per cell; split the statements into cells")
    first = statements[0].split()[0].lower().lstrip("(")
    found = _WRITE_WORDS.search(statements[0])
    if first not in _READ_KEYWORDS or found:
        word = found.group(1).upper() if found else first.upper()
        raise PermissionError(
            f"%%llmobs_sql is read-only and refused {word!r}: the store is written by the capture "
            "layer (obs.observe, obs.span, obs.score). Query it with SELECT; to change data, "
            "work on a copy: duckdb.connect('copy.duckdb')"
        )
    return query.strip().rstrip(";").strip()


def _current_observer() -> Any:
    from llmobs_nb.observer import live_observers

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
        from llmobs_nb.observer import observer_for_path
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
    import llmobs_nb.view  # noqa: F401  (registers the offline renderer and theme)
