"""Agents in the store (issue #15, item 4): a real agent framework traced by its own
instrumentation, and a hand-written agent with ``obs.agent``/``obs.tool``, both against the
local test server.

The framework is the OpenAI Agents SDK (``openai-agents``) traced by OpenInference's
instrumentor through :func:`llmobs_nb.clients.agent_frameworks.instrument_openai_agents`; its
model is ``OpenAIChatCompletionsModel`` on an ``AsyncOpenAI`` client pointed at the server, so
it speaks Chat Completions, which the server answers with the tool calls the test scripts. The
store is checked, not the spans in memory. Every test runs with sockets guarded: a connection
or name lookup to anything but the loopback fails and is recorded (``OPENAI_API_KEY`` is set,
so the SDK's own exporter to OpenAI would try if it were still registered).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.local_llm import LLMTestServer

agents = pytest.importorskip("agents")
pytest.importorskip("openinference.instrumentation.openai_agents")

from llmobs_nb.clients.agent_frameworks import instrument_openai_agents  # noqa: E402

QUESTION = "What is the weather in Paris?"
FOLLOW_UP = "And what time is it there?"
WEATHER = "18 C and sunny in Paris"
TIME = "14:05 in Paris"


# -- no request leaves the machine ---------------------------------------------------------


def _loopback(host: Any) -> bool:
    if host is None or host == "localhost":
        return True
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def egress(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every attempt to reach beyond the loopback, refused and recorded."""
    attempts: list[Any] = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            attempts.append(address)
            raise OSError(f"test guard: no connection to {address!r}")
        return connect(sock, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            attempts.append(host)
            raise OSError(f"test guard: no lookup of {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    yield attempts


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer() as running:  # usage counted from each request
        yield running


# -- the framework: OpenAI Agents SDK + OpenInference ----------------------------------------


@agents.function_tool
def get_weather(city: str) -> str:
    """Current weather of a city."""
    return f"18 C and sunny in {city}"


@agents.function_tool
def get_time(city: str) -> str:
    """Local time of a city."""
    return f"14:05 in {city}"


@agents.function_tool
def get_forecast(city: str) -> str:
    """Tomorrow's weather of a city."""
    raise RuntimeError(f"forecast service down for {city}")


def weather_bot(client: openai.AsyncOpenAI, tools: list[Any]) -> Any:
    model = agents.OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client)
    return agents.Agent(
        name="weather-bot", instructions="Answer with the tools.", model=model, tools=tools
    )


def run_turns(server: LLMTestServer, turns: list[tuple[str, str]], tools: list[Any]) -> list[Any]:
    """One ``Runner.run`` per (question, scripted tool), the conversation carried over."""

    async def conversation() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        agent, results, history = weather_bot(client, tools), [], []
        for question, tool in turns:
            server.queue_tool_calls(tool, {"city": "Paris"})
            result = await agents.Runner.run(
                agent, [*history, {"role": "user", "content": question}]
            )
            results.append(result)
            history = result.to_input_list()
        await client.close()
        return results

    return asyncio.run(conversation())


def traced_conversation(
    tmp_path: Path, server: LLMTestServer, *, content: bool
) -> tuple[llmobs_nb.Observer, list[Any]]:
    obs = llmobs_nb.init(db=tmp_path / "agents.duckdb", project="agents", capture_content=content)
    with instrument_openai_agents(obs), obs.session("conv-1", user_id="ann"):
        results = run_turns(
            server, [(QUESTION, "get_weather"), (FOLLOW_UP, "get_time")], [get_weather, get_time]
        )
        agents.flush_traces()  # what any exporter still registered would send, sent now
    obs.flush()
    return obs, results


SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, status, provider, model, input_tokens, "
    "output_tokens, cost_usd, session_id, user_id, agent_name, tool_name, input_text, "
    "output_text, attributes"
)


