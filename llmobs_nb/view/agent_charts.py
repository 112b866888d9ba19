"""Agents and tools: one trace's agents on a timeline, and the agent/tool graph across traces.

:func:`agent_timeline` draws one trace: a lane per agent, its own spans, its tool calls and its
model calls as bars over time, beside a few lines saying where the LLM time and the cost went.
:func:`agent_graph_chart` draws the graph ``analytics.agent_graph`` answers (which agent calls
which agent, tool and model, how often, how often failing, at what cost) with a layered layout
computed here, deterministically: agents by depth from the left, tools then models to the right.
Both are plain Altair (no graph library, no random placement) and render offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import polars as pl

from llmobs_nb.analytics.agents import NO_AGENT, nearest_agent, tool_usage
from llmobs_nb.analytics.span_sql import AGENT_KIND, NOT_AN_INVOCATION, UNNAMED
from llmobs_nb.store.model_call import is_model_call
from llmobs_nb.view.chart_common import empty_chart
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.html import format_cost, format_duration
from llmobs_nb.view.theme import ERROR_COLOR, KIND_COLORS

#: The timeline's bars, one colour each: agent spans, tool spans, model calls.
TIMELINE_KINDS = ("agent", "tool", "model call")
TIMELINE_COLORS = (KIND_COLORS["agent"], KIND_COLORS["tool"], KIND_COLORS["llm"])
_TIMELINE_NEEDS = ("span_id", "parent_span_id", "name", "kind", "start_time", "end_time")
_OPTIONAL: dict[str, pl.DataType] = {
    "operation": pl.String(),
    "agent_name": pl.String(),
    "tool_name": pl.String(),
    "model": pl.String(),
    "status": pl.String(),
    "error_type": pl.String(),
    "latency_s": pl.Float64(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
}

#: The graph's node shapes by kind.
NODE_SHAPES = {"agent": "circle", "tool": "square", "model": "diamond"}
#: Nodes drawn at most: the most called are kept, the subtitle counts the others.
MAX_NODES = 30
_COLUMN_PX = 170
_ROW_PX = 56
_LABEL_CHARS = 26
_GREY_SYMBOLS = alt.Legend(tickCount=3, symbolFillColor="#cccccc", symbolStrokeColor="#333333")


# -- one trace: the agent timeline -----------------------------------------------------------


def _trace_spans(trace_or_spans: Any) -> pl.DataFrame:
    spans = getattr(trace_or_spans, "spans", trace_or_spans)  # a view.Trace holds its spans
    if not isinstance(spans, pl.DataFrame):
        raise TypeError(
            "agent_timeline takes a llmobs_nb.view.Trace or the spans of one trace as a polars "
            f"DataFrame, not {type(trace_or_spans).__name__} (Trace.load(obs, trace_id))"
        )
    missing = [c for c in _TIMELINE_NEEDS if c not in spans.columns]
    if missing:
        raise ValueError(
            f"an agent timeline needs the spans columns {list(_TIMELINE_NEEDS)}; missing "
            f"{missing} (use Trace.load(obs, trace_id) or obs.sql('select * from spans ...'))"
        )
    if "trace_id" in spans.columns and spans["trace_id"].n_unique() > 1:
        raise ValueError(
            f"an agent timeline shows one trace, but the spans belong to "
            f"{spans['trace_id'].n_unique()} traces: filter them first, e.g. "
            "spans.filter(pl.col('trace_id') == trace_id)"
        )
    return spans.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in _OPTIONAL.items() if name not in spans
    )


def _lanes(spans: pl.DataFrame) -> dict[str, str]:
    """Each span's agent, by analytics' ownership rule (``analytics.agents.nearest_agent``):
    an agent invocation is its own lane (its ``agent_name``, else its span name); any other
    span belongs to its nearest agent ancestor, else to its own ``agent_name``, else to
    :data:`NO_AGENT`."""
    rows = spans.select("span_id", "parent_span_id", "name", "kind", "operation", "agent_name")
    position = {span_id: i for i, span_id in enumerate(rows["span_id"].to_list())}
    parent = np.array(
        [position.get(up, -1) for up in rows["parent_span_id"].to_list()], dtype=np.int64
    )
    is_agent = np.array(
        [
            kind == AGENT_KIND and operation != NOT_AN_INVOCATION
            for kind, operation in rows.select("kind", "operation").rows()
        ],
        dtype=bool,
    )
    owner = nearest_agent(parent, is_agent)
    label = [agent or name or UNNAMED for agent, name in rows.select("agent_name", "name").rows()]
    lane = {}
    for i, (span_id, agent) in enumerate(rows.select("span_id", "agent_name").rows()):
        if is_agent[i]:
            lane[span_id] = label[i]
        elif owner[i] >= 0:
            lane[span_id] = label[owner[i]]
        else:
            lane[span_id] = agent or NO_AGENT
    return lane


def _tracks(starts: Sequence[float], ends: Sequence[float]) -> list[int]:
    """Interval packing: each bar on the first track free at its start (bars are sorted by
    start), so overlapping bars (parallel tool calls) never hide one another."""
    free_at: list[float] = []
    placed = []
    for start, end in zip(starts, ends, strict=True):
        for track, until in enumerate(free_at):
            if until <= start:
                free_at[track] = end
                placed.append(track)
                break
        else:
            free_at.append(end)
            placed.append(len(free_at) - 1)
    return placed


def timeline_spans(trace_or_spans: Any) -> pl.DataFrame:
    """The timeline's rows: one per agent, tool and model-call span of the trace, with its
    ``lane`` (agent), ``what`` (one of :data:`TIMELINE_KINDS`), ``track`` (its row inside the
    lane: agent spans first, then tools, then model calls, parallel spans on tracks of their
    own), ``start_ms``/``end_ms`` since the trace began and ``duration_s`` (the stored
    ``latency_s``; end minus start where it is NULL).

    Example:
        >>> rows = timeline_spans(Trace.load(obs, trace_id))   # doctest: +SKIP
        >>> rows.select("lane", "what", "name")                # doctest: +SKIP
    """
    spans = _trace_spans(trace_or_spans)
    schema = {
        "lane": pl.String,
        "lane_order": pl.Int64,
        "what": pl.String,
        "track": pl.Int64,
        "span_id": pl.String,
        "name": pl.String,
        "kind": pl.String,
        "start_ms": pl.Float64,
        "end_ms": pl.Float64,
        "duration_s": pl.Float64,
        **{k: v for k, v in _OPTIONAL.items() if k not in ("latency_s", "operation")},
        "failed": pl.Boolean,
    }
    if spans.height == 0:
        return pl.DataFrame(schema=schema)
    lane = _lanes(spans)
    t0 = spans["start_time"].min()
    what = (
        pl.when(pl.col("kind") == "agent")
        .then(pl.lit("agent"))
        .when(pl.col("kind") == "tool")
        .then(pl.lit("tool"))
        .when(is_model_call.polars())
        .then(pl.lit("model call"))
    )
    shown = (
        spans.with_columns(
            what.alias("what"),
            pl.col("span_id").replace_strict(lane, default=NO_AGENT).alias("lane"),
            ((pl.col("start_time") - t0).dt.total_microseconds() / 1000).alias("start_ms"),
            ((pl.col("end_time") - t0).dt.total_microseconds() / 1000).alias("end_ms"),
        )
        .filter(pl.col("what").is_not_null())
        .with_columns(
            pl.coalesce(pl.col("latency_s"), (pl.col("end_ms") - pl.col("start_ms")) / 1000).alias(
                "duration_s"
            ),
            (pl.col("status") == "error").fill_null(False).alias("failed"),
            pl.col("what")
            .replace_strict(dict(zip(TIMELINE_KINDS, range(3), strict=True)))
            .alias("_group"),
        )
    )
    if shown.height == 0:
        return pl.DataFrame(schema=schema)
    # Lanes in the order their agent first acts; NO_AGENT's spans in a lane of their own.
    firsts = (
        shown.group_by("lane").agg(pl.col("start_ms").min().alias("first")).sort("first", "lane")
    )
    order = {name: i for i, name in enumerate(firsts["lane"].to_list())}
    parts = []
    for (_,), in_lane in shown.sort("lane", "_group", "start_ms", "end_ms", "span_id").group_by(
        ["lane"], maintain_order=True
    ):
        offset = 0
        for (_,), group in in_lane.group_by(["_group"], maintain_order=True):
            tracks = _tracks(group["start_ms"].to_list(), group["end_ms"].to_list())
            parts.append(group.with_columns(pl.Series("track", [offset + t for t in tracks])))
            offset += max(tracks) + 1
    laid = pl.concat(parts).with_columns(
        pl.col("lane").replace_strict(order, return_dtype=pl.Int64).alias("lane_order")
    )
    return laid.sort("lane_order", "track", "start_ms", "span_id").select(
        *[pl.col(c).cast(t) for c, t in schema.items()]
    )


def _share(part: pl.Expr, whole: float | None) -> pl.Expr:
    return part / whole if whole else pl.lit(None, pl.Float64)


def _sum_or_null(column: str) -> pl.Expr:
    # NULL, never a made-up zero: a sum over unpriced calls only is unknown.
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum())


def timeline_summary(trace_or_spans: Any) -> pl.DataFrame:
    """Where one trace's LLM time and cost went, per agent and per tool.

    One row per agent (``group`` = ``agent``: its model calls, their summed duration and cost,
    each as a share of the trace's model calls) and per tool (``group`` = ``tool``: its calls,
    their summed run time as a share of the trace's duration, and the cost of the model calls
    made inside them as a share of the trace's cost); ``errors`` counts failed spans. Columns:
    ``group, name, calls, errors, time_s, time_share, cost_usd, cost_share``.

    Example:
        >>> timeline_summary(trace).filter(pl.col("group") == "agent")   # doctest: +SKIP
    """
    spans = _trace_spans(trace_or_spans)
    return _summary(spans, timeline_spans(spans))


def _summary(spans: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    schema = {
        "group": pl.String,
        "name": pl.String,
        "calls": pl.Int64,
        "errors": pl.Int64,
        "time_s": pl.Float64,
        "time_share": pl.Float64,
        "cost_usd": pl.Float64,
        "cost_share": pl.Float64,
    }
    if rows.height == 0:
        return pl.DataFrame(schema=schema)
    calls = rows.filter(pl.col("what") == "model call")
    llm_s = calls["duration_s"].sum() if calls.height else None
    cost = calls["cost_usd"].sum() if calls["cost_usd"].is_not_null().any() else None
    trace_s = (spans["end_time"].max() - spans["start_time"].min()).total_seconds()
    agents = (
        calls.group_by("lane")
        .agg(
            pl.len().alias("calls"),
            pl.col("failed").sum().alias("errors"),
            pl.col("duration_s").sum().alias("time_s"),
            _sum_or_null("cost_usd").alias("cost_usd"),
            pl.col("lane_order").first(),
        )
        .sort("lane_order")
        .select(
            pl.lit("agent").alias("group"),
            pl.col("lane").alias("name"),
            "calls",
            "errors",
            "time_s",
            _share(pl.col("time_s"), llm_s).alias("time_share"),
            "cost_usd",
            _share(pl.col("cost_usd"), cost).alias("cost_share"),
        )
    )
    tools = rows.filter(pl.col("what") == "tool").with_columns(
        pl.coalesce("tool_name", "name").alias("tool")  # analytics' name for a tool
    )
    # The cost of the model calls made inside each tool span: analytics' one rule.
    spent_inside = (
        tool_usage(spans)
        .group_by("tool_name")
        .agg(_sum_or_null("cost_usd"))
        .rename({"tool_name": "tool"})
    )
    by_tool = (
        tools.group_by("tool")
        .agg(
            pl.len().alias("calls"),
            pl.col("failed").sum().alias("errors"),
            pl.col("duration_s").sum().alias("time_s"),
            pl.col("start_ms").min().alias("first"),
        )
        .join(spent_inside, on="tool", how="left")
        .sort("time_s", "tool", descending=[True, False])
        .select(
            pl.lit("tool").alias("group"),
            pl.col("tool").alias("name"),
            "calls",
            "errors",
            "time_s",
            _share(pl.col("time_s"), trace_s).alias("time_share"),
            "cost_usd",
            _share(pl.col("cost_usd"), cost).alias("cost_share"),
        )
    )
    return pl.concat([agents, by_tool]).select(*[pl.col(c).cast(t) for c, t in schema.items()])


def _pct(value: float | None) -> str:
    return "" if value is None else f" ({value:.0%})"


def summary_lines(trace_or_spans: Any, *, max_lines: int = 14) -> list[str]:
    """:func:`timeline_summary` as the short text shown beside the timeline.

    Example:
        >>> summary_lines(trace)[0]   # doctest: +SKIP
        'model calls: 3, 1.21 s LLM time, $0.0123'
    """
    spans = _trace_spans(trace_or_spans)
    return _lines(spans, timeline_spans(spans), max_lines)


def _lines(spans: pl.DataFrame, rows: pl.DataFrame, max_lines: int = 14) -> list[str]:
    found = _summary(spans, rows)
    calls = rows.filter(pl.col("what") == "model call")
    cost = calls["cost_usd"].sum() if calls["cost_usd"].is_not_null().any() else None
    lines = [
        f"model calls: {calls.height}, {format_duration(calls['duration_s'].sum())} LLM time, "
        f"{format_cost(cost)}"
    ]
    agents = found.filter(pl.col("group") == "agent")
    if agents.height:
        lines.append("per agent — LLM time · cost:")
        for row in agents.iter_rows(named=True):
            failed = f", {row['errors']} failed" if row["errors"] else ""
            lines.append(
                f"· {_short(row['name'])}: {format_duration(row['time_s'])}"
                f"{_pct(row['time_share'])}"
                f" · {format_cost(row['cost_usd'])}{_pct(row['cost_share'])}{failed}"
            )
    tools = found.filter(pl.col("group") == "tool")
    if tools.height:
        lines.append("per tool — run time (share of the trace):")
        for row in tools.iter_rows(named=True):
            failed = f", {row['errors']} failed" if row["errors"] else ""
            spent = "" if row["cost_usd"] is None else f" · {format_cost(row['cost_usd'])} inside"
            lines.append(
                f"· {_short(row['name'])} ×{row['calls']}: {format_duration(row['time_s'])}"
                f"{_pct(row['time_share'])}{spent}{failed}"
            )
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], f"… {len(lines) - max_lines + 1} more lines"]
    return lines


def _short(name: str, limit: int = _LABEL_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


@draws_offline
def agent_timeline(trace_or_spans: Any, *, title: str | None = None) -> alt.TopLevelMixin:
    """One trace's agents over time: a lane per agent (an agent span's own; any other span's
    nearest agent ancestor's, else its ``agent_name``: analytics' ownership rule), holding the
    agent's own spans, its model calls and its tool calls as bars (ms since the trace began,
    coloured by kind; failed spans outlined in red and marked ✕; tooltips with name,
    duration, tokens, cost and status), beside a short summary of where the LLM time and the
    cost went, per agent and per tool.

    ``trace_or_spans``: a :class:`llmobs_nb.view.Trace` or the ``spans`` rows of one trace.

    Example:
        >>> agent_timeline(Trace.load(obs, trace_id))   # doctest: +SKIP
    """
    spans = _trace_spans(trace_or_spans)
    rows = timeline_spans(spans)
    trace_id = spans["trace_id"][0] if "trace_id" in spans.columns and spans.height else None
    title = title or (f"Agents of trace {trace_id}" if trace_id else "Agents of the trace")
    if rows.height == 0:
        return empty_chart(title, "no agent, tool or model-call spans in this trace")
    rows = rows.with_columns(
        (pl.col("duration_s") * 1000).alias("duration_ms"),
        pl.coalesce("tool_name", "model").alias("detail"),
    )
    lanes = rows.unique("lane").sort("lane_order")["lane"].to_list()
    tracks = int(rows["track"].max()) + 1
    y = alt.Y("lane:N", sort=lanes, title=None, axis=alt.Axis(labelLimit=180))
    offset = alt.YOffset("track:O", scale=alt.Scale(domain=list(range(tracks))), title=None)
    tooltip = [
        alt.Tooltip("name:N"),
        alt.Tooltip("what:N", title="kind"),
        alt.Tooltip("lane:N", title="agent"),
        alt.Tooltip("detail:N", title="tool / model"),
        alt.Tooltip("start_ms:Q", format=",.1f", title="start (ms)"),
        alt.Tooltip("duration_ms:Q", format=",.1f", title="duration (ms)"),
        alt.Tooltip("input_tokens:Q", title="input tokens"),
        alt.Tooltip("output_tokens:Q", title="output tokens"),
        alt.Tooltip("cost_usd:Q", format="$,.5f", title="cost"),
        alt.Tooltip("status:N"),
        alt.Tooltip("error_type:N", title="error"),
    ]
    base = alt.Chart(rows)
    bars = base.mark_bar(height={"band": 0.8}, cornerRadius=2).encode(
        x=alt.X("start_ms:Q", title="ms since the trace began"),
        x2="end_ms:Q",
        y=y,
        yOffset=offset,
        color=alt.Color(
            "what:N",
            title="span",
            scale=alt.Scale(domain=list(TIMELINE_KINDS), range=list(TIMELINE_COLORS)),
        ),
        stroke=alt.condition("datum.failed", alt.value(ERROR_COLOR), alt.value(None)),
        strokeWidth=alt.condition("datum.failed", alt.value(2), alt.value(0)),
        tooltip=tooltip,
    )
    failed = (
        base.transform_filter("datum.failed")
        .mark_text(text="✕", color=ERROR_COLOR, align="left", dx=4, fontWeight="bold")
        .encode(x="end_ms:Q", y=y, yOffset=offset, tooltip=tooltip)
    )
    height = max(80, len(lanes) * max(30, 14 * tracks))
    timeline = alt.layer(bars, failed, title=title).properties(height=height)
    lines = _lines(spans, rows)
    text = (
        alt.Chart(
            pl.DataFrame({"line": list(range(len(lines))), "text": lines}),
            title="Where the LLM time and cost went",
        )
        .mark_text(align="left", baseline="middle", fontSize=11, color="#333333")
        .encode(
            x=alt.value(0),
            y=alt.Y("line:O", axis=None),
            text="text:N",
        )
        .properties(width=300, height=16 * len(lines))
    )
    return alt.hconcat(timeline, text, spacing=24).resolve_scale(color="independent")


# -- across traces: the agent / tool / model graph -------------------------------------------


def _graph_frames(graph: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    if isinstance(graph, tuple) and len(graph) == 2:
        nodes, edges = graph
    else:
        nodes, edges = getattr(graph, "nodes", None), getattr(graph, "edges", None)
    if not isinstance(nodes, pl.DataFrame) or not isinstance(edges, pl.DataFrame):
        raise TypeError(
            "agent_graph_chart takes what analytics.agent_graph returns (nodes and edges as "
            f"polars DataFrames), not {type(graph).__name__}"
        )
    for frame, needed, what in (
        (nodes, ("node", "kind", "calls"), "nodes"),
        (edges, ("source", "target", "calls"), "edges"),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"the graph's {what} lack the columns {missing}")
    return nodes, edges


def _agent_depths(agents: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each agent's column: 0 for agents no other agent calls, else one past its nearest
    caller's (breadth first); agents only reached through a loop start from the most called."""
    callers: dict[str, set[str]] = {a: set() for a in agents}
    called: dict[str, list[str]] = {a: [] for a in agents}
    for source, target in edges:
        if source in callers and target in callers and source != target:
            callers[target].add(source)
            called[source].append(target)
    depth: dict[str, int] = {}
    starts = [a for a in agents if not callers[a]]  # agents come most called first
    while len(depth) < len(agents):
        if not starts:  # the rest only call one another in a loop: enter it at the most called
            starts = [next(a for a in agents if a not in depth)]
        queue = [(a, 0) for a in starts]
        starts = []
        while queue:
            node, d = queue.pop(0)
            if node in depth:
                continue
            depth[node] = d
            queue.extend((t, d + 1) for t in sorted(called[node]) if t not in depth)
    return depth


