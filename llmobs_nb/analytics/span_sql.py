"""What sessions and agents questions share: the SQL that reads whole traces from ``spans``.

Each question about sessions, agents and tools is written once as DuckDB SQL (or a projection
of it plus polars over the rows that come back) and runs where the spans are: in the store's
DuckDB, or — for a frame — in an in-memory DuckDB over it (``source.open_spans``). This module
holds the pieces every such query uses, so no rule is spelled twice:

* which span is a model call (``store.schema.is_model_call``), an agent invocation (kind
  ``agent``, except ``create_agent``), a tool call (kind ``tool``), a failure
  (``errors.IS_ERROR``), and a step's name (an agent's ``agent_name``, a tool's ``tool_name``,
  else the span name): :func:`span_flags`;
* ``where=`` on single spans (sessions) or on whole traces (agents): :func:`span_where`,
  :func:`trace_where`;
* the cost of a group of model calls: :func:`cost`.

Values go in as parameters, in the order the text names them (:class:`Sql`). The SQL is
written once; what differs between DuckDB and ClickHouse is asked of the reader's dialect
(``Sql(reader.dialect)``: the plan layer's renderer, ``render_sql.SqlRenderer`` and
``clickhouse.render.ClickHouseRenderer``), so the same questions run in either engine.

Example:
    >>> q = Sql()
    >>> q.where((Condition("run", "==", "v2"),))
    'run = ?'
    >>> q.params
    ['v2']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from llmobs_nb.analytics.columns import LLM_CALLS_COLUMNS
from llmobs_nb.analytics.errors import IS_ERROR
from llmobs_nb.analytics.plan import Condition
from llmobs_nb.analytics.render_sql import SqlRenderer
from llmobs_nb.store.model_call import is_model_call

UTC_TIME = LLM_CALLS_COLUMNS["start_time"]
"""The polars type of every time these questions return: the store's (microseconds, UTC)."""
AGENT_KIND = "agent"
TOOL_KIND = "tool"
NOT_AN_INVOCATION = "create_agent"
"""An agent span of this operation makes an agent; it is not a step of a run."""
UNNAMED = "(unnamed)"

#: The spans columns :func:`span_flags` reads.
FLAG_COLUMNS = ("kind", "model", "operation", "status", "agent_name", "tool_name", "name")


class Sql:
    """SQL text written in order, with its parameters in the same order, in the dialect of
    ``dialect`` (DuckDB's by default; a reader's: :attr:`SpanReader.dialect
    <llmobs_nb.analytics.source.SpanReader>`): what differs between engines — placeholders,
    epoch microseconds, ``arg_min``, ordered text joins, a list parameter — is asked of it.

    Example:
        >>> q = Sql()
        >>> f"kind = {q.value('tool')}", q.params
        ('kind = ?', ['tool'])
        >>> q.dialect.epoch_us("start_time")
        'epoch_us(start_time)'
    """

    def __init__(self, dialect: SqlRenderer | None = None) -> None:
        self.params: list[Any] = []
        self.dialect = dialect or SqlRenderer()

    def value(self, value: Any) -> str:
        """The placeholder standing for ``value`` (DuckDB: ``?``)."""
        return self.dialect.param(value, self.params)

    def where(self, conditions: Sequence[Condition]) -> str:
        """All ``conditions`` (``TRUE`` when there are none)."""
        clauses = [self.dialect.condition(c, self.params) for c in conditions]
        return " AND ".join(clauses) or "TRUE"

    def among(self, column: str, values: Sequence[str]) -> str:
        """``column`` is one of ``values`` (one list parameter)."""
        return self.dialect.among(column, values, self.params)


def span_flags(q: Sql) -> str:
    """Select-list items over the ``spans`` columns :data:`FLAG_COLUMNS`: ``is_model``,
    ``is_agent``, ``is_tool``, ``failed`` (never NULL) and ``label`` (an agent's or a tool's
    name: ``agent_name`` / ``tool_name``, else the span name).

    Example:
        >>> span_flags(Sql()).count(" AS ")
        5
    """
    # Written left to right: each ? is appended as its text is written.
    flag = q.dialect.boolean
    model = f"{flag(f'coalesce(({is_model_call.sql()}), false)')} AS is_model"
    agent = flag(
        f"coalesce(kind = {q.value(AGENT_KIND)} AND operation IS DISTINCT FROM "
        f"{q.value(NOT_AN_INVOCATION)}, false)"
    )
    agent += " AS is_agent"
    tool = f"{flag(f'coalesce(kind = {q.value(TOOL_KIND)}, false)')} AS is_tool"
    failed = f"{flag(f'coalesce({q.where((IS_ERROR,))}, false)')} AS failed"
    named = (
        f"CASE kind WHEN {q.value(AGENT_KIND)} THEN agent_name "
        f"WHEN {q.value(TOOL_KIND)} THEN tool_name END"
    )
    label = f"coalesce({named}, name, {q.value(UNNAMED)}) AS label"
    return ", ".join((model, agent, tool, failed, label))


def span_where(q: Sql, conditions: Sequence[Condition]) -> str:
    """The spans that pass every condition (``TRUE`` when there are none)."""
    return q.where(conditions)


def trace_where(q: Sql, conditions: Sequence[Condition]) -> str:
    """The spans of every trace one of whose spans passes every condition.

    Example:
        >>> trace_where(Sql(), ())
        'TRUE'
    """
    if not conditions:
        return "TRUE"
    return f"trace_id IN (SELECT trace_id FROM spans WHERE {q.where(conditions)})"


def cost(calls: str, priced: str, total: str) -> pl.Expr:
    """The cost of a group of model calls, from its columns ``calls`` (how many), ``priced``
    (how many have a price) and ``total`` (their cost): 0.0 when there is no model call, NULL
    when none has a price (unknown, never a made-up zero), else the priced calls' sum.

    Example:
        >>> frame = pl.DataFrame({"n": [0, 2, 2], "p": [0, 0, 1], "usd": [None, None, 0.5]})
        >>> frame.select(cost("n", "p", "usd"))["cost_usd"].to_list()
        [0.0, None, 0.5]
    """
    c, p = pl.col(calls), pl.col(priced)
    known = pl.when(p > 0).then(pl.col(total).cast(pl.Float64))
    return pl.when(c == 0).then(pl.lit(0.0)).otherwise(known).alias("cost_usd")


def typed(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``frame``'s columns in ``schema``'s order and types (an empty answer keeps them too).

    Example:
        >>> typed(pl.DataFrame(), {"calls": pl.Int64()}).schema
        Schema([('calls', Int64)])
    """
    if frame.height == 0:
        return pl.DataFrame(schema=dict(schema))
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