def stored_spans(obs: llmobs_nb.Observer) -> pl.DataFrame:
    return obs.sql(f"select {SPAN_COLUMNS} from spans order by start_time, end_time desc")


def trace_shape(spans: pl.DataFrame) -> list[tuple[str, str, str | None]]:
    return list(zip(spans["name"], spans["kind"], spans["tool_name"], strict=True))


@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
def test_openai_agents_two_turns_land_as_one_tree_per_turn_in_the_session(
    tmp_path, server, egress, content
) -> None:
    obs, results = traced_conversation(tmp_path, server, content=content)
    spans = stored_spans(obs)

    assert [r.final_output for r in results] == [
        f"Based on get_weather: {WEATHER}",
        f"Based on get_time: {TIME}",
    ]
    # two turns, two traces, each one tree: a single root, every parent in the same trace
    traces = spans.partition_by("trace_id", maintain_order=True)
    assert len(traces) == 2
    for trace, tool in zip(traces, ["get_weather", "get_time"], strict=True):
        assert trace["parent_span_id"].null_count() == 1
        assert set(trace["parent_span_id"].drop_nulls()) <= set(trace["span_id"])
        assert trace_shape(trace) == [
            ("Agent workflow", "agent", None),  # the trace root (RunConfig.workflow_name)
            ("Agent workflow", "chain", None),  # the run's task
            ("weather-bot", "agent", None),
            ("turn", "chain", None),
            ("generation", "llm", None),
            (tool, "tool", tool),
            ("turn", "chain", None),
            ("generation", "llm", None),
        ]
        by_id = {row["span_id"]: row for row in trace.iter_rows(named=True)}
        agent = trace.row(2, named=True)
        assert agent["agent_name"] == "weather-bot"
        assert by_id[agent["parent_span_id"]]["name"] == "Agent workflow"
        for row in trace.rows(named=True)[3:]:  # every span inside the agent: its name
            assert row["agent_name"] == "weather-bot"
        tool_row = trace.row(5, named=True)
        assert tool_row["status"] == "ok"
        assert by_id[tool_row["parent_span_id"]]["name"] == "turn"
        assert by_id[by_id[tool_row["parent_span_id"]]["parent_span_id"]] == agent

    # every span of both traces is in the session, with its user
    assert spans["session_id"].unique().to_list() == ["conv-1"]
    assert spans["user_id"].unique().to_list() == ["ann"]

    # the model calls: the model, the server's usage as the SDK received it, priced
    llm = spans.filter(pl.col("kind") == "llm")
    usage = [response.usage for result in results for response in result.raw_responses]
    assert llm["input_tokens"].to_list() == [u.input_tokens for u in usage]
    assert llm["output_tokens"].to_list() == [u.output_tokens for u in usage]
    assert llm["input_tokens"].to_list() == sorted(llm["input_tokens"])  # the talk grows
    assert set(llm["model"]) == {"gpt-4o"}
    assert set(llm["provider"]) == {"openai"}
    assert all(cost > 0 for cost in llm["cost_usd"])
    calls = obs.calls()
    assert calls.height == 4
    assert set(calls["agent_name"]) == {"weather-bot"}
    assert set(calls["session_id"]) == {"conv-1"}

    # tool arguments and results (and prompts, answers): only with content capture on
    tools = spans.filter(pl.col("kind") == "tool")
    if content:
        assert tools["input_text"].to_list() == ['{"city":"Paris"}'] * 2
        assert tools["output_text"].to_list() == [WEATHER, TIME]
        assert QUESTION in llm["input_text"][0]
    else:
        for column in ("input_text", "output_text"):
            assert spans[column].null_count() == spans.height
        stored = json.dumps(spans.select("name", "attributes").rows())
        for text in ("Paris", "18 C", "14:05", QUESTION):
            assert text not in stored

    # nothing but the local server was asked
    assert egress == []
    assert [r.path for r in server.requests] == ["/v1/chat/completions"] * 4
    obs.close()


