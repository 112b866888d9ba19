"""Agents and tools across traces: which tools each agent calls and what they cost, the paths
runs take, tool loops, and the agent → tool / model graph.

An agent step is a span of kind ``agent`` (``invoke_agent``; ``create_agent`` spans make an
agent and are not steps), named by its ``agent_name``; a tool step is a span of kind ``tool``,
named by its ``tool_name``; a model call is :data:`~llmobs_nb.store.schema.is_model_call`.
Workflows (``invoke_workflow``) are kind ``chain``: not steps, but walked through.

**Who owns a span** — one rule, :func:`nearest_agent`: a span belongs to its nearest ancestor
agent span (walking ``parent_span_id`` within its trace), so a model call inside a sub-agent
counts for the sub-agent only, and third-party spans whose ``agent_name`` is NULL are
attributed through their parents. A span with no agent above it falls back to its own
``agent_name`` column (what ``obs.agent`` labels it with), else it has no agent. An agent span's
owner is the agent that invoked it (never itself).

**How it runs.** Where the spans are, in one SQL text for DuckDB and ClickHouse
(``Sql(reader.dialect)`` over ``source.open_spans``: the store's DuckDB, an in-memory DuckDB
over a frame, or ClickHouse). :mod:`~llmobs_nb.analytics.ownership` walks up the parents in a
recursive query — each span named by a 128-bit key of its trace and span ids, so the walk
joins integers; a walk visits no ancestor twice (a cycle of parents, in broken data, ends
where it closes) and follows at most :data:`MAX_DEPTH` links — and gives every agent, tool and
model-call span its owner and the model calls inside it. :func:`tool_usage` and
:func:`agent_graph` count those spans in the engine by owner, kind and name (one ``GROUP BY``;
for ``by="agent"`` also each agent name's latency percentiles) and bring only those rows to
Python, which adds them up into the tables. Loops are found in the engine by one SQL rule
(:func:`find_loops`); :func:`tool_loops` then reads the tool and model-call spans of the
looping traces only, each with its owner and, for a model call, the tool spans above it, and
costs each loop in polars. :func:`agent_paths` reads one row per trace (its path and figures).
Measured on a shared 2-core machine, interleaved with the numpy walk over a span tree read
into Python that this replaced (``benchmarks/clickhouse.py --only tool agent``: the demo's
spans; ``benchmarks/agents.py``: every span a step or a call, the walk's worst case). chdb,
1M spans: tool usage 1.6–2.6 s bringing 8 KB (was 3.3–3.7 s and 18.6 MB), agent graph 2.0–2.4 s
and 3.5 KB (2.7–4.1 s, 18.6 MB), tool loops 0.8–1.1 s and 25 KB (0.5–0.75 s, 1.1 MB); 10M:
tool usage 13–20 s (40 s, 186 MB), agent graph 13–19 s (46 s, 186 MB). DuckDB, 1M: tool usage
1.0–2.0 s (1.05–1.7 s; 1.6–2.1× the same run's hand-written SQL instead of 0.9–1.6×: some
20–30% slower), at 10M 6–9 s instead of 9–10 s.

``where=`` (a :class:`Filter` or a dict) chooses **traces**: a trace is kept when one of its
spans passes it, and then read whole, so ownership, paths and loops never depend on the filter
(``Filter(models=("gpt-4o",))``: the traces that called gpt-4o, with all their tools).

Costs follow one rule (:func:`~llmobs_nb.analytics.span_sql.cost`): 0.0 without model calls,
NULL when none of them has a price, else the priced calls' sum.

Example:
    >>> from llmobs_nb import analytics
    >>> analytics.tool_usage(obs)                  # doctest: +SKIP
    >>> analytics.agent_paths(obs).head(5)         # doctest: +SKIP
    >>> graph = analytics.agent_graph(obs)         # doctest: +SKIP
    >>> graph.nodes, graph.edges                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import keyword_only
from llmobs_nb.analytics.filter import WhereLike, conditions_of
from llmobs_nb.analytics.ownership import MAX_DEPTH, owned_steps
from llmobs_nb.analytics.percentiles import min_calls_for
from llmobs_nb.analytics.plan import Condition
from llmobs_nb.analytics.source import CallsLike, SpanReader, open_spans
from llmobs_nb.analytics.span_sql import (
    AGENT_KIND,
    FLAG_COLUMNS,
    TOOL_KIND,
    UTC_TIME,
    Sql,
    cost,
    span_flags,
    trace_where,
    typed,
)
from llmobs_nb.store.connect import MEMORY, connect

__all__ = [
    "ARROW",
    "MAX_DEPTH",
    "NO_AGENT",
    "AgentGraph",
    "agent_graph",
    "agent_paths",
    "find_loops",
    "nearest_agent",
    "tool_loops",
    "tool_usage",
]

ARROW = " → "
"""What separates the steps of a path."""
NO_AGENT = "(no agent)"
"""The graph's node for steps no agent owns."""
UNKNOWN_MODEL = "(unknown model)"

