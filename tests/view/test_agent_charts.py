"""Agent charts: one trace's agent timeline, and the agent/tool graph across traces."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from llmobs_nb import analytics
from llmobs_nb.view import Trace, agent_graph_chart, agent_timeline, charts, offline
from llmobs_nb.view.agent_charts import (
    NO_AGENT,
    agent_graph_layout,
    summary_lines,
    timeline_spans,
    timeline_summary,
)

from .agent_store import XSS, build_agent_store, spans_of
from .test_offline import REMOTE_SCRIPT

Graph = namedtuple("Graph", "nodes edges")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_agent_store(tmp_path_factory.mktemp("agents") / "agents.duckdb")


def first_turn(store: Path, session_id: str = "conv-1") -> str:
    return spans_of(
        store,
        "SELECT trace_id FROM spans WHERE session_id = ? ORDER BY start_time LIMIT 1",
        [session_id],
    ).item()


def layer_data(chart: Any) -> list[dict]:
    """The rows of the timeline's bars (the datasets of the chart's first, layered part)."""
    spec = chart.to_dict()
    timeline = spec["hconcat"][0]
    data = timeline.get("data") or timeline["layer"][0]["data"]  # Altair lifts shared data
    return spec["datasets"][data["name"]]


# -- the timeline ---------------------------------------------------------------------------


def test_the_timeline_has_one_lane_per_agent_and_every_span_once(store: Path):
    trace_id = first_turn(store)
    stored = spans_of(store, "SELECT * FROM spans WHERE trace_id = ?", [trace_id])
    shown = stored.filter(pl.col("kind").is_in(["agent", "tool", "llm"]))
    rows = layer_data(agent_timeline(Trace.load(store, trace_id)))
    assert sorted(r["span_id"] for r in rows) == sorted(shown["span_id"].to_list())
    assert {r["lane"] for r in rows} == {"planner", "researcher"}
    lanes = {r["span_id"]: r["lane"] for r in rows}
    assert lanes == dict(shown.select("span_id", "agent_name").rows())
    durations = {r["span_id"]: r["duration_ms"] for r in rows}
    for span_id, latency_s in shown.select("span_id", "latency_s").rows():
        assert durations[span_id] == pytest.approx(latency_s * 1000, rel=1e-12)
    kinds = {r["span_id"]: r["what"] for r in rows}
    assert {kinds[s] for s in shown.filter(pl.col("kind") == "llm")["span_id"]} == {"model call"}
    # The chain at the root is no agent, tool or model call: not drawn.
    root = stored.filter(pl.col("parent_span_id").is_null())["span_id"][0]
    assert root not in lanes


def test_parallel_tools_get_tracks_of_their_own_and_failures_are_marked(store: Path):
    trace = Trace.load(store, first_turn(store, XSS))
    rows = timeline_spans(trace)
    searches = rows.filter(pl.col("name") == "execute_tool search")
    assert searches.height == 2 and searches["track"].n_unique() == 2  # they overlap in time
    failed = rows.filter(pl.col("failed"))
    assert sorted(failed["what"].to_list()) == ["model call"] * 3 + ["tool"]
    assert set(failed["lane"]) == {"researcher"}
    spec = agent_timeline(trace).to_dict()
    marks = spec["hconcat"][0]["layer"]
    assert marks[1]["mark"]["text"] == "✕" and marks[1]["transform"] == [{"filter": "datum.failed"}]


def test_the_summary_says_where_the_llm_time_and_cost_went(store: Path):
    trace_id = first_turn(store)
    calls = spans_of(
        store,
        "SELECT agent_name, sum(latency_s) AS s, sum(cost_usd) AS cost FROM spans "
        "WHERE trace_id = ? AND kind = 'llm' GROUP BY agent_name",
        [trace_id],
    )
    found = timeline_summary(Trace.load(store, trace_id))
    agents = found.filter(pl.col("group") == "agent")
    expected = {a: (s, c) for a, s, c in calls.rows()}
    assert set(agents["name"]) == set(expected)
    total_s, total_cost = calls["s"].sum(), calls["cost"].sum()
    for row in agents.iter_rows(named=True):
        s, cost = expected[row["name"]]
        assert row["time_s"] == pytest.approx(s)
        assert row["cost_usd"] == pytest.approx(cost)
        assert row["time_share"] == pytest.approx(s / total_s)
        assert row["cost_share"] == pytest.approx(cost / total_cost)
    tools = dict(found.filter(pl.col("group") == "tool").select("name", "calls").rows())
    assert tools == {"search": 2, "fetch_page": 1}
    lines = summary_lines(Trace.load(store, trace_id))
    assert lines[0].startswith("model calls: 4,")
    assert any(line.startswith("· planner:") for line in lines)
    assert any(line.startswith("· search ×2:") for line in lines)


def test_a_span_belongs_to_its_nearest_agent_as_analytics_says():
    """Third-party spans inside an agent may lack the label, or carry an outer agent's."""
    t0 = datetime(2025, 3, 3, tzinfo=UTC)

    def at(ms: float) -> datetime:
        return t0 + timedelta(milliseconds=ms)

    names = {
        "root": ("turn", "chain", None, None),
        "outer": ("invoke_agent outer", "agent", None, "outer"),
        "inner": ("invoke_agent inner", "agent", None, None),  # a framework's own agent
        "llm-in": ("chat x", "llm", None, "outer"),  # labelled by obs.agent("outer")
        "tool-in": ("execute_tool t", "tool", None, None),
        "make": ("create_agent helper", "agent", "create_agent", None),
        "llm-out": ("chat y", "llm", None, None),
        "llm-named": ("chat z", "llm", None, "solo"),
    }
    parents = {
        "root": None,
        "outer": "root",
        "inner": "outer",
        "llm-in": "inner",
        "tool-in": "inner",
        "make": "outer",
        "llm-out": "root",
        "llm-named": "root",
    }
    starts = {s: i for i, s in enumerate(names)}
    spans = pl.DataFrame(
        {
            "trace_id": ["a" * 32] * len(names),
            "span_id": list(names),
            "parent_span_id": [parents[s] for s in names],
            "name": [v[0] for v in names.values()],
            "kind": [v[1] for v in names.values()],
            "operation": [v[2] for v in names.values()],
            "agent_name": [v[3] for v in names.values()],
            "start_time": [at(starts[s]) for s in names],
            "end_time": [at(starts[s] + 2) for s in names],
        },
        schema_overrides={"operation": pl.String, "agent_name": pl.String},
    )
    rows = timeline_spans(spans)
    assert dict(rows.select("span_id", "lane").rows()) == {
        "outer": "outer",
        "inner": "invoke_agent inner",
        "llm-in": "invoke_agent inner",  # the nearest agent wins over the inherited label
        "tool-in": "invoke_agent inner",
        "make": "outer",  # making an agent is no invocation: its maker's step
        "llm-out": NO_AGENT,
        "llm-named": "solo",  # no agent above: its own label
    }
    assert rows.filter(pl.col("span_id") == "tool-in")["duration_s"].item() == pytest.approx(0.002)
    lanes = rows["lane"].unique(maintain_order=True).to_list()
    assert lanes == ["outer", "invoke_agent inner", NO_AGENT, "solo"]  # by first start