def test_a_failing_tool_is_an_error_span_and_the_agent_goes_on(tmp_path, server, egress) -> None:
    obs = llmobs_nb.init(db=tmp_path / "failing.duckdb", project="agents")
    with instrument_openai_agents(obs), obs.session("conv-2", user_id="bob"):
        (result,) = run_turns(server, [("Forecast for Paris?", "get_forecast")], [get_forecast])
    obs.flush()
    spans = stored_spans(obs)

    assert result.final_output.startswith("Based on get_forecast: An error occurred")
    tool = spans.filter(pl.col("kind") == "tool").row(0, named=True)
    assert (tool["tool_name"], tool["status"], tool["agent_name"]) == (
        "get_forecast",
        "error",
        "weather-bot",
    )
    # content off: the status description (which may quote the failure) is not kept
    assert obs.sql("select error_message from spans where kind = 'tool'").item() == "error"
    assert spans.filter(pl.col("status") == "error").height == 1  # the run itself went on
    assert egress == []
    obs.close()


def test_a_streamed_run_of_an_agent_used_as_a_tool_names_each_calls_agent(
    tmp_path, server, egress
) -> None:
    obs = llmobs_nb.init(db=tmp_path / "nested.duckdb", project="agents")
    # Off OpenAI's host the SDK asks for a stream's usage only when told to.
    settings = agents.ModelSettings(include_usage=True)

    async def run() -> Any:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        inner = weather_bot(client, [get_weather])
        inner.model_settings = settings
        concierge = agents.Agent(
            name="concierge",
            model=agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client),
            model_settings=settings,
            tools=[inner.as_tool(tool_name="ask_weather_bot", tool_description="Weather")],
        )
        server.queue_tool_calls("ask_weather_bot", {"input": QUESTION})
        server.queue_tool_calls("get_weather", {"city": "Paris"})
        streamed = agents.Runner.run_streamed(concierge, QUESTION)
        async for _ in streamed.stream_events():
            pass
        await client.close()
        return streamed

    with instrument_openai_agents(obs), obs.session("conv-3", user_id="cy"):
        streamed = asyncio.run(run())
    obs.flush()
    spans = stored_spans(obs)

    assert streamed.final_output == f"Based on ask_weather_bot: Based on get_weather: {WEATHER}"
    assert spans["trace_id"].n_unique() == 1
    assert spans["parent_span_id"].null_count() == 1
    by_name = spans.group_by("kind", "name", "agent_name", maintain_order=True).len()
    assert by_name.filter(pl.col("kind").is_in(["agent", "tool", "llm"])).rows() == [
        ("agent", "Agent workflow", "Agent workflow", 1),  # the trace root
        ("agent", "concierge", "concierge", 1),
        ("llm", "generation", "concierge", 2),
        ("tool", "ask_weather_bot", "concierge", 1),
        ("agent", "weather-bot", "weather-bot", 1),
        ("llm", "generation", "weather-bot", 2),
        ("tool", "get_weather", "weather-bot", 1),
    ]
    calls = obs.calls()
    assert calls.group_by("agent_name", "model").len().sort("agent_name").rows() == [
        ("concierge", "gpt-4o-mini", 2),
        ("weather-bot", "gpt-4o", 2),
    ]
    assert calls["input_tokens"].null_count() == calls["output_tokens"].null_count() == 0
    assert set(spans["session_id"]) == {"conv-3"}
    assert egress == []
    obs.close()


