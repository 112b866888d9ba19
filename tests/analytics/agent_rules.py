"""The rules of ``analytics.sessions`` and ``analytics.agents`` restated in plain Python over
span rows (dicts), independently of the package's code, to check every column against.

Each function takes the rows of the ``spans`` table (``frame.to_dicts()``) and returns the
expected answer as a polars frame in the documented order (or a dict for the graph).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

Row = dict[str, Any]
ARROW = " → "


def is_model(s: Row) -> bool:
    return s["kind"] in ("llm", "embedding") or (
        s["kind"] == "evaluator" and s.get("model") is not None
    )


def is_agent(s: Row) -> bool:
    return s["kind"] == "agent" and s.get("operation") != "create_agent"


def is_tool(s: Row) -> bool:
    return s["kind"] == "tool"


def failed(s: Row) -> bool:
    return s.get("status") == "error"


def label(s: Row) -> str:
    own = s.get("agent_name") if s["kind"] == "agent" else s.get("tool_name")
    return own or s.get("name") or "(unnamed)"


def end_of(s: Row) -> datetime:
    return s.get("end_time") or s["start_time"]


def cost_of(calls: Iterable[Row]) -> float | None:
    """0.0 without calls; None when none is priced; else the priced ones' sum."""
    calls = list(calls)
    if not calls:
        return 0.0
    priced = [c["cost_usd"] for c in calls if c.get("cost_usd") is not None]
    return float(sum(priced)) if priced else None


def quantile(values: list[float], q: float) -> float | None:
    needed = {0.5: 2, 0.95: 20}[q]
    return float(np.quantile(values, q)) if len(values) >= needed else None


def mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