TOOL_SCHEMA: dict[str, pl.DataType] = {
    "agent_name": pl.String(),
    "tool_name": pl.String(),
    "calls": pl.Int64(),
    "errors": pl.Int64(),
    "error_rate": pl.Float64(),
    "latency_p50_s": pl.Float64(),
    "latency_p95_s": pl.Float64(),
    "total_latency_s": pl.Float64(),
    "cost_usd": pl.Float64(),
}
AGENT_SCHEMA: dict[str, pl.DataType] = {
    "agent_name": pl.String(),
    "invocations": pl.Int64(),
    "errors": pl.Int64(),
    "error_rate": pl.Float64(),
    "latency_p50_s": pl.Float64(),
    "latency_p95_s": pl.Float64(),
    "tool_calls": pl.Int64(),
    "model_calls": pl.Int64(),
    "cost_usd": pl.Float64(),
}
PATH_SCHEMA: dict[str, pl.DataType] = {
    "path": pl.String(),
    "steps": pl.Int64(),
    "traces": pl.Int64(),
    "share": pl.Float64(),
    "mean_cost_usd": pl.Float64(),
    "mean_latency_s": pl.Float64(),
    "errors": pl.Int64(),
    "has_loop": pl.Boolean(),
    "example_trace_id": pl.String(),
}
LOOP_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "session_id": pl.String(),
    "agent_name": pl.String(),
    "tool_name": pl.String(),
    "arguments": pl.String(),
    "arguments_known": pl.Boolean(),
    "repeats": pl.Int64(),
    "loop_cost_usd": pl.Float64(),
    "trace_cost_usd": pl.Float64(),
    "first_start": UTC_TIME,
}
NODE_SCHEMA: dict[str, pl.DataType] = {
    "node": pl.String(),
    "kind": pl.String(),
    "calls": pl.Int64(),
    "errors": pl.Int64(),
    "error_rate": pl.Float64(),
    "cost_usd": pl.Float64(),
    "mean_latency_s": pl.Float64(),
}
EDGE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "target": pl.String(),
    "calls": pl.Int64(),
    "errors": pl.Int64(),
    "error_rate": pl.Float64(),
    "cost_usd": pl.Float64(),
}

_REQUIRED = ("trace_id", "span_id", "parent_span_id", "kind", "start_time", "status")
_OPTIONAL = (
    *FLAG_COLUMNS,
    "end_time",
    "latency_s",
    "cost_usd",
    "input_text",
    "session_id",
)


@dataclass(frozen=True)
class AgentGraph:
    """Who calls what across traces (:func:`agent_graph`): ``nodes`` (``node, kind, calls,
    errors, error_rate, cost_usd, mean_latency_s``) and ``edges`` (``source, target, calls,
    errors, error_rate, cost_usd``).

    Example:
        >>> graph = AgentGraph(pl.DataFrame(schema=NODE_SCHEMA), pl.DataFrame(schema=EDGE_SCHEMA))
        >>> graph.nodes.width, graph.edges.width
        (7, 6)
    """

    nodes: pl.DataFrame
    edges: pl.DataFrame


# -- the attribution rule, on positions ---------------------------------------------------------


def nearest_agent(parent: np.ndarray, is_agent: np.ndarray) -> np.ndarray:
    """For each span (a position), the position of its nearest ancestor that is an agent
    span, or -1 — THE attribution rule of this module (:func:`tool_usage`,
    :func:`tool_loops`, :func:`agent_graph`), for spans given as positions: ``parent`` holds
    each span's parent position (-1 for none). Computed by the questions' own SQL
    (:func:`~llmobs_nb.analytics.ownership.owned_steps`), run in an in-memory DuckDB over
    these spans as one trace's.

    Example:
        >>> parent = np.array([-1, 0, 1, 2])         # agent → chain → agent → llm
        >>> nearest_agent(parent, np.array([True, False, True, False])).tolist()
        [-1, 0, 0, 2]
    """
    n = len(parent)
    owner = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return owner
    # Every span a step (an agent, else a tool: the walk passes tools as it passes chains),
    # so the SQL gives each one its owner.
    spans = pl.DataFrame(
        {
            "trace_id": ["t"] * n,
            "span_id": [str(i) for i in range(n)],
            "parent_span_id": [str(p) if p >= 0 else None for p in parent.tolist()],
            "kind": [AGENT_KIND if a else TOOL_KIND for a in is_agent.tolist()],
            "start_time": [datetime(2000, 1, 1, tzinfo=UTC)] * n,
            "status": ["ok"] * n,
        }
    )
    with open_spans(spans, _REQUIRED, _OPTIONAL) as reader:
        q = Sql(reader.dialect)
        sql = f"""
            WITH {owned_steps(q, lambda: "TRUE")}
            SELECT st.span_id AS span_id, o.span_id AS owner
            FROM steps st JOIN s o ON o.k = st.owner_k"""
        found = reader.run(sql, q.params)
    rows = found["span_id"].cast(pl.Int64).to_numpy()
    owner[rows] = found["owner"].cast(pl.Int64).to_numpy()
    return owner


# -- reading the spans ------------------------------------------------------------------------


def _conditions(where: WhereLike, reader: SpanReader) -> tuple[Condition, ...]:
    conditions = conditions_of(where)
    check_columns(reader.columns, [c.column for c in conditions], "where=")
    return conditions


