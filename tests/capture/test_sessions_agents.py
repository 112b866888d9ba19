"""Sessions, agents and tools (issue #15): ``obs.session``, ``obs.agent``, ``obs.tool`` and the
same facts read from other instrumentations' spans (GenAI v1.41 and OpenInference), stored in
the ``session_id``, ``agent_name`` and ``tool_name`` columns; a store of the previous schema
upgrades in place."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading

import duckdb
import pytest
from opentelemetry import trace

import llmobs_nb
from llmobs_nb.store.migrations import MIGRATIONS

ROW = "select name, kind, session_id, agent_name, tool_name, user_id from spans"


@pytest.fixture
def obs(tmp_path):
    observer = llmobs_nb.init(db=tmp_path / "agents.duckdb", project="agents", set_global=True)
    yield observer
    observer.close()


def _row(obs, name):
    obs.flush()
    rows = [r for r in obs.sql(ROW).to_dicts() if r["name"] == name]
    assert len(rows) == 1, (name, rows)
    return rows[0]


def test_session_labels_every_span_inside_and_nests(obs):
    with obs.session("conv-1", user_id="ann"):
        with obs.span("outer"):
            pass
        with obs.session("conv-2"), obs.span("inner"):
            pass
        with obs.span("after"):
            pass
    with obs.span("outside"):
        pass
    assert _row(obs, "outer")["session_id"] == "conv-1"
    assert _row(obs, "outer")["user_id"] == "ann"
    assert (_row(obs, "inner")["session_id"], _row(obs, "inner")["user_id"]) == ("conv-2", "ann")
    assert _row(obs, "after")["session_id"] == "conv-1"
    assert _row(obs, "outside")["session_id"] is None


def test_session_follows_threads_with_a_copied_context_and_asyncio_tasks(obs):
    async def turn(name):
        with obs.span(name):
            await asyncio.sleep(0)

    async def both():
        await asyncio.gather(turn("task-a"), turn("task-b"))

    def in_thread():
        with obs.span("thread"):
            pass

    with obs.session("conv-async"):
        asyncio.run(both())
        worker = threading.Thread(target=contextvars.copy_context().run, args=(in_thread,))
        worker.start()
        worker.join()
    for name in ("task-a", "task-b", "thread"):
        assert _row(obs, name)["session_id"] == "conv-async"


def test_session_id_must_be_a_non_empty_string(obs):
    for bad in ("", None, 42):
        with pytest.raises(TypeError), obs.session(bad):  # type: ignore[arg-type]
            pass


def test_agent_and_tool_as_context_and_decorator_sync_and_async(obs):
    @obs.tool("lookup", call_id="call_1")
    def lookup(city):
        return f"sunny in {city}"

    @obs.tool("fetch", tool_type="datastore")
    async def fetch(key):
        await asyncio.sleep(0)
        return {"key": key}

    @obs.agent("researcher", agent_id="agent-7")
    def research():
        return lookup("Oslo")

    with obs.agent("planner") as planner:
        assert planner.recording
        assert lookup("Paris") == "sunny in Paris"  # the user's value, unchanged
        assert asyncio.run(fetch("k")) == {"key": "k"}
        assert research() == "sunny in Oslo"
        with obs.span("ask", kind="llm", model="gpt-4o-mini"):
            pass
    obs.flush()
    spans = obs.sql(
        "select name, kind, operation, agent_name, tool_name, attributes, span_id, "
        "parent_span_id from spans"
    ).to_dicts()
    by = {}
    for row in spans:
        by.setdefault(row["name"], []).append(row)
    (plan,) = by["invoke_agent planner"]
    assert (plan["kind"], plan["operation"], plan["agent_name"]) == (
        "agent",
        "invoke_agent",
        "planner",
    )
    paris, oslo = sorted(
        by["execute_tool lookup"], key=lambda r: r["parent_span_id"] != plan["span_id"]
    )
    assert (paris["kind"], paris["operation"], paris["tool_name"]) == (
        "tool",
        "execute_tool",
        "lookup",
    )
    assert paris["agent_name"] == "planner" and paris["parent_span_id"] == plan["span_id"]
    (research,) = by["invoke_agent researcher"]
    assert oslo["parent_span_id"] == research["span_id"]
    assert oslo["agent_name"] == "researcher"  # the nearest agent, not the outer one
    assert json.loads(research["attributes"])["gen_ai.agent.id"] == "agent-7"
    attrs = json.loads(paris["attributes"])
    assert (attrs["gen_ai.tool.call.id"], attrs["gen_ai.tool.type"]) == ("call_1", "function")
    (fetch_row,) = by["execute_tool fetch"]
    assert json.loads(fetch_row["attributes"])["gen_ai.tool.type"] == "datastore"
    (ask,) = by["ask"]
    assert ask["agent_name"] == "planner"
    calls = obs.calls()
    assert calls["agent_name"].to_list() == ["planner"]  # llm_calls carries the agent


def test_a_failing_tool_raises_the_same_exception_and_is_stored_as_an_error(obs):
    class Boom(RuntimeError):
        pass

    @obs.tool("explode")
    def explode():
        raise Boom("no")

    with obs.agent("a"), pytest.raises(Boom):
        explode()
    obs.flush()
    row = obs.sql("select status, error_type from spans where tool_name = 'explode'").row(
        0, named=True
    )
    assert row == {"status": "error", "error_type": "Boom"}


def test_bad_agent_and_tool_arguments_are_refused_at_once(obs):
    with pytest.raises(TypeError):
        obs.agent("")
    with pytest.raises(TypeError):
        obs.tool(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tool_type"):
        obs.tool("x", tool_type="rpc")
    with pytest.raises(TypeError):
        obs.tool("x", call_id=17)  # type: ignore[arg-type]


@pytest.mark.parametrize("capture", [True, False])
def test_tool_arguments_and_result_only_with_content_capture(tmp_path, capture):
    obs = llmobs_nb.init(db=tmp_path / "c.duckdb", project="c", capture_content=capture)
    try:

        @obs.tool("search_docs")
        def search_docs(query, top_k=3):
            return [{"doc": "refunds take 5 days"}]

        with obs.agent("support"):
            search_docs("refund policy", top_k=2)
        obs.flush()
        row = obs.sql("select input_text, output_text from spans where kind = 'tool'").row(
            0, named=True
        )
    finally:
        obs.close()
    if capture:
        assert "refund policy" in row["input_text"] and "2" in row["input_text"]
        assert json.loads(row["output_text"]) == [{"doc": "refunds take 5 days"}]
    else:
        assert row == {"input_text": None, "output_text": None}


def test_third_party_spans_inside_a_session_get_it_unless_they_name_their_own(obs):
    tracer = trace.get_tracer("some.framework")
    with obs.session("conv-3", user_id="ann"), obs.run("v1"):
        with tracer.start_as_current_span("theirs"):
            pass
        with tracer.start_as_current_span("own-oi", attributes={"session.id": "oi-9"}):
            pass
        with tracer.start_as_current_span(
            "own-genai", attributes={"gen_ai.conversation.id": "g-4", "user.id": "bob"}
        ):
            pass
    obs.flush()
    rows = {
        r["name"]: r for r in obs.sql("select name, session_id, user_id, run from spans").to_dicts()
    }
    assert rows["theirs"] == {
        "name": "theirs",
        "session_id": "conv-3",
        "user_id": "ann",
        "run": "v1",
    }
    assert rows["own-oi"]["session_id"] == "oi-9"
    assert (rows["own-genai"]["session_id"], rows["own-genai"]["user_id"]) == ("g-4", "bob")


def test_genai_agent_and_tool_spans_of_another_instrumentation(obs):
    tracer = trace.get_tracer("opentelemetry.instrumentation.some_agents")
    with tracer.start_as_current_span(
        "invoke_agent travel",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "travel",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 900,
            "gen_ai.conversation.id": "trip-1",
        },
    ):
        with tracer.start_as_current_span(
            "execute_tool book_flight",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.call.id": "call_9",
                "gen_ai.tool.call.arguments": '{"to": "OSL"}',
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 900,
                "gen_ai.usage.output_tokens": 10,
            },
        ):
            pass
    obs.flush()
    rows = {
        r["name"]: r
        for r in obs.sql(
            "select name, kind, agent_name, tool_name, session_id, input_text from spans"
        ).to_dicts()
    }
    agent = rows["invoke_agent travel"]
    assert (agent["kind"], agent["agent_name"], agent["session_id"]) == (
        "agent",
        "travel",
        "trip-1",
    )
    tool = rows["execute_tool book_flight"]
    assert (tool["kind"], tool["tool_name"]) == ("tool", "book_flight")
    assert tool["input_text"] is None  # content capture is off: the arguments are not kept
    # the agent span is not a model call (its chat child is): no double count
    assert obs.calls()["name"].to_list() == ["chat gpt-4o"]


def test_openinference_agent_and_tool_spans(obs):
    tracer = trace.get_tracer("openinference.instrumentation.langchain")
    with tracer.start_as_current_span(
        "agent", attributes={"openinference.span.kind": "AGENT", "graph.node.name": "supervisor"}
    ):
        with tracer.start_as_current_span(
            "lookup", attributes={"openinference.span.kind": "TOOL", "tool.name": "lookup"}
        ):
            pass
        with tracer.start_as_current_span("step", attributes={"openinference.span.kind": "TOOL"}):
            pass
    obs.flush()
    rows = {
        r["name"]: r
        for r in obs.sql("select name, kind, agent_name, tool_name from spans").to_dicts()
    }
    assert (rows["agent"]["kind"], rows["agent"]["agent_name"]) == ("agent", "supervisor")
    assert (rows["lookup"]["kind"], rows["lookup"]["tool_name"]) == ("tool", "lookup")
    assert rows["step"]["tool_name"] == "step"  # no tool.name: the span's name


def test_enclosing_agent_label_goes_to_third_party_spans_but_not_to_their_agents(obs):
    tracer = trace.get_tracer("some.framework")
    with obs.agent("outer"):
        with tracer.start_as_current_span(
            "their-chat", attributes={"gen_ai.operation.name": "chat"}
        ):
            pass
        with tracer.start_as_current_span(
            "their-agent", attributes={"openinference.span.kind": "AGENT"}
        ):
            pass
    obs.flush()
    rows = {r["name"]: r for r in obs.sql("select name, agent_name from spans").to_dicts()}
    assert rows["their-chat"]["agent_name"] == "outer"
    assert rows["their-agent"]["agent_name"] == "their-agent"  # an agent of its own


def _store_of_schema_7(path, rows):
    """A store as the previous release (schema 7, before m008) wrote it, with some spans."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE _migrations (seq INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    for seq, (name, fn) in enumerate(MIGRATIONS[:7]):
        fn(con)
        con.execute("INSERT INTO _migrations VALUES (?, ?, now())", [seq, name])
    assert [n for n, _ in MIGRATIONS[:7]][-1] == "m007_rollups"
    for i, kind in enumerate(rows):
        con.execute(
            "INSERT INTO spans (trace_id, span_id, name, kind, model, start_time, end_time, "
            "latency_s, status, input_tokens, cost_usd, attributes) VALUES "
            "(?, ?, ?, ?, 'gpt-4o', TIMESTAMPTZ '2026-11-01 10:00:00+00' + to_seconds(?), "
            "TIMESTAMPTZ '2026-11-01 10:00:01+00' + to_seconds(?), 1.0, 'ok', 10, 0.01, '{}')",
            [f"{i:032x}", f"{i:016x}", f"s{i}", kind, i, i],
        )
    con.close()


