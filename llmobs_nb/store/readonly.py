"""Read-only SQL, decided by DuckDB's own parser and enforced by the engine.

A query is read-only when DuckDB's parser (``duckdb.extract_statements``) finds exactly one
statement and it is a SELECT (which includes ``FROM t``, ``TABLE t``, ``VALUES``, ``DESCRIBE``,
``SHOW``, ``SUMMARIZE``, ``PIVOT ... IN (...)`` and ``UNPIVOT``) or an ``EXPLAIN`` of one. The
parsed tree (``json_serialize_sql``) must hold only read query nodes: a common table expression
that deletes (``WITH x AS (DELETE ... RETURNING *) SELECT ...``) parses as a SELECT but is
refused, and the SQL given to the ``query()`` table function is checked the same way.

Then the engine enforces it: :func:`run_read_only` runs the statement inside a transaction that
is always rolled back, on a connection from :func:`llmobs_nb.store.connect.connect`, whose
database instance cannot read or write files outside the store, attach databases, or install or
load extensions, and whose configuration is locked.

Example:
    >>> check_read_only("select 1 -- ; delete from spans")
    'select 1 -- ; delete from spans'
    >>> check_read_only("select $q$'$q$; delete from spans")
    Traceback (most recent call last):
    ...
    PermissionError: read-only: one statement per query, and this SQL holds 2 (SELECT, DELETE)...
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import duckdb
import polars as pl

from llmobs_nb.store.connect import MEMORY, connect

Params = Sequence[Any] | dict[str, Any] | None
T = TypeVar("T")

# Query nodes of the parsed tree that only read; any other (DELETE_QUERY_NODE, ...) writes.
_READ_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_HINT = (
    "Query the store with one SELECT (tables spans, scores, runs, prices; view llm_calls). "
    "The store is written by the capture layer (obs.observe, obs.span, obs.score); to change "
    "data, export it first (llmobs_nb.export.parquet) and work on the copy."
)


_parser_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def _parse(ask: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Ask the parser connection (an empty in-memory database, opened once: 30 ms)."""
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = connect(MEMORY)
        return ask(_parser)


def _close_before_fork() -> None:
    # A DuckDB instance inherited by a forked child crashes it at exit: close ours first (it
    # is opened again on the next new query). duckdb.extract_statements would keep DuckDB's
    # default connection for the process, hence the parser connection's own method.
    global _parser
    _parser_lock.acquire()
    if _parser is not None:
        _parser.close()
        _parser = None


def _after_fork_in_parent() -> None:
    _parser_lock.release()


def _after_fork_in_child() -> None:
    global _parser_lock
    _parser_lock = threading.Lock()


os.register_at_fork(
    before=_close_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


def _refuse(what: str) -> PermissionError:
    return PermissionError(f"read-only: {what}. {_HINT}")


@lru_cache(maxsize=1024)
def check_read_only(sql: str) -> str:
    """Return ``sql`` if DuckDB's parser says it is one read-only statement; else raise.

    Raises ``PermissionError`` naming the statement type for anything that is not a read,
    ``ValueError`` for SQL with no statement, and DuckDB's ``ParserException`` for bad syntax.

    Example:
        >>> check_read_only("from llm_calls limit 3")
        'from llm_calls limit 3'
    """
    statements = _parse(lambda con: con.extract_statements(sql))
    if not statements:
        raise ValueError("the SQL holds no statement; write a query such as: select 1")
    if len(statements) > 1:
        kinds = ", ".join(s.type.name for s in statements)
        raise _refuse(f"one statement per query, and this SQL holds {len(statements)} ({kinds})")
    statement = statements[0]
    kind = statement.type
    if kind == duckdb.StatementType.SELECT:
        _check_tree(statement.query)
    elif kind == duckdb.StatementType.EXPLAIN:
        inner = _explained(statement.query)
        inner_kind = _parse(lambda con: con.extract_statements(inner))[0].type
        if inner_kind != duckdb.StatementType.SELECT:
            raise _refuse("EXPLAIN is allowed of a SELECT only")
        check_read_only(inner)
    elif kind == duckdb.StatementType.MULTI:
        raise _refuse(
            "this statement runs several (a PIVOT without an IN list creates types first); "
            "name the values: PIVOT t ON col IN ('a', 'b') USING count(*)"
        )
    else:
        raise _refuse(f"refused a {kind.name} statement; only SELECT (and EXPLAIN) can run")
    return sql


def _check_tree(sql: str) -> None:
    row = _parse(lambda con: con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone())
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise _refuse(f"DuckDB cannot show this SELECT's parts ({tree.get('error_message')})")
    for node in _nodes(tree):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_NODES:
            raise _refuse(f"this SELECT holds a {kind.removesuffix('_QUERY_NODE')} statement")
        if kind == "TABLE_FUNCTION":
            _check_query_function(node.get("function") or {})


def _check_query_function(function: dict[str, Any]) -> None:
    # query('...') runs SQL given as text: check that text as strictly as the outer query.
    if str(function.get("function_name", "")).lower() != "query":
        return
    arguments = function.get("arguments") or []
    literal = (arguments[0].get("expression") or {}).get("literal") if arguments else None
    if not literal or literal.get("kind") != "STRING":
        raise _refuse("query() is allowed with a constant SQL text only")
    check_read_only(literal["text"])


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _explained(sql: str) -> str:
    """The statement after ``EXPLAIN [ANALYZE] [(options)]``, found with DuckDB's tokenizer."""
    tokens = duckdb.tokenize(sql)
    words = [
        (start, sql[start : tokens[i + 1][0] if i + 1 < len(tokens) else len(sql)].strip())
        for i, (start, kind) in enumerate(tokens)
        if kind != duckdb.token_type.comment
    ]
    depth, i = 0, 1  # words[0] is EXPLAIN
    while i < len(words):
        text = words[i][1].lower()
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif depth == 0 and text != "analyze":
            return sql[words[i][0] :]
        i += 1
    raise _refuse("EXPLAIN without a statement")


def run_read_only(con: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> pl.DataFrame:
    """Check ``sql`` and run it on ``con`` in a transaction that is rolled back afterwards.

    ``con`` must be a connection (or cursor) of its own, from
    :func:`llmobs_nb.store.connect.connect` or a cursor of one: whatever the statement did to
    the database is undone, and the engine settings keep it away from other files.

    Example:
        >>> run_read_only(connect(":memory:"), "select 42 as answer")["answer"][0]
        42
    """
    check_read_only(sql)
    con.begin()
    try:
        found = con.sql(sql, params=params or None).pl()
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.rollback()
        raise
    con.rollback()
    return found