def _needed(where: WhereLike) -> list[str]:
    return [*_REQUIRED, *(c.column for c in conditions_of(where))]


GROUP_SCHEMA: dict[str, pl.DataType] = {
    "whole": pl.Boolean(),
    "owner": pl.String(),
    "kind": pl.String(),
    "name": pl.String(),
    "calls": pl.Int64(),
    "errors": pl.Int64(),
    "__n": pl.Int64(),
    "latency_sum": pl.Float64(),
    "__p50": pl.Float64(),
    "__p95": pl.Float64(),
    "under_calls": pl.Int64(),
    "under_priced": pl.Int64(),
    "under_usd": pl.Float64(),
}
_QUANTILES = ((0.5, "__p50", "latency_p50_s"), (0.95, "__p95", "latency_p95_s"))


def _step_groups(
    source: CallsLike, where: WhereLike, percentiles: Literal["tool", "agent"] | None = None
) -> pl.DataFrame:
    """The chosen traces' agent, tool and model-call spans (``kind``: ``agent``, ``tool``,
    ``model``; ``name``: an agent's or a tool's label, a model call's model) counted in the
    engine by ``owner, kind, name`` (``whole`` false): ``calls``, ``errors``, latencies
    (``__n`` known, ``latency_sum``) and the model calls ``under`` them (a model call: itself;
    an agent or a tool: the calls inside it) — ``under_calls``, ``under_priced``,
    ``under_usd``. Latency percentiles (``__p50``, ``__p95``): with ``percentiles="tool"``,
    of these groups; with ``"agent"``, in more rows (``whole`` true), of each agent name's
    invocations (percentiles do not add up)."""
    with open_spans(source, _needed(where), _OPTIONAL) as reader:
        conditions = _conditions(where, reader)
        q = Sql(reader.dialect)
        d = q.dialect
        owned = owned_steps(q, lambda: trace_where(q, conditions))
        unknown = q.value(UNKNOWN_MODEL)
        levels = d.quantiles("latency_s", [level for level, _, _ in _QUANTILES])

        def grouped(whole: bool, owner: str, with_percentiles: bool) -> str:
            p = [f"{levels}[{i}]" if with_percentiles else "NULL" for i in (1, 2)]
            return f"""
                SELECT {str(whole).lower()} AS whole, {owner} AS owner, kind, name,
                       count(*) AS calls, count(*) FILTER (WHERE failed) AS errors,
                       count(latency_s) AS __n, {d.nullable("sum")}(latency_s) AS latency_sum,
                       {p[0]} AS __p50, {p[1]} AS __p95, sum(under_calls) AS under_calls,
                       sum(under_priced) AS under_priced, sum(under_usd) AS under_usd
                FROM x"""

        sql = f"""
            WITH {owned},
            x AS (
                SELECT owner, failed, latency_s,
                       CASE WHEN is_agent THEN 'agent' WHEN is_tool THEN 'tool' ELSE 'model' END
                           AS kind,
                       CASE WHEN is_model THEN coalesce(model, {unknown}) ELSE label END AS name,
                       CASE WHEN is_model THEN 1 ELSE inside_calls END AS under_calls,
                       CASE WHEN is_model THEN CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END
                            ELSE inside_priced END AS under_priced,
                       CASE WHEN is_model THEN coalesce(cost_usd, 0) ELSE inside_usd END
                           AS under_usd
                FROM steps
            )
            {grouped(False, "owner", percentiles == "tool")} GROUP BY owner, kind, name"""
        if percentiles == "agent":
            sql += f"""
            UNION ALL {grouped(True, "NULL", True)} WHERE kind = 'agent' GROUP BY kind, name"""
        groups = reader.run(sql, q.params)
    return typed(groups, GROUP_SCHEMA)


# -- the questions ------------------------------------------------------------------------------


def _percentiles() -> list[pl.Expr]:
    # The package's percentile rule: a quantile of too few values is NULL (P95 needs 20).
    return [
        pl.when(pl.col("__n") >= min_calls_for(level)).then(pl.col(found)).alias(name)
        for level, found, name in _QUANTILES
    ]


def _error_rate(errors: str, calls: str) -> pl.Expr:
    return pl.when(pl.col(calls) > 0).then(pl.col(errors) / pl.col(calls)).alias("error_rate")


def _mean_latency() -> pl.Expr:
    mean = pl.col("latency_sum") / pl.col("__n")
    return pl.when(pl.col("__n") > 0).then(mean).alias("mean_latency_s")


def _under_cost() -> pl.Expr:
    return cost("under_calls", "under_priced", "under_usd")


_ADDED = ("calls", "errors", "__n", "latency_sum", "under_calls", "under_priced", "under_usd")


def _by_name(groups: pl.DataFrame, *kinds: str) -> pl.DataFrame:
    """The groups of ``kinds`` added up over their owners: one row per kind and name."""
    mine = ~pl.col("whole") & pl.col("kind").is_in(kinds)
    return groups.filter(mine).group_by("kind", "name").agg(pl.col(c).sum() for c in _ADDED)