class Spans:
    """The rows with the parent walk: ``ancestors(s)`` nearest first."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.by_id: dict[tuple[str, str], Row] = {}
        for s in rows:
            self.by_id.setdefault((s["trace_id"], s["span_id"]), s)

    def ancestors(self, s: Row) -> list[Row]:
        found, seen = [], set()
        parent = s.get("parent_span_id")
        while parent is not None and (s["trace_id"], parent) in self.by_id:
            a = self.by_id[(s["trace_id"], parent)]
            if id(a) in seen:
                break
            seen.add(id(a))
            found.append(a)
            parent = a.get("parent_span_id")
        return found

    def owner_span(self, s: Row) -> Row | None:
        return next((a for a in self.ancestors(s) if is_agent(a)), None)

    def owner(self, s: Row) -> str | None:
        span = self.owner_span(s)
        if span is not None:
            return label(span)
        return None if is_agent(s) else s.get("agent_name")

    def inside(self, step: Row) -> list[Row]:
        return [c for c in self.rows if is_model(c) and any(a is step for a in self.ancestors(c))]


def frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


# -- sessions -----------------------------------------------------------------------------------


def score_calls(rows: list[Row], scores: list[Row], name: str | None) -> list[tuple[Row, float]]:
    """Each score with its call: the model call its span_id names, else its trace's first
    call (kind llm first, then the earliest)."""
    calls = [s for s in rows if is_model(s)]
    by_span = {c["span_id"]: c for c in calls}
    out = []
    for sc in scores:
        if sc["value"] is None or (name is not None and sc["name"] != name):
            continue
        call = by_span.get(sc["span_id"]) if sc["span_id"] else None
        if call is None:
            mine = [c for c in calls if c["trace_id"] == sc["trace_id"]]
            if not mine:
                continue
            call = min(mine, key=lambda c: (c["kind"] != "llm", c["start_time"]))
        out.append((call, sc["value"]))
    return out


def sessions(
    rows: list[Row],
    scores: list[Row],
    *,
    by: str = "session",
    score: str | None = None,
    keep: Any = lambda s: True,
) -> pl.DataFrame:
    """``keep``: the where= filter, a test on one span. A score is matched to its call among
    all calls, then counts when that call is kept."""
    kept = [s for s in rows if s.get("session_id") is not None and keep(s)]
    groups: dict[str, list[Row]] = defaultdict(list)
    for s in kept:
        groups[s["session_id"]].append(s)
    scored: dict[str, list[float]] = defaultdict(list)
    for call, value in score_calls(rows, scores, score):
        if call.get("session_id") is not None and keep(call):
            scored[call["session_id"]].append(value)
    out = []
    for sid, spans in groups.items():
        calls = [s for s in spans if is_model(s)]
        users = sorted((s for s in spans if s.get("user_id")), key=lambda s: s["start_time"])
        first = min(s["start_time"] for s in spans)
        last = max(end_of(s) for s in spans)
        out.append(
            {
                "session_id": sid,
                "user_id": users[0]["user_id"] if users else None,
                "turns": len({s["trace_id"] for s in spans}),
                "calls": len(calls),
                "errors": sum(failed(c) for c in calls),
                "duration_s": (last - first).total_seconds(),
                "cost_usd": cost_of(calls),
                "input_tokens": sum(c.get("input_tokens") or 0 for c in calls),
                "output_tokens": sum(c.get("output_tokens") or 0 for c in calls),
                "scores": scored.get(sid, []),
                "first_activity": first,
                "last_activity": last,
                "__calls": calls,
            }
        )
    if by == "user":
        users: dict[str | None, list[dict]] = defaultdict(list)
        for row in out:
            users[row["user_id"]].append(row)
        out = []
        for user, mine in users.items():
            calls = [c for row in mine for c in row["__calls"]]
            values = [v for row in mine for v in row["scores"]]
            out.append(
                {
                    "user_id": user,
                    "sessions": len(mine),
                    **{k: sum(r[k] for r in mine) for k in ("turns", "calls", "errors")},
                    "duration_s": sum(r["duration_s"] for r in mine),
                    "cost_usd": cost_of(calls),
                    "input_tokens": sum(r["input_tokens"] for r in mine),
                    "output_tokens": sum(r["output_tokens"] for r in mine),
                    "mean_score": mean(values) if values else None,
                    "first_activity": min(r["first_activity"] for r in mine),
                    "last_activity": max(r["last_activity"] for r in mine),
                }
            )
        out.sort(key=lambda r: (r["user_id"] is None, r["user_id"] or ""))
        out.sort(key=lambda r: r["last_activity"], reverse=True)
        return frame(out, USER_SCHEMA)
    for row in out:
        row["mean_score"] = mean(row.pop("scores")) if row["scores"] else None
        del row["__calls"]
    out.sort(key=lambda r: r["session_id"])
    out.sort(key=lambda r: r["last_activity"], reverse=True)
    return frame(out, SESSION_SCHEMA)


def session_turns(rows: list[Row], session_id: str) -> pl.DataFrame:
    mine = [s for s in rows if s.get("session_id") == session_id]
    traces: dict[str, list[Row]] = defaultdict(list)
    for s in mine:
        traces[s["trace_id"]].append(s)
    out = []
    for trace_id, spans in traces.items():
        ids = {s["span_id"] for s in spans}
        roots = [s for s in spans if s.get("parent_span_id") not in ids]
        root = min(roots, key=lambda s: (s["start_time"], s["span_id"]))
        calls = sorted((s for s in spans if is_model(s)), key=lambda s: s["start_time"])
        inputs = [c["input_text"] for c in calls if c.get("input_text") is not None]
        outputs = [c["output_text"] for c in calls if c.get("output_text") is not None]
        latency = root.get("latency_s")
        if latency is None:
            latency = (end_of(root) - root["start_time"]).total_seconds()
        out.append(
            {
                "trace_id": trace_id,
                "start_time": root["start_time"],
                "latency_s": latency,
                "calls": len(calls),
                "cost_usd": cost_of(calls),
                "errors": sum(failed(c) for c in calls),
                "status": "error" if any(failed(s) for s in spans) else "ok",
                "input_text": root.get("input_text") or (inputs[0] if inputs else None),
                "output_text": root.get("output_text") or (outputs[-1] if outputs else None),
            }
        )
    out.sort(key=lambda r: (r["start_time"], r["trace_id"]))
    return frame([{"turn": i + 1, **r} for i, r in enumerate(out)], TURN_SCHEMA)


# -- agents -------------------------------------------------------------------------------------


def tool_usage(rows: list[Row], by: str = "tool") -> pl.DataFrame:
    tree = Spans(rows)
    if by == "tool":
        groups: dict[tuple, list[Row]] = defaultdict(list)
        for s in rows:
            if is_tool(s):
                groups[(tree.owner(s), label(s))].append(s)
        out = []
        for (agent, tool), calls in groups.items():
            lat = [c["latency_s"] for c in calls if c.get("latency_s") is not None]
            errors = sum(failed(c) for c in calls)
            out.append(
                {
                    "agent_name": agent,
                    "tool_name": tool,
                    "calls": len(calls),
                    "errors": errors,
                    "error_rate": errors / len(calls),
                    "latency_p50_s": quantile(lat, 0.5),
                    "latency_p95_s": quantile(lat, 0.95),
                    "total_latency_s": sum(lat) if lat else None,
                    "cost_usd": cost_of(c for t in calls for c in tree.inside(t)),
                }
            )
        out.sort(key=lambda r: (r["agent_name"] is None, r["agent_name"] or "", r["tool_name"]))
        out.sort(key=lambda r: r["calls"], reverse=True)
        return frame(out, TOOL_SCHEMA)
    agents: dict[str, list[Row]] = defaultdict(list)
    owned: dict[str, list[Row]] = defaultdict(list)
    for s in rows:
        if is_agent(s):
            agents[label(s)].append(s)
        if is_tool(s) or is_model(s):
            name = tree.owner(s)
            if name is not None:
                owned[name].append(s)
    out = []
    for name in set(agents) | set(owned):
        runs, mine = agents.get(name, []), owned.get(name, [])
        lat = [r["latency_s"] for r in runs if r.get("latency_s") is not None]
        errors = sum(failed(r) for r in runs)
        calls = [s for s in mine if is_model(s)]
        out.append(
            {
                "agent_name": name,
                "invocations": len(runs),
                "errors": errors,
                "error_rate": errors / len(runs) if runs else None,
                "latency_p50_s": quantile(lat, 0.5),
                "latency_p95_s": quantile(lat, 0.95),
                "tool_calls": sum(is_tool(s) for s in mine),
                "model_calls": len(calls),
                "cost_usd": cost_of(calls),
            }
        )
    out.sort(key=lambda r: r["agent_name"])
    out.sort(key=lambda r: r["invocations"], reverse=True)
    return frame(out, AGENT_SCHEMA)


def loops(rows: list[Row], repeats: int) -> list[dict[str, Any]]:
    """Loops with their member rows: same tool + same known arguments ≥ repeats times in a
    trace; unknown arguments: the same tool ≥ repeats times in a row among the tool calls."""
    by_trace: dict[str, list[Row]] = defaultdict(list)
    for s in rows:
        if is_tool(s):
            by_trace[s["trace_id"]].append(s)
    found = []
    for trace_id, tools in by_trace.items():
        tools.sort(key=lambda s: (s["start_time"], s["span_id"]))
        same: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for t in tools:
            if t.get("input_text") is not None:
                same[(label(t), t["input_text"])].append(t)
        groups = list(same.values())
        run: list[Row] = []
        for t in [*tools, None]:
            if t is not None and t.get("input_text") is None and run and label(run[-1]) == label(t):
                run.append(t)
                continue
            if run:
                groups.append(run)
            run = [t] if t is not None and t.get("input_text") is None else []
        for members in groups:
            if len(members) >= repeats:
                found.append({"trace_id": trace_id, "members": members})
    return found


def tool_loops(rows: list[Row], repeats: int = 3) -> pl.DataFrame:
    tree = Spans(rows)
    out = []
    for loop in loops(rows, repeats):
        members = loop["members"]
        trace = [s for s in rows if s["trace_id"] == loop["trace_id"]]
        first = members[0]
        start, end = first["start_time"], max(end_of(m) for m in members)
        owner_span, owner = tree.owner_span(first), tree.owner(first)
        spent = [
            c
            for c in trace
            if is_model(c)
            and (
                any(a in members for a in tree.ancestors(c))
                or (
                    tree.owner_span(c) is owner_span
                    and tree.owner(c) == owner
                    and start <= c["start_time"] <= end
                )
            )
        ]
        sessions = sorted((s for s in trace if s.get("session_id")), key=lambda s: s["start_time"])
        out.append(
            {
                "trace_id": loop["trace_id"],
                "session_id": sessions[0]["session_id"] if sessions else None,
                "agent_name": owner,
                "tool_name": label(first),
                "arguments": first.get("input_text"),
                "arguments_known": first.get("input_text") is not None,
                "repeats": len(members),
                "loop_cost_usd": cost_of(spent),
                "trace_cost_usd": cost_of(s for s in trace if is_model(s)),
                "first_start": start,
            }
        )
    out.sort(key=lambda r: (r["trace_id"], r["first_start"]))
    out.sort(key=lambda r: (r["trace_cost_usd"] is None, -(r["trace_cost_usd"] or 0)))
    return frame(out, LOOP_SCHEMA)


def agent_paths(rows: list[Row], loop_repeats: int = 3) -> pl.DataFrame:
    by_trace: dict[str, list[Row]] = defaultdict(list)
    for s in rows:
        by_trace[s["trace_id"]].append(s)
    looping = {loop["trace_id"] for loop in loops(rows, loop_repeats)}
    paths: dict[str, list[dict]] = defaultdict(list)
    for trace_id, spans in by_trace.items():
        steps = sorted(
            (s for s in spans if is_agent(s) or is_tool(s)),
            key=lambda s: (s["start_time"], s["span_id"]),
        )
        if not steps:
            continue
        start = min(s["start_time"] for s in spans)
        paths[ARROW.join(label(s) for s in steps)].append(
            {
                "trace_id": trace_id,
                "steps": len(steps),
                "cost": cost_of(s for s in spans if is_model(s)),
                "latency": (max(end_of(s) for s in spans) - start).total_seconds(),
                "failed": any(failed(s) for s in spans),
                "start": start,
            }
        )
    total = sum(len(t) for t in paths.values())
    out = [
        {
            "path": path,
            "steps": traces[0]["steps"],
            "traces": len(traces),
            "share": len(traces) / total,
            "mean_cost_usd": mean(t["cost"] for t in traces),
            "mean_latency_s": mean(t["latency"] for t in traces),
            "errors": sum(t["failed"] for t in traces),
            "has_loop": any(t["trace_id"] in looping for t in traces),
            "example_trace_id": max(traces, key=lambda t: (t["start"], t["trace_id"]))["trace_id"],
        }
        for path, traces in paths.items()
    ]
    out.sort(key=lambda r: r["path"])
    out.sort(key=lambda r: r["traces"], reverse=True)
    return frame(out, PATH_SCHEMA)


def agent_graph(rows: list[Row]) -> tuple[pl.DataFrame, pl.DataFrame]:
    tree = Spans(rows)
    edges: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    spent: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    nodes: dict[tuple[str, str], list[Row]] = defaultdict(list)
    node_spent: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for s in rows:
        if not (is_agent(s) or is_tool(s) or is_model(s)):
            continue
        kind = "agent" if is_agent(s) else "tool" if is_tool(s) else "model"
        name = (s.get("model") or "(unknown model)") if kind == "model" else label(s)
        source = tree.owner(s) or "(no agent)"
        inside = [s] if kind == "model" else tree.inside(s)
        edges[(source, kind, name)].append(s)
        spent[(source, kind, name)] += inside
        nodes[(kind, name)].append(s)
        nodes.setdefault(("agent", source), [])
        if kind == "tool":
            node_spent[(kind, name)] += inside
        if kind == "model":
            node_spent[(kind, name)].append(s)
            node_spent[("agent", source)].append(s)
    kinds: dict[str, set[str]] = defaultdict(set)
    for kind, name in nodes:
        kinds[name].add(kind)

    def node(kind: str, name: str) -> str:
        return f"{kind}:{name}" if kind != "agent" and len(kinds[name]) > 1 else name

    node_rows = []
    for (kind, name), spans in nodes.items():
        errors = sum(failed(s) for s in spans)
        node_rows.append(
            {
                "node": node(kind, name),
                "kind": kind,
                "calls": len(spans),
                "errors": errors,
                "error_rate": errors / len(spans) if spans else None,
                "cost_usd": cost_of(node_spent.get((kind, name), [])),
                "mean_latency_s": mean(s.get("latency_s") for s in spans),
            }
        )
    order = {"agent": 0, "tool": 1, "model": 2}
    node_rows.sort(key=lambda r: (order[r["kind"]], -r["calls"], r["node"]))
    edge_rows = []
    for (source, kind, name), spans in edges.items():
        errors = sum(failed(s) for s in spans)
        edge_rows.append(
            {
                "source": source,
                "target": node(kind, name),
                "calls": len(spans),
                "errors": errors,
                "error_rate": errors / len(spans),
                "cost_usd": cost_of(spent[(source, kind, name)]),
            }
        )
    edge_rows.sort(key=lambda r: (-r["calls"], r["source"], r["target"]))
    return frame(node_rows, NODE_SCHEMA), frame(edge_rows, EDGE_SCHEMA)


UTC = pl.Datetime("us", "UTC")
SESSION_SCHEMA = {
    "session_id": pl.String,
    "user_id": pl.String,
    "turns": pl.Int64,
    "calls": pl.Int64,
    "errors": pl.Int64,
    "duration_s": pl.Float64,
    "cost_usd": pl.Float64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "mean_score": pl.Float64,
    "first_activity": UTC,
    "last_activity": UTC,
}
USER_SCHEMA = {"user_id": pl.String, "sessions": pl.Int64} | {
    k: v for k, v in SESSION_SCHEMA.items() if k not in ("session_id", "user_id")
}
TURN_SCHEMA = {
    "turn": pl.Int64,
    "trace_id": pl.String,
    "start_time": UTC,
    "latency_s": pl.Float64,
    "calls": pl.Int64,
    "cost_usd": pl.Float64,
    "errors": pl.Int64,
    "status": pl.String,
    "input_text": pl.String,
    "output_text": pl.String,
}
TOOL_SCHEMA = {
    "agent_name": pl.String,
    "tool_name": pl.String,
    "calls": pl.Int64,
    "errors": pl.Int64,
    "error_rate": pl.Float64,
    "latency_p50_s": pl.Float64,
    "latency_p95_s": pl.Float64,
    "total_latency_s": pl.Float64,
    "cost_usd": pl.Float64,
}
AGENT_SCHEMA = {
    "agent_name": pl.String,
    "invocations": pl.Int64,
    "errors": pl.Int64,
    "error_rate": pl.Float64,
    "latency_p50_s": pl.Float64,
    "latency_p95_s": pl.Float64,
    "tool_calls": pl.Int64,
    "model_calls": pl.Int64,
    "cost_usd": pl.Float64,
}
PATH_SCHEMA = {
    "path": pl.String,
    "steps": pl.Int64,
    "traces": pl.Int64,
    "share": pl.Float64,
    "mean_cost_usd": pl.Float64,
    "mean_latency_s": pl.Float64,
    "errors": pl.Int64,
    "has_loop": pl.Boolean,
    "example_trace_id": pl.String,
}
LOOP_SCHEMA = {
    "trace_id": pl.String,
    "session_id": pl.String,
    "agent_name": pl.String,
    "tool_name": pl.String,
    "arguments": pl.String,
    "arguments_known": pl.Boolean,
    "repeats": pl.Int64,
    "loop_cost_usd": pl.Float64,
    "trace_cost_usd": pl.Float64,
    "first_start": UTC,
}
NODE_SCHEMA = {
    "node": pl.String,
    "kind": pl.String,
    "calls": pl.Int64,
    "errors": pl.Int64,
    "error_rate": pl.Float64,
    "cost_usd": pl.Float64,
    "mean_latency_s": pl.Float64,
}
EDGE_SCHEMA = {
    "source": pl.String,
    "target": pl.String,
    "calls": pl.Int64,
    "errors": pl.Int64,
    "error_rate": pl.Float64,
    "cost_usd": pl.Float64,
}