def test_the_timeline_takes_one_trace_only(store: Path):
    spans = spans_of(store, "SELECT * FROM spans")
    with pytest.raises(ValueError, match="one trace"):
        agent_timeline(spans)
    with pytest.raises(TypeError, match="Trace"):
        agent_timeline("not spans")
    empty = agent_timeline(spans.filter(pl.col("kind") == "chain").head(1))
    assert "no agent" in json.dumps(empty.to_dict())


# -- the graph ------------------------------------------------------------------------------


def graph_frames(tools: int = 3) -> Graph:
    """An agent graph as analytics.agent_graph answers it (nodes, edges)."""
    names = ["planner", "researcher", "writer", "critic"]
    tool_names = [f"tool-{i:02d}" for i in range(tools)]
    nodes = pl.DataFrame(
        {
            "node": [*names, *tool_names, "gpt-4o", "gpt-4o-mini"],
            "kind": ["agent"] * 4 + ["tool"] * tools + ["model", "model"],
            "calls": [30, 20, 10, 5, *[100 - i for i in range(tools)], 60, 40],
            "errors": [0, 2, 1, 0, *[i % 3 for i in range(tools)], 1, 0],
        }
    ).with_columns(
        (pl.col("errors") / pl.col("calls")).alias("error_rate"),
        (pl.col("calls") * 0.001).alias("cost_usd"),
        pl.lit(1.5).alias("mean_latency_s"),
    )
    pairs = [
        ("planner", "researcher", 20),
        ("planner", "writer", 10),
        ("writer", "critic", 5),
        ("critic", "writer", 2),  # a loop: critic sends work back
        ("planner", "gpt-4o", 30),
        ("writer", "gpt-4o", 10),
        ("critic", "gpt-4o-mini", 5),
        ("researcher", "gpt-4o-mini", 35),
        *[("researcher", t, 100 - i) for i, t in enumerate(tool_names)],
    ]
    edges = pl.DataFrame(
        {
            "source": [p[0] for p in pairs],
            "target": [p[1] for p in pairs],
            "calls": [p[2] for p in pairs],
            "errors": [0] * len(pairs),
        }
    ).with_columns(
        (pl.col("errors") / pl.col("calls")).alias("error_rate"),
        pl.lit(None, pl.Float64).alias("cost_usd"),
    )
    return Graph(nodes, edges)