def _agents(groups: pl.DataFrame) -> pl.DataFrame:
    """Agent invocations by agent name: invocations, errors, latency figures (percentiles
    when the groups have them: ``_step_groups(percentiles="agent")``)."""
    whole = groups.filter("whole").select("name", "__p50", "__p95")
    return (
        _by_name(groups, "agent")
        .join(whole, on="name", how="left")
        .select(
            pl.col("name").alias("agent_name"),
            pl.col("calls").alias("invocations"),
            "errors",
            _error_rate("errors", "calls"),
            *_percentiles(),
            _mean_latency(),
        )
    )


def _owned(groups: pl.DataFrame, unowned: str | None) -> pl.DataFrame:
    """Tool and model calls by owning agent (:func:`nearest_agent`; those with none under
    ``unowned``, or left out): ``tool_calls``, ``model_calls``, their ``cost_usd``."""
    owner = pl.col("owner") if unowned is None else pl.col("owner").fill_null(unowned)
    tool, model = pl.col("kind") == "tool", pl.col("kind") == "model"
    return (
        groups.filter(~pl.col("whole") & pl.col("kind").is_in(("tool", "model")))
        .with_columns(owner.alias("agent_name"))
        .filter(pl.col("agent_name").is_not_null())
        .group_by("agent_name")
        .agg(
            pl.col("calls").filter(tool).sum().alias("tool_calls"),
            pl.col("calls").filter(model).sum().alias("model_calls"),
            pl.col("under_priced").filter(model).sum().alias("priced"),
            pl.col("under_usd").filter(model).sum().alias("total"),
        )
        .with_columns(cost("model_calls", "priced", "total"))
    )


def _owned_cost() -> pl.Expr:
    # An agent without a row in _owned owns no model call: its cost is 0.0, not unknown.
    owns = pl.col("model_calls").fill_null(0) > 0
    return pl.when(owns).then(pl.col("cost_usd")).otherwise(0.0).alias("cost_usd")


@keyword_only()
def tool_usage(
    source: CallsLike, *, by: Literal["tool", "agent"] = "tool", where: WhereLike = None
) -> pl.DataFrame:
    """Tool calls per agent and tool, or each agent's invocations, tools and model calls.

    ``by="tool"``: ``agent_name, tool_name, calls, errors, error_rate, latency_p50_s,
    latency_p95_s, total_latency_s, cost_usd`` — ``agent_name`` is the tool call's owning agent
    (see the module: the nearest agent above it, else the span's own ``agent_name``; NULL when
    none); ``errors`` the calls whose ``status`` is ``"error"``; ``cost_usd`` the cost of the
    model calls inside the tool spans (their descendants; 0.0 when none). Most called first.

    ``by="agent"``: ``agent_name, invocations, errors, error_rate, latency_p50_s,
    latency_p95_s, tool_calls, model_calls, cost_usd`` — invocations are the agent's spans
    (their errors and latency); ``tool_calls``, ``model_calls`` and ``cost_usd`` are what it
    owns directly: a sub-agent's calls count for the sub-agent only, so nothing is counted
    twice. Steps no agent owns are not in this table. Most invoked first.

    Percentiles are exact (numpy's linear interpolation) and NULL over fewer values than the
    quantile needs (:func:`~llmobs_nb.analytics.percentiles.min_calls_for`: 2 for P50, 20 for
    P95), as in :func:`~llmobs_nb.analytics.latency_percentiles`. ``where`` keeps whole
    traces (see the module).

    Example:
        >>> analytics.tool_usage(obs, by="agent")   # doctest: +SKIP
    """
    if by not in ("tool", "agent"):
        raise ValueError(f"by={by!r}: tool usage is by 'tool' or 'agent'")
    groups = _step_groups(source, where, percentiles=by)
    if by == "tool":
        out = groups.filter(pl.col("kind") == "tool").select(
            pl.col("owner").alias("agent_name"),
            pl.col("name").alias("tool_name"),
            "calls",
            "errors",
            _error_rate("errors", "calls"),
            *_percentiles(),
            pl.col("latency_sum").alias("total_latency_s"),
            _under_cost(),
        )
        out = typed(out, TOOL_SCHEMA)
        order = ["calls", "agent_name", "tool_name"]
    else:
        owned = _owned(groups, None)
        out = _agents(groups).join(owned, on="agent_name", how="full", coalesce=True)
        counts = ("invocations", "errors", "tool_calls", "model_calls")
        out = out.with_columns(pl.col(c).fill_null(0) for c in counts).with_columns(_owned_cost())
        out = typed(out, AGENT_SCHEMA)
        order = ["invocations", "agent_name"]
    return out.sort(order, descending=[True, *[False] * (len(order) - 1)], nulls_last=True)


def _tool_spans(q: Sql, where: tuple[Condition, ...]) -> str:
    """The ``WITH`` item ``tools``: the tool spans of the chosen traces (``trace_id, span_id,
    tool_name, arguments, start_time, end_at``), as :func:`find_loops` reads them."""
    flags = span_flags(q)  # written before the condition: its values come first in the text
    return f"""
    tools AS (
        SELECT trace_id, span_id, label AS tool_name, input_text AS arguments, start_time,
               end_at
        FROM (
            SELECT trace_id, span_id, input_text, start_time,
                   coalesce(end_time, start_time) AS end_at, {flags}
            FROM spans WHERE {trace_where(q, where)}
        ) WHERE is_tool
    )"""


