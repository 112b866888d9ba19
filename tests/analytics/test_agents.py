"""analytics.tool_usage, agent_paths, tool_loops and agent_graph: every column against the rules
restated in plain Python (tests/analytics/agent_rules.py), on a real store written through
``llmobs_nb.init`` with ``obs.session``, ``obs.agent``, ``obs.tool`` and priced model calls, on
frames of its spans (and third-party-style copies without ``agent_name`` on children), and on
hand-built frames for the edge cases; the attribution is also checked property-based."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.analytics.agents import (
    AGENT_SCHEMA,
    EDGE_SCHEMA,
    LOOP_SCHEMA,
    NODE_SCHEMA,
    PATH_SCHEMA,
    TOOL_SCHEMA,
    AgentGraph,
    find_loops,
    nearest_agent,
)
from llmobs_nb.analytics.source import open_store
from llmobs_nb.store.schema import SPANS
from tests.analytics import agent_rules as rules
from tests.analytics.conftest import write_store

# m-local has no price on purpose (its cost is NULL, never 0): its warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore:no price known for model")

PRICES = {
    "m-big": {"input_mtok": 10.0, "output_mtok": 30.0},
    "m-small": {"input_mtok": 1.0, "output_mtok": 2.0},
}
SEARCH_CALL_USD = 200 * 1e-6 + 20 * 2e-6  # the model call inside each search


def _call(obs, model: str, tokens: tuple[int, int], *, fail: bool = False) -> None:
    with contextlib.suppress(RuntimeError), obs.span("chat", kind="llm", model=model) as span:
        span.set_usage({"input_tokens": tokens[0], "output_tokens": tokens[1]})
        if fail:
            raise RuntimeError("rate limited")


def build_agents_store(path: Path) -> None:
    """Traces of a planner with tools and nested agents (a loop with known arguments, one with
    arguments not captured, repeats that are not loops), a workflow, a tool outside any agent,
    an unpriced model and a lone call."""
    obs = llmobs_nb.init(db=path, project="agents", capture_content=True, prices=PRICES)

    @obs.tool("search")
    def search(query: str) -> str:
        _call(obs, "m-small", (200, 20))
        return f"hits for {query}"

    @obs.tool("fetch")
    def fetch(url: str) -> str:
        if url.startswith("bad"):
            raise ValueError("no such page")
        return "page"

    with obs.session("s1", user_id="ann"):
        with obs.agent("planner"):  # A: a loop (paris ×3) and nested agents
            _call(obs, "m-big", (1000, 100))
            search("paris")
            _call(obs, "m-small", (50, 5))  # the planner's own call inside the loop
            search("paris")
            search("paris")
            with obs.agent("writer"):
                _call(obs, "m-big", (500, 50))
                with contextlib.suppress(ValueError):
                    fetch("bad://page")
                with obs.agent("critic"):
                    _call(obs, "m-small", (10, 1))
            _call(obs, "m-small", (20, 2))  # after the loop
        with obs.agent("planner"):  # B: repeats that are no loop (rome ×2), a failed call
            search("rome")
            search("oslo")
            search("rome")
            _call(obs, "m-small", (10, 1), fail=True)
    obs.capture_content = False
    with obs.session("s2", user_id="bob"), obs.agent("planner"):  # C: arguments not captured
        for query in ("a", "b", "c"):
            search(query)
        fetch("https://ok")
        search("d")
        search("e")  # only two in a row after the fetch
    obs.capture_content = True
    with obs.span("workflow", kind="chain", operation="invoke_workflow"):  # D
        with obs.agent("helper"), obs.span("step", kind="chain"):
            _call(obs, "m-local", (5, 5))
            search("x")
        with obs.tool("orphan"):
            _call(obs, "m-small", (1, 1))
    _call(obs, "m-small", (3, 3))  # E: a lone call, no step
    obs.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("agents") / "a.duckdb"
    build_agents_store(path)
    return path


@pytest.fixture(scope="module")
def spans(store: Path) -> pl.DataFrame:
    with open_store(store) as con:
        return con.sql("SELECT * FROM spans ORDER BY start_time").pl()


def third_party(spans: pl.DataFrame) -> pl.DataFrame:
    """The spans as an agent framework's instrumentation writes them: ``agent_name`` only on
    the agent spans themselves."""
    return spans.with_columns(
        pl.when(pl.col("kind") == "agent").then(pl.col("agent_name")).alias("agent_name")
    )


@pytest.fixture
def sources(store: Path, spans: pl.DataFrame, tmp_path: Path) -> Iterator[dict]:
    observer = llmobs_nb.open(store)
    foreign = third_party(spans)
    foreign_db = write_store(tmp_path / "third_party.duckdb", foreign)
    with open_store(store) as con:
        yield {
            "observer": observer,
            "path": str(store),
            "connection": con,
            "frame": spans,
            "lazy": spans.lazy(),
            "third-party frame": foreign,
            "third-party store": str(foreign_db),
        }
    observer.close()


def _equal(got: pl.DataFrame, expected: pl.DataFrame, what: object) -> None:
    assert_frame_equal(got, expected, rel_tol=1e-9, abs_tol=1e-12), what


def test_every_question_matches_the_rules_from_every_source(sources, spans) -> None:
    rows = spans.to_dicts()
    expected_tools = rules.tool_usage(rows)
    expected_agents = rules.tool_usage(rows, by="agent")
    expected_paths = rules.agent_paths(rows)
    expected_loops = rules.tool_loops(rows)
    expected_nodes, expected_edges = rules.agent_graph(rows)
    for name, source in sources.items():
        _equal(analytics.tool_usage(source), expected_tools, name)
        _equal(analytics.tool_usage(source, by="agent"), expected_agents, name)
        _equal(analytics.agent_paths(source), expected_paths, name)
        _equal(analytics.tool_loops(source), expected_loops, name)
        graph = analytics.agent_graph(source)
        assert isinstance(graph, AgentGraph)
        _equal(graph.nodes, expected_nodes, name)
        _equal(graph.edges, expected_edges, name)
    for repeats in (2, 4):
        _equal(
            analytics.tool_loops(spans, repeats=repeats), rules.tool_loops(rows, repeats), repeats
        )
        _equal(
            analytics.agent_paths(spans, loop_repeats=repeats),
            rules.agent_paths(rows, repeats),
            repeats,
        )


def test_nested_agents_are_not_double_counted(sources) -> None:
    for name, source in sources.items():
        agents = {r["agent_name"]: r for r in analytics.tool_usage(source, by="agent").to_dicts()}
        # A: 3 own + 3 inside its searches; B: 3 inside searches + 1 failed; C: 5 searches.
        assert agents["planner"]["model_calls"] == 15, name
        assert (agents["writer"]["model_calls"], agents["critic"]["model_calls"]) == (1, 1), name
        assert agents["writer"]["cost_usd"] == pytest.approx(500 * 1e-5 + 50 * 3e-5), name
        assert agents["critic"]["cost_usd"] == pytest.approx(10e-6 + 2e-6), name
        assert (agents["planner"]["invocations"], agents["planner"]["tool_calls"]) == (3, 12), name
        assert agents["writer"]["tool_calls"] == 1 and agents["writer"]["errors"] == 0, name
        assert agents["helper"]["cost_usd"] == pytest.approx(SEARCH_CALL_USD), name  # + unpriced
        assert set(agents) == {"planner", "writer", "critic", "helper"}, name  # no "(no agent)"
        total = sum(a["model_calls"] for a in agents.values())
        assert total == 15 + 1 + 1 + 2, name  # each owned call once; the orphan's and E's: none


def test_tool_figures_by_hand(sources) -> None:
    for name, source in sources.items():
        tools = analytics.tool_usage(source)
        by = {(r["agent_name"], r["tool_name"]): r for r in tools.to_dicts()}
        search = by[("planner", "search")]
        assert (search["calls"], search["errors"], search["latency_p95_s"]) == (11, 0, None), name
        assert search["cost_usd"] == pytest.approx(11 * SEARCH_CALL_USD), name
        fetch = by[("writer", "fetch")]
        assert (fetch["calls"], fetch["errors"], fetch["error_rate"]) == (1, 1, 1.0), name
        assert fetch["cost_usd"] == 0.0 and fetch["latency_p50_s"] is None, name
        assert by[(None, "orphan")]["cost_usd"] == pytest.approx(3e-6), name  # outside agents
        assert by[("helper", "search")]["calls"] == 1, name  # through the workflow's chain
        assert tools["calls"].to_list() == sorted(tools["calls"].to_list(), reverse=True)


def test_loops_by_hand(sources) -> None:
    for name, source in sources.items():
        loops = analytics.tool_loops(source).to_dicts()
        assert len(loops) == 2, name
        known = next(r for r in loops if r["arguments_known"])
        assert (known["agent_name"], known["tool_name"], known["repeats"]) == (
            "planner",
            "search",
            3,
        ), name
        assert known["arguments"] is not None and "paris" in known["arguments"], name
        # The three searches' calls and the planner's call between the first and the last.
        assert known["loop_cost_usd"] == pytest.approx(3 * SEARCH_CALL_USD + 50e-6 + 10e-6), name
        assert known["session_id"] == "s1", name
        unknown = next(r for r in loops if not r["arguments_known"])
        assert (unknown["arguments"], unknown["repeats"], unknown["session_id"]) == (None, 3, "s2")
        assert unknown["loop_cost_usd"] == pytest.approx(3 * SEARCH_CALL_USD), name
        assert unknown["trace_cost_usd"] == pytest.approx(5 * SEARCH_CALL_USD), name
        assert loops[0]["trace_cost_usd"] >= loops[1]["trace_cost_usd"], name
        paths = analytics.agent_paths(source)
        assert paths.filter("has_loop")["path"].to_list() == [  # by traces, then path
            "planner → search → search → search → fetch → search → search",
            "planner → search → search → search → writer → fetch → critic",
        ], name


def test_the_graph_by_hand(sources) -> None:
    for name, source in sources.items():
        graph = analytics.agent_graph(source)
        edges = {(r["source"], r["target"]): r for r in graph.edges.to_dicts()}
        assert edges[("planner", "writer")]["calls"] == 1, name
        # An edge carries everything under its target: the writer's call and the critic's.
        writer_usd = 500 * 1e-5 + 50 * 3e-5
        assert edges[("planner", "writer")]["cost_usd"] == pytest.approx(writer_usd + 12e-6)
        assert edges[("writer", "critic")]["calls"] == 1, name
        assert edges[("writer", "fetch")]["errors"] == 1, name
        assert edges[("(no agent)", "planner")]["calls"] == 3, name
        assert edges[("(no agent)", "orphan")]["calls"] == 1, name
        assert edges[("(no agent)", "m-small")]["calls"] == 2, name  # E, and the orphan's call
        assert edges[("helper", "m-local")]["cost_usd"] is None, name  # unpriced
        nodes = {r["node"]: r for r in graph.nodes.to_dicts()}
        assert nodes["(no agent)"]["kind"] == "agent" and nodes["(no agent)"]["calls"] == 0
        assert nodes["writer"]["cost_usd"] == pytest.approx(writer_usd), name  # its own calls
        assert nodes["m-small"]["kind"] == "model", name
        assert len(nodes) == graph.nodes.height, name  # unique names


def test_where_keeps_whole_traces(sources, spans) -> None:
    rows = spans.to_dicts()

    def traces_where(test) -> list[dict]:
        kept = {r["trace_id"] for r in rows if test(r)}
        return [r for r in rows if r["trace_id"] in kept]

    cases = [
        (Filter(models=("m-big",)), lambda r: r["model"] == "m-big"),
        ({"user_id": "bob"}, lambda r: r["user_id"] == "bob"),
        (Filter(statuses=("error",)), lambda r: r["status"] == "error"),
        (Filter(models=("no-such-model",)), lambda r: False),
    ]
    for where, test in cases:
        kept = traces_where(test)
        nodes, edges = rules.agent_graph(kept)
        for name, source in sources.items():
            what = (name, where)
            _equal(analytics.tool_usage(source, where=where), rules.tool_usage(kept), what)
            got = analytics.tool_usage(source, by="agent", where=where)
            _equal(got, rules.tool_usage(kept, by="agent"), what)
            _equal(analytics.agent_paths(source, where=where), rules.agent_paths(kept), what)
            _equal(analytics.tool_loops(source, where=where), rules.tool_loops(kept), what)
            graph = analytics.agent_graph(source, where=where)
            _equal(graph.nodes, nodes, what)
            _equal(graph.edges, edges, what)


# -- hand-built frames ----------------------------------------------------------------------------

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _frame(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in SPANS.names}
    return pl.DataFrame([base | r for r in rows], schema=SPANS.polars)


def _span(trace: str, span: str, parent: str | None, kind: str, start_s: float, **fields) -> dict:
    latency = fields.pop("latency_s", 1.0)
    return {
        "trace_id": trace,
        "span_id": span,
        "parent_span_id": parent,
        "kind": kind,
        "name": fields.pop("name", f"{kind} {span}"),
        "start_time": T0 + timedelta(seconds=start_s),
        "end_time": T0 + timedelta(seconds=start_s + latency),
        "latency_s": latency,
        "status": "ok",
        **fields,
    }


def _all_questions(frame: pl.DataFrame) -> None:
    rows = frame.to_dicts()
    _equal(analytics.tool_usage(frame), rules.tool_usage(rows), "tool")
    _equal(analytics.tool_usage(frame, by="agent"), rules.tool_usage(rows, by="agent"), "agent")
    _equal(analytics.agent_paths(frame), rules.agent_paths(rows), "paths")
    _equal(analytics.tool_loops(frame), rules.tool_loops(rows), "loops")
    nodes, edges = rules.agent_graph(rows)
    graph = analytics.agent_graph(frame)
    _equal(graph.nodes, nodes, "nodes")
    _equal(graph.edges, edges, "edges")


def test_third_party_children_are_attributed_through_their_parents() -> None:
    # OpenInference-style: agent_name only on agent spans; a chain and a tool between them and
    # the calls; span ids reused across traces.
    frame = _frame(
        [
            _span("t1", "s1", None, "agent", 0, agent_name="outer", latency_s=10),
            _span("t1", "s2", "s1", "chain", 1, latency_s=8),
            _span("t1", "s3", "s2", "llm", 2, model="m", cost_usd=0.25),
            _span("t1", "s4", "s2", "agent", 3, agent_name="inner", latency_s=5),
            _span("t1", "s5", "s4", "tool", 4, tool_name="calc", latency_s=2),
            _span("t1", "s6", "s5", "llm", 4.5, model="m", cost_usd=0.5),
            _span("t1", "s7", "s4", "llm", 7, model="m", cost_usd=None),
            _span("t2", "s1", None, "agent", 20, agent_name="inner", status="error"),
            _span("t2", "s2", "s1", "llm", 21, model="m", cost_usd=1.0),
        ]
    )
    _all_questions(frame)
    agents = {r["agent_name"]: r for r in analytics.tool_usage(frame, by="agent").to_dicts()}
    assert (agents["outer"]["model_calls"], agents["outer"]["cost_usd"]) == (1, 0.25)
    assert (agents["inner"]["model_calls"], agents["inner"]["tool_calls"]) == (3, 1)
    assert agents["inner"]["cost_usd"] == 1.5 and agents["inner"]["errors"] == 1
    tool = analytics.tool_usage(frame).row(0, named=True)
    assert (tool["agent_name"], tool["tool_name"], tool["cost_usd"]) == ("inner", "calc", 0.5)


def test_the_agent_name_column_is_the_fallback_without_an_agent_span() -> None:
    frame = _frame(
        [
            _span("t", "a", None, "tool", 0, tool_name="lookup", agent_name="ghost"),
            _span("t", "b", "a", "llm", 0.5, model="m", cost_usd=0.1, agent_name="ghost"),
            _span("t", "c", None, "agent", 2, operation="create_agent", agent_name="made"),
            _span("t", "d", None, "tool", 3, tool_name="lookup"),
        ]
    )
    _all_questions(frame)
    tools = analytics.tool_usage(frame)
    assert tools["agent_name"].to_list() == ["ghost", None]
    ghost = analytics.tool_usage(frame, by="agent").row(0, named=True)
    assert ghost == {
        "agent_name": "ghost",
        "invocations": 0,
        "errors": 0,
        "error_rate": None,
        "latency_p50_s": None,
        "latency_p95_s": None,
        "tool_calls": 1,
        "model_calls": 1,
        "cost_usd": 0.1,
    }
    assert analytics.agent_paths(frame)["path"].to_list() == ["lookup → lookup"]  # no "made"


def test_loops_without_arguments_must_be_in_a_row() -> None:
    steps = [("search", None), ("search", None), ("fetch", None), ("search", None)]
    steps += [("search", None), ("search", None), ("search", '{"q": 1}'), ("search", None)]
    frame = _frame(
        [_span("t", "root", None, "agent", 0, agent_name="a", latency_s=99)]
        + [
            _span("t", f"x{i}", "root", "tool", 1 + i, tool_name=tool, input_text=args)
            for i, (tool, args) in enumerate(steps)
        ]
        + [_span("t", "m", "root", "llm", 5.5, model="m", cost_usd=0.3)]
    )
    _all_questions(frame)
    loops = analytics.tool_loops(frame)
    assert loops["repeats"].to_list() == [3] and loops["arguments_known"].to_list() == [False]
    assert loops["loop_cost_usd"].to_list() == [0.3]  # the agent's call during the run
    assert analytics.tool_loops(frame, repeats=2)["repeats"].sort().to_list() == [2, 3]
    loops = find_loops(
        pl.DataFrame(
            {
                "trace_id": "t",
                "span_id": ["1", "2", "3"],
                "tool_name": "s",
                "arguments": ["x", "y", "x"],
                "start_time": [T0] * 3,
                "end_at": [T0] * 3,
            }
        ),
        2,
    )
    assert loops.select("arguments", "repeats").rows() == [("x", 2)]  # apart, same arguments
    with pytest.raises(ValueError, match="at least 2"):
        analytics.tool_loops(frame, repeats=1)


def test_node_names_are_unique_across_kinds() -> None:
    frame = _frame(
        [
            _span("t", "a", None, "agent", 0, agent_name="search", latency_s=9),
            _span("t", "b", "a", "tool", 1, tool_name="search"),
            _span("t", "c", "a", "llm", 3, model="search", cost_usd=0.2),
            _span("t", "d", "a", "llm", 4, model="gpt", cost_usd=0.1),
            _span("t", "e", "b", "llm", 1.5, model=None, cost_usd=None),
        ]
    )
    _all_questions(frame)
    graph = analytics.agent_graph(frame)
    assert graph.nodes["node"].to_list() == [  # agents, tools, models; by calls, then name
        "search",
        "(no agent)",
        "tool:search",
        "(unknown model)",
        "gpt",
        "model:search",
    ]
    assert set(graph.edges["target"]) <= set(graph.nodes["node"])
    assert ("search", "tool:search") in set(graph.edges.select("source", "target").rows())


def test_percentiles_are_numpy_s_with_enough_values() -> None:
    latencies = np.random.default_rng(3).lognormal(0, 1, size=25)
    frame = _frame(
        [_span("t", "root", None, "agent", 0, agent_name="a", latency_s=999)]
        + [
            _span("t", f"x{i}", "root", "tool", 1 + i, tool_name="t", latency_s=float(v))
            for i, v in enumerate(latencies)
        ]
    )
    row = analytics.tool_usage(frame).row(0, named=True)
    assert row["latency_p50_s"] == pytest.approx(np.quantile(latencies, 0.5), rel=1e-12)
    assert row["latency_p95_s"] == pytest.approx(np.quantile(latencies, 0.95), rel=1e-12)
    assert row["total_latency_s"] == pytest.approx(latencies.sum())
    few = analytics.tool_usage(frame.head(20)).row(0, named=True)  # 19 calls: no P95
    assert few["latency_p95_s"] is None and few["latency_p50_s"] is not None


def test_a_parent_cycle_ends_the_walk_and_counts_each_ancestor_once() -> None:
    frame = _frame(
        [
            _span("t", "a", "b", "chain", 0),
            _span("t", "b", "a", "tool", 1, tool_name="x"),  # a and b: each other's parent
            _span("t", "c", "b", "tool", 2, tool_name="y"),
            _span("t", "d", "c", "llm", 3, model="m", cost_usd=0.1),
            _span("t", "e", "a", "llm", 4, model="m", cost_usd=0.2),
        ]
    )
    _all_questions(frame)
    costs = dict(analytics.tool_usage(frame).select("tool_name", "cost_usd").rows())
    assert costs == {"x": pytest.approx(0.3), "y": pytest.approx(0.1)}


def test_empty_inputs_give_empty_frames_with_the_columns(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema=SPANS.polars)
    calls_only = _frame([_span("t", "a", None, "llm", 0, model="m", cost_usd=1.0)])
    db = write_store(tmp_path / "empty.duckdb", empty)
    for source in (empty, calls_only, str(db)):
        assert analytics.tool_usage(source).schema == pl.Schema(TOOL_SCHEMA)
        assert analytics.tool_usage(source).height == 0
        assert analytics.agent_paths(source).schema == pl.Schema(PATH_SCHEMA)
        assert analytics.agent_paths(source).height == 0
        assert analytics.tool_loops(source).schema == pl.Schema(LOOP_SCHEMA)
        graph = analytics.agent_graph(source)
        assert graph.edges.schema == pl.Schema(EDGE_SCHEMA)
        assert graph.nodes.schema == pl.Schema(NODE_SCHEMA)
    assert analytics.tool_usage(empty, by="agent").schema == pl.Schema(AGENT_SCHEMA)
    assert analytics.tool_usage(empty, by="agent").height == 0
    # Model calls outside agents: "(no agent)" and the model.
    graph = analytics.agent_graph(calls_only)
    assert graph.nodes["node"].to_list() == ["(no agent)", "m"]
    assert graph.edges.rows() == [("(no agent)", "m", 1, 0, 0.0, 1.0)]


def test_bad_arguments_are_refused(spans) -> None:
    with pytest.raises(ValueError, match="by='model'"):
        analytics.tool_usage(spans, by="model")
    with pytest.raises(TypeError, match="positional"):
        analytics.tool_usage(spans, "agent")
    with pytest.raises(ValueError, match="'nope'"):
        analytics.agent_graph(spans, where={"nope": 1})
    with pytest.raises(ValueError, match="'parent_span_id'"):
        analytics.tool_usage(spans.drop("parent_span_id"))


# -- the attribution, property-based -------------------------------------------------------------


def _naive_nearest(parent: list[int], is_agent: list[bool], i: int) -> int:
    seen = set()
    p = parent[i]
    while p >= 0 and p not in seen:
        if is_agent[p]:
            return p
        seen.add(p)
        p = parent[p]
    return -1


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_nearest_agent_is_the_first_agent_up_the_parents(data) -> None:
    n = data.draw(st.integers(0, 40))
    parent = data.draw(st.lists(st.integers(-1, max(n - 1, -1)), min_size=n, max_size=n))
    is_agent = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    got = nearest_agent(np.array(parent, dtype=np.int64), np.array(is_agent, dtype=bool))
    assert got.tolist() == [_naive_nearest(parent, is_agent, i) for i in range(n)]


KINDS = ["agent", "tool", "llm", "chain"]


def random_span(draw: st.DrawFn, trace: str, span: str, parent: str | None, start_s: float) -> dict:
    """One span of a drawn kind, with drawn names, cost, status and arguments."""
    kind = draw(st.sampled_from(KINDS))
    return _span(
        trace,
        span,
        parent,
        kind,
        start_s,
        agent_name=draw(st.sampled_from([None, "a", "b"])),
        tool_name=draw(st.sampled_from(["x", "y"])) if kind == "tool" else None,
        model="m" if kind == "llm" else None,
        cost_usd=draw(st.sampled_from([None, 0.5, 2.0])) if kind == "llm" else None,
        status=draw(st.sampled_from(["ok", "ok", "error"])),
        input_text=draw(st.sampled_from([None, "q"])) if kind == "tool" else None,
    )


@st.composite
def forests(draw) -> pl.DataFrame:
    """A few traces of random trees of agents, tools, calls and chains, some children without
    their agent_name, some parents missing."""
    rows = []
    for t in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 10))
        for i in range(n):
            parent = draw(st.integers(-2, i - 1)) if i else -1
            up = None if parent == -1 else f"s{parent}" if parent >= 0 else "gone"
            rows.append(random_span(draw, f"t{t}", f"s{i}", up, draw(st.integers(0, 5)) + i / 100))
    return _frame(rows)


@settings(max_examples=40, deadline=None)
@given(forests())
def test_every_question_matches_the_rules_on_random_traces(frame: pl.DataFrame) -> None:
    _all_questions(frame)