def agent_graph_layout(
    graph: Any, *, max_nodes: int = MAX_NODES
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The graph laid out for drawing: ``(nodes, edges, left_out)``.

    The ``max_nodes`` most called nodes are kept (ties by name); ``left_out`` counts the
    others, and edges touching them are dropped. Agents take the first columns by depth (an
    agent no other agent calls is at depth 0), tools the next column, models the last; in
    each column nodes are ordered by the mean row of their callers (fewer crossings), then by
    calls and name, and centred. The same graph always gives the same layout. Nodes gain
    ``column``, ``x`` and ``y`` (``y`` 0 at the top), edges ``x``, ``y``, ``x2``, ``y2``.

    Example:
        >>> graph = analytics.agent_graph(obs)                       # doctest: +SKIP
        >>> nodes, edges, left_out = agent_graph_layout(graph)       # doctest: +SKIP
    """
    nodes, edges = _graph_frames(graph)
    if max_nodes < 1:
        raise ValueError(f"max_nodes={max_nodes!r}: keep at least one node")
    ranked = nodes.sort(["calls", "node"], descending=[True, False], nulls_last=True)
    kept = ranked.head(max_nodes)
    left_out = nodes.height - kept.height
    names = set(kept["node"].to_list())
    edges = edges.filter(pl.col("source").is_in(names) & pl.col("target").is_in(names))
    pairs = edges.select("source", "target").rows()
    kind = dict(kept.select("node", "kind").rows())
    agents = [n for n in kept["node"].to_list() if kind[n] == "agent"]
    depth = _agent_depths(agents, pairs)
    last = max(depth.values(), default=-1)
    column = {
        n: depth[n] if kind[n] == "agent" else last + (1 if kind[n] == "tool" else 2)
        for n in kept["node"].to_list()
    }
    # Close the gap when there are no tools (models move next to the agents).
    used = sorted(set(column.values()))
    column = {n: used.index(c) for n, c in column.items()}
    callers: dict[str, list[str]] = {}
    for source, target in pairs:
        if source != target:
            callers.setdefault(target, []).append(source)
    calls = dict(kept.select("node", "calls").rows())
    row: dict[str, float] = {}
    for col in range(len(used)):
        here = [n for n in kept["node"].to_list() if column[n] == col]

        def key(n: str) -> tuple[float, float, str]:
            above = [row[c] for c in callers.get(n, []) if c in row]
            mean = sum(above) / len(above) if above else -1.0
            return (mean, -(calls[n] or 0), n)

        for i, n in enumerate(sorted(here, key=key)):
            row[n] = float(i)
    tallest = max((sum(1 for n in column if column[n] == c) for c in range(len(used))), default=1)
    offsets = {
        c: (tallest - sum(1 for n in column if column[n] == c)) / 2 for c in range(len(used))
    }
    laid = kept.with_columns(
        pl.col("node").replace_strict(column, return_dtype=pl.Int64).alias("column"),
        pl.col("node")
        .replace_strict({n: row[n] + offsets[column[n]] for n in column}, return_dtype=pl.Float64)
        .alias("y"),
        pl.col("node").map_elements(_short, return_dtype=pl.String).alias("label"),
    ).with_columns(pl.col("column").cast(pl.Float64).alias("x"))
    at = {n: (x, y) for n, x, y in laid.select("node", "x", "y").rows()}
    edges = edges.with_columns(
        pl.col("source")
        .replace_strict({n: p[0] for n, p in at.items()}, return_dtype=pl.Float64)
        .alias("x"),
        pl.col("source")
        .replace_strict({n: p[1] for n, p in at.items()}, return_dtype=pl.Float64)
        .alias("y"),
        pl.col("target")
        .replace_strict({n: p[0] for n, p in at.items()}, return_dtype=pl.Float64)
        .alias("x2"),
        pl.col("target")
        .replace_strict({n: p[1] for n, p in at.items()}, return_dtype=pl.Float64)
        .alias("y2"),
    ).sort("source", "target")
    return laid.sort("column", "y"), edges, left_out


@draws_offline
def agent_graph_chart(
    graph: Any, *, color: str = "error_rate", max_nodes: int = MAX_NODES, title: str | None = None
) -> alt.TopLevelMixin:
    """Which agent calls which agent, tool and model, across traces: nodes (agents as circles,
    tools as squares, models as diamonds; sized by calls, coloured by ``color``: ``error_rate``
    or ``cost_usd``, labelled) and edges (lines as wide as their call count), laid out by
    :func:`agent_graph_layout`: agents by depth from the left, then tools, then models. At most
    ``max_nodes`` nodes (the most called) are drawn; the subtitle says how many were left out.

    ``graph``: what ``analytics.agent_graph`` returns (``AgentGraph(nodes, edges)``).

    Example:
        >>> agent_graph_chart(analytics.agent_graph(obs), color="cost_usd")   # doctest: +SKIP
    """
    if color not in ("error_rate", "cost_usd"):
        raise ValueError(f"color={color!r}: colour the nodes by 'error_rate' or 'cost_usd'")
    nodes, edges, left_out = agent_graph_layout(graph, max_nodes=max_nodes)
    title = title or "Agents, tools and models"
    if nodes.height == 0:
        return empty_chart(title, "no agents or tools in this selection")
    optional = {"errors": pl.Int64, "error_rate": pl.Float64, "cost_usd": pl.Float64}
    nodes = nodes.with_columns(
        pl.lit(None, t).alias(c)
        for c, t in {**optional, "mean_latency_s": pl.Float64}.items()
        if c not in nodes.columns
    )
    edges = edges.with_columns(
        pl.lit(None, t).alias(c) for c, t in optional.items() if c not in edges.columns
    )
    shown = f"{nodes.height} nodes"
    if left_out:
        shown = (
            f"{nodes.height} of {nodes.height + left_out} nodes shown (the {nodes.height} most "
            f"called); {left_out} left out"
        )
    what = "error rate" if color == "error_rate" else "cost"
    subtitle = [f"{shown} · callers on the left · size: calls · colour: {what} · line width: calls"]
    columns = int(nodes["column"].max()) + 1
    rows = float(nodes["y"].max()) + 1
    x_scale = alt.Scale(domain=[-0.4, columns - 0.2], nice=False, zero=False)
    y_scale = alt.Scale(domain=[-0.6, rows - 0.4], reverse=True, nice=False, zero=False)
    x = alt.X("x:Q", scale=x_scale, axis=None)
    y = alt.Y("y:Q", scale=y_scale, axis=None)
    lines = (
        alt.Chart(edges)
        .mark_rule(color="#9a9a9a", opacity=0.7)
        .encode(
            x=x,
            y=y,
            x2="x2:Q",
            y2="y2:Q",
            strokeWidth=alt.StrokeWidth("calls:Q", scale=alt.Scale(range=[1, 8]), legend=None),
            tooltip=[
                alt.Tooltip("source:N", title="from"),
                alt.Tooltip("target:N", title="to"),
                alt.Tooltip("calls:Q", format=","),
                alt.Tooltip("errors:Q", format=","),
                alt.Tooltip("error_rate:Q", format=".1%", title="error rate"),
                alt.Tooltip("cost_usd:Q", format="$,.4f", title="cost"),
            ],
        )
    )
    scheme = "orangered" if color == "error_rate" else "blues"
    top = nodes[color].max()
    # From zero: a pale node is a node that rarely fails (or costs little), whatever the rest.
    domain = [0.0, max(float(top or 0.0), 0.01 if color == "error_rate" else 1e-6)]
    legend_format = ".0%" if color == "error_rate" else "$,.3f"
    marker = {"filled": True, "opacity": 0.95, "stroke": "#333333", "strokeWidth": 0.6}
    encoding = {
        "x": x,
        "y": y,
        "shape": alt.Shape(
            "kind:N",
            title="node",
            scale=alt.Scale(domain=list(NODE_SHAPES), range=list(NODE_SHAPES.values())),
            legend=_GREY_SYMBOLS,
        ),
        "size": alt.Size(
            "calls:Q",
            scale=alt.Scale(range=[60, 900]),
            title="calls",
            legend=_GREY_SYMBOLS,
        ),
        "tooltip": [
            alt.Tooltip("node:N"),
            alt.Tooltip("kind:N"),
            alt.Tooltip("calls:Q", format=","),
            alt.Tooltip("errors:Q", format=","),
            alt.Tooltip("error_rate:Q", format=".1%", title="error rate"),
            alt.Tooltip("cost_usd:Q", format="$,.4f", title="cost"),
            alt.Tooltip("mean_latency_s:Q", format=",.2f", title="mean latency (s)"),
        ],
    }
    # Two layers: Vega-Lite drops a point whose colour field is NULL (an agent without calls
    # has no error rate, an unpriced model no cost), so those are drawn grey on their own.
    points = (
        alt.Chart(nodes)
        .transform_filter(f"isValid(datum.{color})")
        .mark_point(**marker)
        .encode(
            **encoding,
            color=alt.Color(
                f"{color}:Q",
                title=what,
                scale=alt.Scale(scheme=scheme, domain=domain),
                legend=alt.Legend(format=legend_format),
            ),
        )
    )
    unknown = (
        alt.Chart(nodes)
        .transform_filter(f"!isValid(datum.{color})")
        .mark_point(**marker, color="#bbbbbb")
        .encode(**encoding)
    )
    text = {"align": "left", "baseline": "middle", "dx": 14, "fontSize": 11}
    # A white outline under each label keeps it readable where an edge passes behind it.
    halo = (
        alt.Chart(nodes)
        .mark_text(**text, stroke="white", strokeWidth=3, strokeOpacity=0.9)
        .encode(x=x, y=y, text="label:N")
    )
    labels = alt.Chart(nodes).mark_text(**text, color="#222222").encode(x=x, y=y, text="label:N")
    return alt.layer(
        lines, points, unknown, halo, labels, title=alt.TitleParams(text=title, subtitle=subtitle)
    ).properties(width=max(260, _COLUMN_PX * columns), height=max(200, int(_ROW_PX * rows)))


__all__ = [
    "MAX_NODES",
    "agent_graph_chart",
    "agent_graph_layout",
    "agent_timeline",
    "summary_lines",
    "timeline_spans",
    "timeline_summary",
]