_ALIKE = "trace_id, tool_name, arguments, island"
"""The calls of one loop are alike in these (``island``: see ``_TOOL_RUNS``)."""


# THE loop rule (find_loops), as WITH items over `tools` (_tool_spans): `runs`, each tool
# call with its rank i in its trace (start, then span id) and, without arguments, its island;
# a loop is at least `repeats` calls alike in _ALIKE. A run of calls without arguments:
# i - j, the rank among the trace's tool calls less the rank among its calls of the same
# tool without arguments, is the same along a run in a row and changes wherever another
# call comes between.
_TOOL_RUNS = """
    ranked AS (
        SELECT *, row_number() OVER (PARTITION BY trace_id ORDER BY start_time, span_id) AS i,
               row_number() OVER (PARTITION BY trace_id, tool_name, arguments IS NULL
                                  ORDER BY start_time, span_id) AS j
        FROM tools
    ),
    runs AS MATERIALIZED (
        SELECT *, CASE WHEN arguments IS NULL THEN i - j END AS island FROM ranked
    )"""


def _loop_members(q: Sql, repeats: int) -> str:
    """``WITH`` items ending in ``members``: the tool calls that are part of a loop
    (``_TOOL_RUNS``), each with its loop (``trace_id``, ``loop_i``: the rank of its first
    call) and the loop's ``repeats``."""
    return f"""{_TOOL_RUNS},
    loops_found AS (
        SELECT {_ALIKE}, min(i) AS loop_i, count(*) AS repeats FROM runs GROUP BY {_ALIKE}
        HAVING count(*) >= {q.value(repeats)}
    ),
    members AS MATERIALIZED (
        SELECT r.*, l.loop_i AS loop_i, l.repeats AS repeats
        FROM runs r JOIN loops_found l ON l.trace_id = r.trace_id AND l.tool_name = r.tool_name
             AND l.arguments IS NOT DISTINCT FROM r.arguments
             AND l.island IS NOT DISTINCT FROM r.island
    )"""


def _check_repeats(repeats: int) -> None:
    if repeats < 2:
        raise ValueError(f"repeats={repeats!r}: a loop is at least 2 calls")


def _trace_totals(
    reader: SpanReader, where: tuple[Condition, ...], loop_repeats: int
) -> pl.DataFrame:
    """One row per chosen trace with an agent or tool step: its ``path``, ``steps``, model
    calls (``calls``, ``priced``, ``total``), ``latency_s`` (first start to last end),
    ``failed`` (a span failed), ``started``, ``session_id`` (its first span's) and
    ``looping`` (a tool loop of ``loop_repeats`` calls: :func:`find_loops`)."""
    q = Sql(reader.dialect)
    d = q.dialect
    flags = span_flags(q)
    chosen = trace_where(q, where)
    tools = _tool_spans(q, where)
    step = "is_agent OR is_tool"
    sql = f"""
        WITH s AS (
            SELECT trace_id, span_id, start_time, coalesce(end_time, start_time) AS end_at,
                   cost_usd, session_id, {flags}
            FROM spans WHERE {chosen}
        ), {tools}, {_TOOL_RUNS},
        looping AS (
            SELECT trace_id FROM runs GROUP BY {_ALIKE}
            HAVING count(*) >= {q.value(loop_repeats)}
        )
        SELECT trace_id,
               {d.joined("label", q.value(ARROW), ("start_time", "span_id"), step)} AS path,
               count(*) FILTER (WHERE {step}) AS steps,
               count(*) FILTER (WHERE is_model) AS calls,
               count(cost_usd) FILTER (WHERE is_model) AS priced,
               sum(cost_usd) FILTER (WHERE is_model) AS total,
               ({d.epoch_us("max(end_at)")} - {d.epoch_us("min(start_time)")}) / 1e6
                   AS latency_s,
               {d.boolean("count(*) FILTER (WHERE failed) > 0")} AS failed,
               min(start_time) AS started,
               {d.arg_min("session_id", "start_time")} AS session_id,
               {d.boolean("trace_id IN (SELECT trace_id FROM looping)")} AS looping
        FROM s GROUP BY trace_id
        HAVING count(*) FILTER (WHERE {step}) > 0"""
    return reader.run(sql, q.params).with_columns(cost("calls", "priced", "total"))


def _loops_of(members: pl.DataFrame) -> pl.DataFrame:
    """One row per loop of ``members`` (rows of :func:`_loop_members`): ``trace_id,
    tool_name, arguments, arguments_known, repeats, first_start, last_end, span_ids``."""
    return (
        members.sort("trace_id", "i")
        .group_by("trace_id", "loop_i", maintain_order=True)
        .agg(
            pl.col("tool_name").first(),
            pl.col("arguments").first(),
            pl.len().cast(pl.Int64).alias("repeats"),
            pl.col("start_time").min().alias("first_start"),
            pl.col("end_at").max().alias("last_end"),
            pl.col("span_id").alias("span_ids"),
        )
        .select(
            "trace_id",
            "tool_name",
            "arguments",
            pl.col("arguments").is_not_null().alias("arguments_known"),
            "repeats",
            "first_start",
            "last_end",
            "span_ids",
        )
        .sort("trace_id", "first_start", "tool_name")
    )