def test_a_store_of_the_previous_schema_upgrades_in_place(tmp_path):
    path = tmp_path / "old.duckdb"
    _store_of_schema_7(path, ["llm", "llm", "chain", "tool"])
    obs = llmobs_nb.init(db=path, project="old")
    try:
        assert obs.store.schema_version == len(MIGRATIONS) == 9  # m008, then m009_rollup_users
        obs.store.catch_up_rollups(force=True)  # these spans were stored past the mark
        assert obs.sql("select sum(calls)::BIGINT as n from rollup_users").item() == 2
        spans = obs.sql("select name, session_id, agent_name, tool_name from spans order by name")
        assert spans["name"].to_list() == ["s0", "s1", "s2", "s3"]
        assert spans.select("session_id", "agent_name", "tool_name").null_count().row(0) == (
            4,
            4,
            4,
        )
        calls = obs.calls()
        assert calls.height == 2 and calls["session_id"].null_count() == 2
        assert calls["cost_usd"].sum() == pytest.approx(0.02)
        with obs.session("new"), obs.span("fresh"):
            pass
        obs.flush()
        assert obs.sql("select session_id from spans where name = 'fresh'").item() == "new"
    finally:
        obs.close()
    again = llmobs_nb.open(path)  # read-only: the upgraded file opens as it is
    try:
        assert again.calls().columns[-2:] == ["session_id", "agent_name"]
    finally:
        again.close()


def test_an_old_store_opened_read_only_says_how_to_upgrade_it(tmp_path):
    from llmobs_nb import analytics

    path = tmp_path / "old.duckdb"
    _store_of_schema_7(path, ["llm", "tool"])
    old = llmobs_nb.open(path)  # read-only: not migrated
    try:
        assert old.calls().height == 1  # what the old schema has still reads
        for question in (analytics.sessions, analytics.tool_usage, analytics.agent_paths):
            with pytest.raises(ValueError, match=r"llmobs_nb.init\(db="):
                question(old)
    finally:
        old.close()
    with duckdb.connect(str(path), read_only=True) as con:  # and the file was not changed
        assert con.execute("select count(*) from _migrations").fetchone() == (7,)
