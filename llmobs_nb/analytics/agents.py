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

**How it runs.** The spans of the traces asked for are read by one DuckDB query where they
live (the store; a frame is registered in an in-memory DuckDB, ``source.open_spans``), which
also numbers the spans and finds each one's parent (one hash join). The walk up the parents
then runs in numpy on those integer positions, one level for all spans at once, until no span
has a parent left to visit (at most :data:`MAX_DEPTH` levels; a cycle of parents, in broken
data, stops there). Measured at 1M spans (``benchmarks/agents.py``'s store, a quiet 2-core
machine): the numbering-and-parent query 0.58 s, the numpy walk 0.03 s; a recursive CTE giving
every span's nearest agent took 0.75 s bottom-up and 0.9 s top-down, before any figure is
joined to it; a polars loop of joins 1.4 s after 0.33 s to read the ids. Per-trace figures
(paths, a trace's cost) are aggregated in DuckDB; loops are found in polars over the tool
spans only, and the walk then runs over the looping traces only.

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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import keyword_only
from llmobs_nb.analytics.filter import WhereLike, conditions_of
from llmobs_nb.analytics.percentiles import min_calls_for
from llmobs_nb.analytics.plan import Condition
from llmobs_nb.analytics.source import CallsLike, SpanReader, open_spans
from llmobs_nb.analytics.span_sql import (
    FLAG_COLUMNS,
    UTC_TIME,
    Sql,
    cost,
    span_flags,
    trace_where,
    typed,
)

__all__ = [
    "ARROW",
    "NO_AGENT",
    "AgentGraph",
    "agent_graph",
    "agent_paths",
    "find_loops",
    "nearest_agent",
    "tool_loops",
    "tool_usage",
]

MAX_DEPTH = 1024
"""The most parent links a walk follows (a deeper tree is cut there; so is a parent cycle)."""
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


# -- the walk up the parents -------------------------------------------------------------------


def _climb(
    parent: np.ndarray, rows: np.ndarray, stop: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Walk up from ``rows`` (positions) one parent at a time: yields the rows still walking
    and their ancestor at this level; a row stops at the root, or after an ancestor where
    ``stop`` is true."""
    ancestor = parent[rows]
    for _ in range(MAX_DEPTH):
        alive = ancestor >= 0
        rows, ancestor = rows[alive], ancestor[alive]
        if rows.size == 0:
            return
        yield rows, ancestor
        if stop is not None:
            go_on = ~stop[ancestor]
            rows, ancestor = rows[go_on], ancestor[go_on]
        ancestor = parent[ancestor]


def nearest_agent(parent: np.ndarray, is_agent: np.ndarray) -> np.ndarray:
    """For each span (a position), the position of its nearest ancestor that is an agent
    span, or -1 — THE attribution rule of this module (:func:`tool_usage`,
    :func:`tool_loops`, :func:`agent_graph`). ``parent`` holds each span's parent position
    (-1 for none); the walk is vectorised, one level for all spans per step.

    Example:
        >>> parent = np.array([-1, 0, 1, 2])         # agent → chain → agent → llm
        >>> nearest_agent(parent, np.array([True, False, True, False])).tolist()
        [-1, 0, 0, 2]
    """
    owner = np.full(len(parent), -1, dtype=np.int64)
    for rows, ancestor in _climb(parent, np.arange(len(parent)), stop=is_agent):
        hit = is_agent[ancestor]
        owner[rows[hit]] = ancestor[hit]
    return owner


def _ancestor_pairs(
    parent: np.ndarray, rows: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, ancestor) pair of ``rows`` whose ancestor is ``keep``, each once."""
    found_rows, found = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for walking, ancestor in _climb(parent, rows):
        kept = keep[ancestor]
        found_rows.append(walking[kept])
        found.append(ancestor[kept])
    pairs = np.stack([np.concatenate(found_rows), np.concatenate(found)])
    if len(found) > MAX_DEPTH:  # the walk was cut: a cycle of parents went round and round
        pairs = np.unique(pairs, axis=1)
    return pairs[0], pairs[1]


# -- reading the spans ------------------------------------------------------------------------


def _conditions(where: WhereLike, reader: SpanReader) -> tuple[Condition, ...]:
    conditions = conditions_of(where)
    check_columns(reader.columns, [c.column for c in conditions], "where=")
    return conditions


def _needed(where: WhereLike) -> list[str]:
    return [*_REQUIRED, *(c.column for c in conditions_of(where))]


def _in_traces(q: Sql, trace_ids: Sequence[str]) -> str:
    return q.among("trace_id", trace_ids)


_TREE_COLUMNS = (
    "is_model",
    "is_agent",
    "is_tool",
    "failed",
    "label",
    "model",
    "agent_name",
    "latency_s",
    "cost_usd",
)
_IDS = ("trace_id", "span_id", "start_time")
_FLAGS = ("is_model", "is_agent", "is_tool", "failed", "label")  # span_sql.span_flags' names


def _tree(
    reader: SpanReader, where: tuple[Condition, ...] | list[str], ids: bool = False
) -> pl.DataFrame:
    """The spans of the chosen traces (``where`` conditions, or a list of trace ids) but the
    leaves that are neither a step nor a model call (nothing counts them or walks through
    them: 41% of the demo's spans), each with its parent's position (``parent``, -1 for
    none): one query, one join. With ``ids``,
    also their trace and span ids and start (not read otherwise: 1M ids are 0.2 s)."""
    q = Sql(reader.dialect)

    def chosen() -> str:
        return _in_traces(q, where) if isinstance(where, list) else trace_where(q, where)

    # Written in text order (each placeholder's value appended as its text is written). A
    # leaf that is no step and no model call counts for nothing and links nothing: left out.
    parents = (
        "SELECT DISTINCT trace_id AS pt, parent_span_id AS ps FROM spans "
        f"WHERE parent_span_id IS NOT NULL AND {chosen()}"
    )
    read = ("trace_id", "span_id", "parent_span_id", "model", "agent_name", "start_time",
            "latency_s", "cost_usd", *_FLAGS)  # fmt: skip
    spans = f"SELECT {', '.join(read[: -len(_FLAGS)])}, {span_flags(q)} FROM spans WHERE {chosen()}"
    kept = ", ".join(f"s.{c} AS {c}" for c in read)
    columns = ", ".join(f"c.{c} AS {c}" for c in (*_TREE_COLUMNS, *(_IDS if ids else ())))
    sql = f"""
        WITH parents AS ({parents}),
        kept AS (
            SELECT {kept} FROM ({spans}) s
            LEFT JOIN parents k ON k.pt = s.trace_id AND k.ps = s.span_id
            WHERE s.is_model OR s.is_agent OR s.is_tool OR k.ps IS NOT NULL
        ),
        n AS MATERIALIZED (
            SELECT {q.dialect.numbered(("trace_id", "span_id"))} AS i, * FROM kept
        )
        SELECT c.i AS i, p.i AS parent_i, {columns}
        FROM n c LEFT JOIN n p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id"""
    rows = reader.run(sql, q.params)
    if rows.height and rows.height > rows["i"].max():  # type: ignore[operator]
        rows = rows.unique("i", keep="first", maintain_order=True)  # a span stored twice
    ids = rows["i"].to_numpy().astype(np.int64)
    position = np.full(int(ids.max()) + 1 if len(ids) else 1, -1, dtype=np.int64)
    position[ids] = np.arange(len(ids))
    parent = position[rows["parent_i"].fill_null(0).to_numpy().astype(np.int64)]
    return rows.drop("i", "parent_i").with_columns(pl.Series("parent", parent))


def _annotated(tree: pl.DataFrame) -> pl.DataFrame:
    """The spans with their owner (:func:`nearest_agent`: ``owner_pos``, ``owner``) and, for
    agent and tool spans, the model calls inside them (``inside_calls``, ``inside_priced``,
    ``inside_usd``: their descendants, through sub-agents too)."""
    n = tree.height
    parent = tree["parent"].to_numpy()
    is_agent = tree["is_agent"].to_numpy()
    owner = nearest_agent(parent, is_agent)
    costs = tree["cost_usd"].cast(pl.Float64).to_numpy()
    is_step = is_agent | tree["is_tool"].to_numpy()
    calls = np.nonzero(tree["is_model"].to_numpy())[0]
    rows, steps = _ancestor_pairs(parent, calls, is_step)
    spent = costs[rows]
    priced = ~np.isnan(spent)
    owner_pos = pl.Series("owner_pos", owner)
    named = tree["label"].gather(owner_pos.replace(-1, None))
    return tree.with_columns(
        owner_pos,
        pl.when(named.is_not_null())
        .then(named)
        .when(~pl.col("is_agent"))
        .then(pl.col("agent_name"))
        .alias("owner"),
        pl.Series("inside_calls", np.bincount(steps, minlength=n)),
        pl.Series("inside_priced", np.bincount(steps, weights=priced, minlength=n)),
        pl.Series(
            "inside_usd", np.bincount(steps, weights=np.where(priced, spent, 0), minlength=n)
        ),
    )


# -- the questions ------------------------------------------------------------------------------


def _latency_figures(column: str = "latency_s") -> list[pl.Expr]:
    latency = pl.col(column).drop_nulls()
    return [
        latency.count().alias("__n"),
        latency.quantile(0.5, interpolation="linear").alias("latency_p50_s"),
        latency.quantile(0.95, interpolation="linear").alias("latency_p95_s"),
    ]


def _enough_values() -> list[pl.Expr]:
    # The package's percentile rule: a quantile of too few values is NULL (P95 needs 20).
    return [
        pl.when(pl.col("__n") >= min_calls_for(q)).then(pl.col(name)).alias(name)
        for q, name in ((0.5, "latency_p50_s"), (0.95, "latency_p95_s"))
    ]


def _error_rate(errors: str, calls: str) -> pl.Expr:
    return pl.when(pl.col(calls) > 0).then(pl.col(errors) / pl.col(calls)).alias("error_rate")


def _tools(spans: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Tool calls grouped by ``by``: calls, errors, latency figures, the model calls inside."""
    return (
        spans.filter("is_tool")
        .group_by(by)
        .agg(
            pl.len().alias("calls"),
            pl.col("failed").sum().alias("errors"),
            *_latency_figures(),
            pl.when(pl.col("latency_s").count() > 0)
            .then(pl.col("latency_s").sum())
            .alias("total_latency_s"),
            pl.col("latency_s").mean().alias("mean_latency_s"),
            pl.col("inside_calls").sum(),
            pl.col("inside_priced").sum(),
            pl.col("inside_usd").sum(),
        )
        .with_columns(
            *_enough_values(),
            _error_rate("errors", "calls"),
            cost("inside_calls", "inside_priced", "inside_usd"),
        )
    )


def _agents(spans: pl.DataFrame) -> pl.DataFrame:
    """Agent invocations by agent name: invocations, errors, latency figures."""
    return (
        spans.filter("is_agent")
        .group_by(pl.col("label").alias("agent_name"))
        .agg(
            pl.len().alias("invocations"),
            pl.col("failed").sum().alias("errors"),
            *_latency_figures(),
            pl.col("latency_s").mean().alias("mean_latency_s"),
        )
        .with_columns(*_enough_values(), _error_rate("errors", "invocations"))
    )


def _owned(spans: pl.DataFrame, unowned: str | None) -> pl.DataFrame:
    """Tool and model calls by owning agent (:func:`nearest_agent`; those with none under
    ``unowned``, or left out): ``tool_calls``, ``model_calls``, their ``cost_usd``."""
    owner = pl.col("owner") if unowned is None else pl.col("owner").fill_null(unowned)
    model = pl.col("is_model")
    return (
        spans.filter(pl.col("is_tool") | model)
        .with_columns(owner.alias("agent_name"))
        .filter(pl.col("agent_name").is_not_null())
        .group_by("agent_name")
        .agg(
            pl.col("is_tool").sum().alias("tool_calls"),
            model.sum().alias("model_calls"),
            (model & pl.col("cost_usd").is_not_null()).sum().alias("priced"),
            pl.col("cost_usd").filter(model).sum().alias("total"),
        )
        .with_columns(cost("model_calls", "priced", "total"))
    )


def _owned_cost() -> pl.Expr:
    # An agent without a row in _owned owns no model call: its cost is 0.0, not unknown.
    owns = pl.col("model_calls").fill_null(0) > 0
    return pl.when(owns).then(pl.col("cost_usd")).otherwise(0.0).alias("cost_usd")


def _read_tree(source: CallsLike, where: WhereLike) -> pl.DataFrame:
    with open_spans(source, _needed(where), _OPTIONAL) as reader:
        return _annotated(_tree(reader, _conditions(where, reader)))


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
    spans = _read_tree(source, where)
    if by == "tool":
        out = _tools(spans, ["owner", "label"]).rename(
            {"owner": "agent_name", "label": "tool_name"}
        )
        out = typed(out, TOOL_SCHEMA)
        order = ["calls", "agent_name", "tool_name"]
    else:
        owned = _owned(spans, None)
        out = _agents(spans).join(owned, on="agent_name", how="full", coalesce=True)
        counts = ("invocations", "errors", "tool_calls", "model_calls")
        out = out.with_columns(pl.col(c).fill_null(0) for c in counts).with_columns(_owned_cost())
        out = typed(out, AGENT_SCHEMA)
        order = ["invocations", "agent_name"]
    return out.sort(order, descending=[True, *[False] * (len(order) - 1)], nulls_last=True)


def _trace_totals(reader: SpanReader, where: tuple[Condition, ...] | list[str]) -> pl.DataFrame:
    """One row per chosen trace with an agent or tool step: its ``path``, ``steps``, model
    calls (``calls``, ``priced``, ``total``), ``latency_s`` (first start to last end),
    ``failed`` (a span failed), ``started`` and ``session_id`` (its first span's)."""
    q = Sql(reader.dialect)
    d = q.dialect
    flags = span_flags(q)
    chosen = _in_traces(q, where) if isinstance(where, list) else trace_where(q, where)
    step = "is_agent OR is_tool"
    sql = f"""
        WITH s AS (
            SELECT trace_id, span_id, start_time, coalesce(end_time, start_time) AS end_at,
                   cost_usd, session_id, {flags}
            FROM spans WHERE {chosen}
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
               {d.arg_min("session_id", "start_time")} AS session_id
        FROM s GROUP BY trace_id
        HAVING count(*) FILTER (WHERE {step}) > 0"""
    return reader.run(sql, q.params).with_columns(cost("calls", "priced", "total"))


def _tool_calls(reader: SpanReader, where: tuple[Condition, ...]) -> pl.DataFrame:
    """The tool spans of the chosen traces: trace, span, tool, arguments, start and end."""
    q = Sql(reader.dialect)
    flags = span_flags(q)
    sql = f"""
        SELECT trace_id, span_id, label AS tool_name, input_text AS arguments, start_time,
               end_at
        FROM (
            SELECT trace_id, span_id, input_text, start_time,
                   coalesce(end_time, start_time) AS end_at, {flags}
            FROM spans WHERE {trace_where(q, where)}
        ) WHERE is_tool"""
    return reader.run(sql, q.params)


def find_loops(tools: pl.DataFrame, repeats: int) -> pl.DataFrame:
    """Tool loops among ``tools`` (tool spans: ``trace_id, span_id, tool_name, arguments,
    start_time, end_at``) — the one loop rule of :func:`tool_loops` and :func:`agent_paths`.

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
    if repeats < 2:
        raise ValueError(f"repeats={repeats!r}: a loop is at least 2 calls")
    unknown = pl.col("arguments").is_null()
    ranked = tools.sort("trace_id", "start_time", "span_id")
    # Calls without arguments: a run of the same tool in a row within a trace is one island
    # (a new one starts at another trace, another tool, or a call whose arguments are known);
    # calls with arguments group by them, whatever lies between.
    starts = (
        (pl.col("trace_id") != pl.col("trace_id").shift())
        | (pl.col("tool_name") != pl.col("tool_name").shift())
        | ~unknown.shift()
    ).fill_null(True)
    island = pl.when(unknown).then(starts.cum_sum()).alias("__island")
    return (
        ranked.with_columns(island)
        .group_by("trace_id", "tool_name", "arguments", "__island")
        .agg(
            pl.len().alias("repeats"),
            pl.col("start_time").min().alias("first_start"),
            pl.col("end_at").max().alias("last_end"),
            pl.col("span_id").alias("span_ids"),
        )
        .filter(pl.col("repeats") >= repeats)
        .select(
            "trace_id",
            "tool_name",
            "arguments",
            pl.col("arguments").is_not_null().alias("arguments_known"),
            pl.col("repeats").cast(pl.Int64),
            "first_start",
            "last_end",
            "span_ids",
        )
        .sort("trace_id", "first_start", "tool_name")
    )


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
    with open_spans(source, _needed(where), _OPTIONAL) as reader:
        conditions = _conditions(where, reader)
        traces = _trace_totals(reader, conditions)
        loops = find_loops(_tool_calls(reader, conditions), loop_repeats)
    looping = loops.select("trace_id").unique().with_columns(pl.lit(True).alias("looping"))
    traces = traces.join(looping, on="trace_id", how="left")
    out = traces.group_by("path").agg(
        pl.col("steps").first(),
        pl.len().alias("traces"),
        pl.col("cost_usd").mean().alias("mean_cost_usd"),
        pl.col("latency_s").mean().alias("mean_latency_s"),
        pl.col("failed").sum().alias("errors"),
        pl.col("looping").fill_null(False).any().alias("has_loop"),
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
    with open_spans(source, _needed(where), _OPTIONAL) as reader:
        loops = find_loops(_tool_calls(reader, _conditions(where, reader)), repeats)
        if loops.height == 0:
            return typed(pl.DataFrame(), LOOP_SCHEMA)
        ids = loops["trace_id"].unique().sort().to_list()
        spans = _annotated(_tree(reader, ids, ids=True))
        totals = _trace_totals(reader, ids)
    loops = loops.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__loop"))
    spent = _loop_spend(loops, spans)
    out = (
        loops.join(spent, on="__loop", how="left")
        .join(
            totals.select("trace_id", "session_id", pl.col("cost_usd").alias("trace_cost_usd")),
            on="trace_id",
            how="left",
        )
        # A loop with no model call spent nothing; one whose calls have no price, unknown.
        .with_columns(
            pl.when(pl.col("__calls").is_null())
            .then(0.0)
            .otherwise(pl.col("loop_cost_usd"))
            .alias("loop_cost_usd")
        )
        .drop("__calls")
    )
    out = typed(out, LOOP_SCHEMA)
    return out.sort(
        ["trace_cost_usd", "trace_id", "first_start"],
        descending=[True, False, False],
        nulls_last=True,
    )


def _loop_spend(loops: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per loop (``__loop``): ``agent_name``, the owner of its first call, and
    ``loop_cost_usd``, the cost of the model calls inside its repeated tool spans or owned by
    that same agent (invocation) and started between its first start and its last end."""
    spans = spans.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__pos"))
    at = spans.select("trace_id", "span_id", "__pos", "owner_pos", "owner")
    members = (
        loops.select("__loop", "trace_id", pl.col("span_ids").alias("span_id"))
        .explode("span_id")
        .join(at, on=["trace_id", "span_id"])
    )
    first = loops.select(
        "__loop", "trace_id", "first_start", "last_end", pl.col("span_ids").list.first()
    ).join(at.rename({"span_id": "span_ids"}), on=["trace_id", "span_ids"])
    calls = spans.filter("is_model").select(
        pl.col("__pos").alias("__call"), "trace_id", "start_time", "owner_pos", "owner", "cost_usd"
    )
    # The model calls inside the repeated tool spans (their descendants).
    rows, ancestors = _ancestor_pairs(
        spans["parent"].to_numpy(), calls["__call"].to_numpy(), spans["is_tool"].to_numpy()
    )
    inside = (
        pl.DataFrame(
            {"__call": rows, "__pos": ancestors}, schema={"__call": pl.Int64, "__pos": pl.Int64}
        )
        .join(members.select("__loop", "__pos"), on="__pos")
        .select("__loop", "__call")
    )
    # The same agent's own model calls between the first repeat's start and the last's end.
    between = (
        first.select("__loop", "trace_id", "first_start", "last_end", "owner_pos", "owner")
        .join(calls, on=["trace_id", "owner_pos"])
        .filter(
            pl.col("owner").eq_missing(pl.col("owner_right"))
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
    spans = _read_tree(source, where)
    model = pl.col("is_model")
    steps = spans.filter(pl.col("is_agent") | pl.col("is_tool") | model).with_columns(
        pl.col("owner").fill_null(pl.lit(NO_AGENT)).alias("source"),
        pl.when("is_agent")
        .then(pl.lit("agent"))
        .when("is_tool")
        .then(pl.lit("tool"))
        .otherwise(pl.lit("model"))
        .alias("kind"),
        pl.when(model)
        .then(pl.col("model").fill_null(UNKNOWN_MODEL))
        .otherwise(pl.col("label"))
        .alias("name"),
        pl.when(model).then(1).otherwise(pl.col("inside_calls")).alias("__calls"),
        pl.when(model)
        .then(pl.col("cost_usd").is_not_null().cast(pl.Float64))
        .otherwise(pl.col("inside_priced"))
        .alias("__priced"),
        pl.when(model)
        .then(pl.col("cost_usd").fill_null(0.0))
        .otherwise(pl.col("inside_usd"))
        .alias("__usd"),
    )
    edges = (
        steps.group_by("source", "kind", "name")
        .agg(
            pl.len().alias("calls"),
            pl.col("failed").sum().alias("errors"),
            pl.col("__calls").sum(),
            pl.col("__priced").sum(),
            pl.col("__usd").sum(),
        )
        .with_columns(_error_rate("errors", "calls"), cost("__calls", "__priced", "__usd"))
    )
    agents = _agents(spans).join(
        _owned(spans, NO_AGENT).select("agent_name", "model_calls", "cost_usd"),
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
    tools = _tools(spans, [pl.col("label").alias("name")]).select(
        "name",
        pl.lit("tool").alias("kind"),
        "calls",
        "errors",
        "error_rate",
        "cost_usd",
        "mean_latency_s",
    )
    models = (
        steps.filter(model)
        .group_by("name")
        .agg(
            pl.len().alias("calls"),
            pl.col("failed").sum().alias("errors"),
            pl.col("cost_usd").count().alias("priced"),
            pl.col("cost_usd").sum().alias("total"),
            pl.col("latency_s").mean().alias("mean_latency_s"),
        )
        .with_columns(_error_rate("errors", "calls"), cost("calls", "priced", "total"))
        .select(
            "name",
            pl.lit("model").alias("kind"),
            "calls",
            "errors",
            "error_rate",
            "cost_usd",
            "mean_latency_s",
        )
    )
    counts = {"calls": pl.Int64, "errors": pl.Int64}
    nodes = pl.concat([f.cast(counts) for f in (agents, tools, models)], how="vertical_relaxed")
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