_MEMBERS = (
    "SELECT trace_id, loop_i, i, span_id, tool_name, arguments, start_time, end_at FROM members"
)


def find_loops(tools: pl.DataFrame, repeats: int) -> pl.DataFrame:
    """Tool loops among ``tools`` (tool spans: ``trace_id, span_id, tool_name, arguments,
    start_time, end_at``) — the one loop rule of :func:`tool_loops` and :func:`agent_paths`,
    which find them in the engine with the same SQL (run here in an in-memory DuckDB).

    A loop is the same tool called with the same arguments (``input_text``) at least
    ``repeats`` times in one trace, anywhere in it; when the arguments were not captured
    (NULL), the same tool called at least ``repeats`` times in a row among the trace's tool
    calls (in start order). One row per loop: ``trace_id, tool_name, arguments,
    arguments_known, repeats, first_start, last_end, span_ids`` (the repeated calls).

    Example:
        >>> from datetime import datetime
        >>> t = [datetime(2025, 1, 1, 0, 0, s) for s in range(4)]
        >>> tools = pl.DataFrame({"trace_id": "t", "span_id": ["a", "b", "c", "d"],
        ...     "tool_name": "search", "arguments": None, "start_time": t, "end_at": t})
        >>> find_loops(tools, 3)["repeats"].to_list()
        [4]
    """
    _check_repeats(repeats)
    q = Sql()
    sql = f"WITH {_loop_members(q, repeats)} {_MEMBERS}"
    columns = ("trace_id", "span_id", "tool_name", "arguments", "start_time", "end_at")
    con = connect(MEMORY)
    try:
        con.register("tools", tools.select(columns).to_arrow())
        return _loops_of(con.sql(sql, params=q.params).pl())
    finally:
        con.close()


@keyword_only()
def agent_paths(
    source: CallsLike, *, where: WhereLike = None, loop_repeats: int = 3
) -> pl.DataFrame:
    """The paths traces take through agents and tools, most common first.

    A trace's path is its agent and tool steps in start order, agents by ``agent_name``, tools
    by ``tool_name``: ``"planner → search_docs → search_docs → writer"``. Traces with no agent
    or tool step are left out. Columns: ``path``, ``steps`` (its length), ``traces``,
    ``share`` (of the traces with a path), ``mean_cost_usd`` (mean over the traces of their
    model calls' cost, as :func:`tool_usage` counts it; unpriced traces left out),
    ``mean_latency_s`` (mean of first start to last end), ``errors`` (traces in which a span
    failed), ``has_loop`` (a trace of the path has a tool loop: :func:`find_loops` with
    ``loop_repeats``), ``example_trace_id`` (the path's most recent trace). Sorted by
    ``traces``, then ``path``. ``where`` keeps whole traces (see the module).

    Example:
        >>> analytics.agent_paths(obs).select("path", "traces", "share")   # doctest: +SKIP
    """
    _check_repeats(loop_repeats)
    with open_spans(source, _needed(where), _OPTIONAL) as reader:
        traces = _trace_totals(reader, _conditions(where, reader), loop_repeats)
    if traces.height == 0:
        return typed(traces, PATH_SCHEMA)
    out = traces.group_by("path").agg(
        pl.col("steps").first(),
        pl.len().alias("traces"),
        pl.col("cost_usd").mean().alias("mean_cost_usd"),
        pl.col("latency_s").mean().alias("mean_latency_s"),
        pl.col("failed").sum().alias("errors"),
        pl.col("looping").any().alias("has_loop"),
        pl.col("trace_id").sort_by("started", "trace_id").last().alias("example_trace_id"),
    )
    out = out.with_columns((pl.col("traces") / pl.col("traces").sum()).alias("share"))
    return typed(out, PATH_SCHEMA).sort(["traces", "path"], descending=[True, False])