def test_the_layout_puts_agents_by_depth_then_tools_then_models():
    nodes, edges, left_out = agent_graph_layout(graph_frames())
    column = dict(nodes.select("node", "column").rows())
    assert column["planner"] == 0
    assert column["researcher"] == column["writer"] == 1
    assert column["critic"] == 2
    assert {column[t] for t in ("tool-00", "tool-01", "tool-02")} == {3}
    assert column["gpt-4o"] == column["gpt-4o-mini"] == 4
    assert left_out == 0
    # Every node and edge of the graph, at its nodes' places.
    assert sorted(nodes["node"]) == sorted(graph_frames().nodes["node"])
    place = {n: (x, y) for n, x, y in nodes.select("node", "x", "y").rows()}
    given = graph_frames().edges.sort("source", "target")
    assert (
        edges.select("source", "target", "calls").rows()
        == given.select("source", "target", "calls").rows()
    )
    for source, target, x, y, x2, y2 in edges.select(
        "source", "target", "x", "y", "x2", "y2"
    ).rows():
        assert (x, y) == place[source] and (x2, y2) == place[target]
    # No two nodes share a place.
    assert len(set(place.values())) == len(place)


def test_the_layout_is_deterministic_whatever_the_row_order():
    graph = graph_frames()
    first = agent_graph_layout(graph)
    for seed in range(3):
        shuffled = Graph(graph.nodes.sample(fraction=1.0, shuffle=True, seed=seed), graph.edges)
        shuffled = Graph(shuffled.nodes, graph.edges.sample(fraction=1.0, shuffle=True, seed=seed))
        again = agent_graph_layout(shuffled)
        assert again[0].equals(first[0]) and again[1].equals(first[1])
    assert agent_graph_chart(graph).to_dict() == agent_graph_chart(graph).to_dict()


def test_the_graph_chart_draws_the_graphs_nodes_and_edges():
    graph = graph_frames()
    spec = agent_graph_chart(graph).to_dict()
    layers = spec["layer"]
    data = {i: spec["datasets"][layer["data"]["name"]] for i, layer in enumerate(layers)}
    assert sorted((r["source"], r["target"], r["calls"]) for r in data[0]) == sorted(
        graph.edges.select("source", "target", "calls").rows()
    )
    assert sorted(r["node"] for r in data[1]) == sorted(graph.nodes["node"])
    assert layers[0]["mark"]["type"] == "rule" and layers[1]["mark"]["type"] == "point"
    shapes = layers[1]["encoding"]["shape"]["scale"]
    assert dict(zip(shapes["domain"], shapes["range"], strict=True))["tool"] == "square"
    assert layers[1]["encoding"]["color"]["field"] == "error_rate"
    assert layers[-1]["mark"]["type"] == "text"
    assert "9 nodes" in spec["title"]["subtitle"][0]
    by_cost = agent_graph_chart(graph, color="cost_usd").to_dict()
    assert by_cost["layer"][1]["encoding"]["color"]["field"] == "cost_usd"
    with pytest.raises(ValueError, match="error_rate"):
        agent_graph_chart(graph, color="latency")