def test_uninstrument_stops_tracing_and_a_second_observer_takes_over(
    tmp_path, server, egress, monkeypatch
) -> None:
    first = llmobs_nb.init(db=tmp_path / "first.duckdb", project="agents")
    second = llmobs_nb.init(db=tmp_path / "second.duckdb", project="agents")
    # the SDK's own exporter, back after uninstrument(), must not retry for seconds
    monkeypatch.setattr(agents.tracing.processors.default_exporter(), "max_retries", 0)

    superseded = instrument_openai_agents(first)
    tracing = instrument_openai_agents(second)  # a re-run cell: the tracing moves
    superseded.uninstrument()  # harmless: the second one is in force
    run_turns(server, [(QUESTION, "get_weather")], [get_weather])
    tracing.uninstrument()
    run_turns(server, [(QUESTION, "get_weather")], [get_weather])  # not traced
    agents.flush_traces()
    first.flush()
    second.flush()

    assert first.sql("select count(*) from spans").item() == 0
    assert second.sql("select count(distinct trace_id) from spans").item() == 1
    # the guard is not blind: once uninstrumented, the SDK's own exporter is back and tries
    # OpenAI's servers (refused here)
    assert egress and all("openai.com" in str(attempt) for attempt in egress)
    first.close()
    second.close()


# -- a hand-written agent: obs.agent / obs.tool + the real openai SDK ------------------------

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    for name, description in [
        ("get_weather", "Current weather of a city"),
        ("get_time", "Local time of a city"),
    ]
]
FUNCTIONS = {
    "get_weather": lambda city: f"18 C and sunny in {city}",
    "get_time": lambda city: f"14:05 in {city}",
}


def test_a_hand_written_agent_loop_stores_agent_then_llm_tool_llm(tmp_path, server, egress):
    obs = llmobs_nb.init(db=tmp_path / "hand.duckdb", project="agents", capture_content=True)
    client = obs.instrument_openai(
        openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    )
    server.queue_tool_calls("get_weather", {"city": "Paris"})
    messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    calls, completions = [], []
    with obs.session("conv-1", user_id="ann"), obs.agent("planner"):
        for _ in range(3):
            completion = client.chat.completions.create(
                model="gpt-4o", messages=messages, tools=TOOLS
            )
            completions.append(completion)
            message = completion.choices[0].message
            if not message.tool_calls:
                break
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                # the tool runs as a span named by the model's call, its id attached
                tool = obs.tool(call.function.name, call_id=call.id)(FUNCTIONS[call.function.name])
                result = tool(**json.loads(call.function.arguments))
                calls.append(call)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    obs.flush()
    spans = stored_spans(obs)

    assert message.content == f"Based on get_weather: {WEATHER}"
    (call,) = calls
    assert trace_shape(spans) == [
        ("invoke_agent planner", "agent", None),
        ("chat gpt-4o", "llm", None),
        ("execute_tool get_weather", "tool", "get_weather"),
        ("chat gpt-4o", "llm", None),
    ]
    root = spans.row(0, named=True)
    assert root["parent_span_id"] is None
    assert spans["parent_span_id"][1:].to_list() == [root["span_id"]] * 3
    assert set(spans["agent_name"]) == {"planner"}
    assert set(spans["session_id"]) == {"conv-1"}
    assert set(spans["user_id"]) == {"ann"}
    tool_row = spans.row(2, named=True)
    assert json.loads(tool_row["attributes"])["gen_ai.tool.call.id"] == call.id
    assert (tool_row["input_text"], tool_row["output_text"]) == ('{"city": "Paris"}', WEATHER)
    llm = spans.filter(pl.col("kind") == "llm")
    assert llm["input_tokens"].to_list() == [c.usage.prompt_tokens for c in completions]
    assert llm["output_tokens"].to_list() == [c.usage.completion_tokens for c in completions]
    assert egress == []
    obs.close()


def test_a_closed_or_read_only_observer_is_refused(tmp_path) -> None:
    obs = llmobs_nb.init(db=tmp_path / "closed.duckdb", project="agents")
    obs.close()
    with pytest.raises(RuntimeError, match="is closed"):
        instrument_openai_agents(obs)
    with pytest.raises(PermissionError, match="read-only"):
        instrument_openai_agents(llmobs_nb.open(tmp_path / "closed.duckdb"))