@keyword_only()
def tool_loops(source: CallsLike, *, repeats: int = 3, where: WhereLike = None) -> pl.DataFrame:
    """Tool loops — the same tool called with the same arguments ``repeats`` times or more in
    one trace (:func:`find_loops`; with arguments not captured, the same tool ``repeats``
    times in a row, ``arguments_known`` False) — most expensive trace first.

    Columns: ``trace_id``, ``session_id`` (the trace's), ``agent_name`` (the owning agent of
    the loop's first call, :func:`nearest_agent`), ``tool_name``, ``arguments`` (NULL when not
    captured), ``arguments_known``, ``repeats``, ``loop_cost_usd``, ``trace_cost_usd`` (all the
    trace's model calls), ``first_start`` (the first repeated call's start).

    ``loop_cost_usd`` is what the loop spent: the model calls inside the repeated tool spans
    (their descendants), plus the model calls of the owning agent (owned directly, as
    :func:`tool_usage` counts them) that started between the first repeated call's start and
    the last one's end — the calls that decided to call the tool again. Each call counts once.
    ``where`` keeps whole traces (see the module).

    Example:
        >>> analytics.tool_loops(obs, repeats=3)   # doctest: +SKIP
    """
    _check_repeats(repeats)
    with open_spans(source, _needed(where), _OPTIONAL) as reader:
        q = Sql(reader.dialect)
        tools = _tool_spans(q, _conditions(where, reader))
        members = reader.run(f"WITH {tools}, {_loop_members(q, repeats)} {_MEMBERS}", q.params)
        if members.height == 0:
            return typed(members, LOOP_SCHEMA)
        loops = _loops_of(members)
        spans = _loop_traces(reader, loops["trace_id"].unique().sort().to_list())
    loops = loops.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__loop"))
    totals = spans.group_by("trace_id").agg(
        pl.col("session_id").first(),
        cost("t_calls", "t_priced", "t_total").first().alias("trace_cost_usd"),
    )
    out = (
        loops.join(_loop_spend(loops, spans), on="__loop", how="left")
        .join(totals, on="trace_id", how="left")
        # A loop with no model call spent nothing; one whose calls have no price, unknown.
        .with_columns(
            pl.when(pl.col("__calls").is_null())
            .then(0.0)
            .otherwise(pl.col("loop_cost_usd"))
            .alias("loop_cost_usd")
        )
    )
    return typed(out, LOOP_SCHEMA).sort(
        ["trace_cost_usd", "trace_id", "first_start"],
        descending=[True, False, False],
        nulls_last=True,
    )


def _loop_traces(reader: SpanReader, trace_ids: list[str]) -> pl.DataFrame:
    """The tool and model-call spans of the looping traces ``trace_ids``, with their owner
    (``owner_span``, its span id; ``owner``), for a model call the tool spans above it
    (``tools``), and their trace's ``session_id`` and model calls (``t_calls``,
    ``t_priced``, ``t_total``): all computed in the engine."""
    q = Sql(reader.dialect)
    owned = owned_steps(q, lambda: q.among("trace_id", trace_ids), ["session_id"])
    sql = f"""
        WITH {owned},
        above AS (
            SELECT w.start AS k, array_agg(n.span_id) AS tools
            FROM walk w JOIN nodes n ON n.k = w.a
            WHERE w.m AND w.step AND NOT w.agent GROUP BY w.start
        ),
        totals AS (
            SELECT trace_id, {q.dialect.arg_min("session_id", "start_time")} AS session_id,
                   count(*) FILTER (WHERE is_model) AS calls,
                   count(cost_usd) FILTER (WHERE is_model) AS priced,
                   sum(cost_usd) FILTER (WHERE is_model) AS total
            FROM s GROUP BY trace_id
        )
        SELECT st.trace_id AS trace_id, st.span_id AS span_id, st.is_model AS is_model,
               st.start_time AS start_time, st.cost_usd AS cost_usd,
               o.span_id AS owner_span, st.owner AS owner, a.tools AS tools,
               t.session_id AS session_id, t.calls AS t_calls, t.priced AS t_priced,
               t.total AS t_total
        FROM steps st LEFT JOIN nodes o ON o.k = st.owner_k
        LEFT JOIN above a ON a.k = st.k
        LEFT JOIN totals t ON t.trace_id = st.trace_id
        WHERE st.is_model OR st.is_tool"""
    return reader.run(sql, q.params)