def test_the_node_cap_keeps_the_most_called_and_says_how_many_were_left_out():
    graph = graph_frames(tools=60)  # 66 nodes
    nodes, edges, left_out = agent_graph_layout(graph, max_nodes=30)
    kept = graph.nodes.sort(["calls", "node"], descending=[True, False]).head(30)
    assert sorted(nodes["node"]) == sorted(kept["node"]) and left_out == 36
    assert set(edges["source"]) | set(edges["target"]) <= set(nodes["node"])
    spec = agent_graph_chart(graph).to_dict()
    assert spec["title"]["subtitle"][0].startswith("30 of 66 nodes shown")
    assert "36 left out" in spec["title"]["subtitle"][0]
    assert sum(len(v) for v in spec["datasets"].values()) < 200  # stays small


def test_the_graph_of_a_real_store(store: Path):
    graph = analytics.agent_graph(store)
    nodes, edges, left_out = agent_graph_layout(graph)
    assert left_out == 0 and sorted(nodes["node"]) == sorted(graph.nodes["node"])
    assert edges.height == graph.edges.height
    column = dict(nodes.select("node", "column").rows())
    assert column[NO_AGENT] < column["planner"] < column["researcher"]
    assert column["search"] == column["fetch_page"] == column["researcher"] + 1
    assert column["big-model"] == column["small-model"] == column["search"] + 1
    spec = agent_graph_chart(graph).to_dict()
    shown = {r["node"] for name in spec["datasets"] for r in spec["datasets"][name] if "node" in r}
    assert shown == set(graph.nodes["node"])
    # The agent without calls of its own has no error rate: drawn grey, not dropped.
    grey = spec["layer"][2]
    assert grey["mark"]["color"] == "#bbbbbb" and grey["transform"] == [
        {"filter": "!isValid(datum.error_rate)"}
    ]


def test_an_empty_graph_says_so():
    graph = graph_frames()
    empty = Graph(graph.nodes.clear(), graph.edges.clear())
    assert "no agents" in json.dumps(agent_graph_chart(empty).to_dict())


# -- offline --------------------------------------------------------------------------------


def test_the_agent_charts_are_in_the_charts_namespace():
    assert charts.agent_timeline is agent_timeline
    assert {"agent_timeline", "agent_graph_chart"} <= set(charts.__all__)


@pytest.mark.parametrize("which", ["timeline", "graph"])
def test_the_agent_charts_render_offline(store: Path, which: str, tmp_path: Path):
    chart = (
        agent_timeline(Trace.load(store, first_turn(store)))
        if which == "timeline"
        else agent_graph_chart(analytics.agent_graph(store))
    )
    html = offline.chart_html(chart)
    assert offline._payload() in html and not REMOTE_SCRIPT.search(html)
    assert "text/html" in chart._repr_mimebundle_()
    if shutil.which("node") is None:
        pytest.skip("needs node to run the vendored Vega")
    # The vendored bundle compiles the spec and draws it (headless, no network).
    (tmp_path / "spec.json").write_text(json.dumps(chart.to_dict()), encoding="utf-8")
    (tmp_path / "payload.txt").write_text(offline._payload(), encoding="ascii")
    script = tmp_path / "draw.js"
    script.write_text(
        """
        const fs = require("fs"), zlib = require("zlib"), dir = process.argv[2];
        const b64 = fs.readFileSync(dir + "/payload.txt", "ascii");
        globalThis.window = globalThis;
        (0, eval)(zlib.gunzipSync(Buffer.from(b64, "base64")).toString());
        const spec = JSON.parse(fs.readFileSync(dir + "/spec.json", "utf8"));
        const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), {renderer: "none"});
        view.toSVG().then(svg => console.log(svg.length, (svg.match(/<path/g) || []).length))
            .catch(e => { console.error(e); process.exit(1); });
        """,
        encoding="utf-8",
    )
    done = subprocess.run(
        ["node", str(script), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    length, paths = map(int, done.stdout.split())
    assert length > 2000 and paths >= 5