def _loop_spend(loops: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per loop (``__loop``): ``agent_name``, the owner of its first call, and
    ``loop_cost_usd``, the cost of the model calls inside its repeated tool spans or owned by
    that same agent (invocation) and started between its first start and its last end."""
    at = spans.select("trace_id", "span_id", "owner_span", "owner")
    first = loops.select(
        "__loop", "trace_id", "first_start", "last_end", pl.col("span_ids").list.first()
    ).join(at.rename({"span_id": "span_ids"}), on=["trace_id", "span_ids"], how="left")
    calls = spans.filter("is_model").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("__call")
    )
    # The model calls inside the repeated tool spans (their descendants).
    members = loops.select("__loop", "trace_id", pl.col("span_ids").alias("tool")).explode("tool")
    inside = (
        calls.select("__call", "trace_id", pl.col("tools").alias("tool"))
        .explode("tool")
        .join(members, on=["trace_id", "tool"])
        .select("__loop", "__call")
    )
    # The same agent's own model calls between the first repeat's start and the last's end.
    between = (
        first.join(calls, on="trace_id")
        .filter(
            pl.col("owner_span").eq_missing(pl.col("owner_span_right"))
            & pl.col("owner").eq_missing(pl.col("owner_right"))
            & pl.col("start_time").is_between("first_start", "last_end")
        )
        .select("__loop", "__call")
    )
    spent = (
        pl.concat([inside, between])
        .unique()
        .join(calls.select("__call", "cost_usd"), on="__call")
        .group_by("__loop")
        .agg(
            pl.len().alias("calls"),
            pl.col("cost_usd").count().alias("priced"),
            pl.col("cost_usd").sum().alias("total"),
        )
        .select(
            "__loop",
            pl.col("calls").alias("__calls"),
            cost("calls", "priced", "total").alias("loop_cost_usd"),
        )
    )
    return first.select("__loop", pl.col("owner").alias("agent_name")).join(
        spent, on="__loop", how="left"
    )


def _node_names(kinds: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(kind, name) → node name: agents keep theirs; a tool's or model's name that another
    kind also uses is prefixed with its kind (``"tool:search"``, ``"model:gpt-4o"``)."""
    shared = (
        kinds.group_by("name").agg(pl.col("kind").n_unique().alias("n")).filter(pl.col("n") > 1)
    )
    clash = set(shared["name"].to_list())
    return {
        (kind, name): f"{kind}:{name}" if name in clash and kind != "agent" else name
        for kind, name in kinds.select("kind", "name").iter_rows()
    }


@keyword_only()
def agent_graph(source: CallsLike, *, where: WhereLike = None) -> AgentGraph:
    """Who calls what: agents, tools and models as nodes, and an edge from each owning agent
    to every agent, tool and model call under it.

    An edge goes from a step's owning agent (:func:`nearest_agent`, else its own
    ``agent_name``; :data:`NO_AGENT` ``"(no agent)"`` when there is none) to the step: an
    invoked agent (by ``agent_name``), a tool (by ``tool_name``) or a model call (by
    ``model``; ``"(unknown model)"`` without one). ``edges``: ``source, target, calls,
    errors, error_rate, cost_usd`` — the cost an edge carries is everything spent under its
    target steps: a model call's own cost, the model calls inside a tool or a sub-agent (so
    edges' costs overlap along a chain; the nodes' do not add up either).
    ``nodes``: ``node, kind`` (``agent``, ``tool``, ``model``), ``calls`` (invocations, tool
    calls, model calls; 0 for ``"(no agent)"`` and for an agent known only from the
    ``agent_name`` of spans), ``errors``, ``error_rate``, ``cost_usd`` (an agent: the model
    calls it owns directly, as :func:`tool_usage` ``by="agent"``; a tool: the model calls
    inside its calls; a model: its calls), ``mean_latency_s``.

    Node names are unique: agents keep their names; a tool's or a model's name used by
    another kind too is prefixed with its kind (``"tool:search"``, ``"model:search"``).
    ``where`` keeps whole traces (see the module).

    Example:
        >>> graph = analytics.agent_graph(obs)   # doctest: +SKIP
        >>> graph.edges.filter(pl.col("source") == "planner")   # doctest: +SKIP
    """
    groups = _step_groups(source, where)
    under = ("calls", "errors", "under_calls", "under_priced", "under_usd")
    edges = (
        groups.filter(~pl.col("whole"))
        .with_columns(pl.col("owner").fill_null(pl.lit(NO_AGENT)).alias("source"))
        .group_by("source", "kind", "name")
        .agg(pl.col(c).sum() for c in under)
        .with_columns(_error_rate("errors", "calls"), _under_cost())
    )
    agents = _agents(groups).join(
        _owned(groups, NO_AGENT).select("agent_name", "model_calls", "cost_usd"),
        on="agent_name",
        how="full",
        coalesce=True,
    )
    agents = agents.join(
        edges.select(pl.col("source").alias("agent_name")).unique(),
        on="agent_name",
        how="full",
        coalesce=True,
    )
    agents = agents.with_columns(
        pl.col("invocations").fill_null(0), pl.col("errors").fill_null(0)
    ).select(
        pl.col("agent_name").alias("name"),
        pl.lit("agent").alias("kind"),
        pl.col("invocations").alias("calls"),
        "errors",
        _error_rate("errors", "invocations"),
        _owned_cost(),
        "mean_latency_s",
    )
    # A tool's cost: the model calls inside its calls; a model's: its calls'.
    called = _by_name(groups, "tool", "model").select(
        "name",
        "kind",
        "calls",
        "errors",
        _error_rate("errors", "calls"),
        _under_cost(),
        _mean_latency(),
    )
    counts = {"calls": pl.Int64, "errors": pl.Int64}
    nodes = pl.concat([f.cast(counts) for f in (agents, called)], how="vertical_relaxed")
    names = _node_names(nodes)
    rename = pl.DataFrame(
        {
            "kind": [k for k, _ in names],
            "name": [n for _, n in names],
            "node": list(names.values()),
        },
        schema={"kind": pl.String, "name": pl.String, "node": pl.String},
    )
    nodes = nodes.join(rename, on=["kind", "name"], how="left")
    edges = edges.join(rename, on=["kind", "name"], how="left").rename({"node": "target"})
    kind_order = pl.col("kind").replace_strict(
        {"agent": 0, "tool": 1, "model": 2}, return_dtype=pl.Int8
    )
    nodes = typed(nodes.sort(kind_order, -pl.col("calls"), "node"), NODE_SCHEMA)
    edges = typed(edges, EDGE_SCHEMA).sort(
        ["calls", "source", "target"], descending=[True, False, False]
    )
    return AgentGraph(nodes, edges)
