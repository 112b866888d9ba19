"""Tool calls and multi-turn conversations: the real openai and anthropic SDKs, the local server.

The server decides from the request alone (llmobs_nb.local_llm.tool_calls), so every value
below is exact: the tool, its arguments, its id, the final text and the counted usage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from llmobs_nb.local_llm import LLMTestServer, Usage

CLAUDE = "claude-sonnet-4-6"
QUESTION = "What is the weather in Paris?"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
SEARCH_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
    "required": ["query", "limit"],
}
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the product manual",
            "parameters": SEARCH_SCHEMA,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": WEATHER_SCHEMA,
        },
    },
]
ANTHROPIC_TOOLS = [
    {
        "name": tool["function"]["name"],
        "description": tool["function"]["description"],
        "input_schema": tool["function"]["parameters"],
    }
    for tool in OPENAI_TOOLS
]
# "What is the weather in Paris?": 7 tokens, + 3 for the message, + 3 for the answer.
PLAIN_PROMPT_TOKENS = 13


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(chunks=4) as running:  # usage=None: counted from each request
        yield running


def openai_client(server: LLMTestServer, **options: Any) -> openai.OpenAI:
    options = {"max_retries": 0, **options}
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", **options)


def anthropic_client(server: LLMTestServer, **options: Any) -> anthropic.Anthropic:
    options = {"max_retries": 0, **options}
    return anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", **options)


def ask_openai(server: LLMTestServer, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    return openai_client(server).chat.completions.create(
        model="gpt-4o", messages=messages, **kwargs
    )


def ask_claude(server: LLMTestServer, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    return anthropic_client(server).messages.create(
        model=CLAUDE, max_tokens=200, messages=messages, **kwargs
    )


def user(text: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# -- OpenAI chat completions ---------------------------------------------------------------


def test_openai_calls_the_tool_the_question_names_with_arguments_from_it(server) -> None:
    plain = ask_openai(server, user())
    completion = ask_openai(server, user(), tools=OPENAI_TOOLS)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"  # named by "weather", although listed second
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_") and len(call.id) == len("call_") + 24
    # usage: the prompt counts the tool definitions, the completion the call
    assert plain.usage.prompt_tokens == PLAIN_PROMPT_TOKENS
    assert completion.usage.prompt_tokens > PLAIN_PROMPT_TOKENS + 50
    assert completion.usage.completion_tokens == 10  # get_weather {"city":"Paris"}
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_openai_fills_required_arguments_from_the_schema(server) -> None:
    completion = ask_openai(
        server, user("Search the manual for the 3 best Refund rules"), tools=OPENAI_TOOLS
    )

    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "search_docs"  # by "search" (a word of its name)
    assert json.loads(call.function.arguments) == {
        "query": "Search the manual for the 3 best Refund rules",
        "limit": 3,
    }


def test_openai_stream_sends_the_call_as_openai_does(server) -> None:
    plain = ask_openai(server, user(), tools=OPENAI_TOOLS).choices[0].message.tool_calls[0]
    chunks = list(
        ask_openai(
            server,
            user(),
            tools=OPENAI_TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    first, *middle, finish, usage_chunk = chunks
    opened = first.choices[0].delta.tool_calls[0]
    assert first.choices[0].delta.role == "assistant"
    assert (opened.index, opened.id, opened.type) == (0, plain.id, "function")
    assert (opened.function.name, opened.function.arguments) == ("get_weather", "")
    fragments = [c.choices[0].delta.tool_calls[0].function for c in middle]
    assert len(fragments) == 4  # chunks=4
    assert all(f.name is None for f in fragments)
    assert "".join(f.arguments for f in fragments) == plain.function.arguments
    assert finish.choices[0].finish_reason == "tool_calls"
    assert usage_chunk.choices == []
    assert usage_chunk.usage.prompt_tokens > PLAIN_PROMPT_TOKENS + 50
    assert usage_chunk.usage.completion_tokens == 10


def test_openai_stream_helper_accumulates_and_parses_a_strict_call(server) -> None:
    # strict mode: every property required
    schema = {**WEATHER_SCHEMA, "required": ["city", "unit"]}
    function = {**OPENAI_TOOLS[1]["function"], "parameters": schema, "strict": True}
    strict = [{"type": "function", "function": function}]
    with openai_client(server).chat.completions.stream(
        model="gpt-4o", messages=user("Is it raining in Lyon, in fahrenheit?"), tools=strict
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()

    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.parsed_arguments == {"city": "Lyon", "unit": "fahrenheit"}
    assert [e.parsed_arguments for e in done] == [call.function.parsed_arguments]


def test_openai_two_step_loop_ends_with_a_text_answer_from_the_result(server) -> None:
    messages = user()
    first = ask_openai(server, messages, tools=OPENAI_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18 C and sunny"},
    ]

    second = ask_openai(server, messages, tools=OPENAI_TOOLS)
    streamed = ask_openai(server, messages, tools=OPENAI_TOOLS, stream=True)

    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content == "Based on get_weather: 18 C and sunny"
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == "Based on get_weather: 18 C and sunny"
    # every turn counts: the call (get_weather {"city":"Paris"}: 10 tokens), the result (4)
    # and 3 per message
    assert second.usage.prompt_tokens == first.usage.prompt_tokens + 10 + 4 + 2 * 3


def test_openai_tool_choice_none_and_named(server) -> None:
    none = ask_openai(server, user(), tools=OPENAI_TOOLS, tool_choice="none")
    named = ask_openai(
        server,
        user(),
        tools=OPENAI_TOOLS,
        tool_choice={"type": "function", "function": {"name": "search_docs"}},
    )

    assert none.choices[0].finish_reason == "stop"
    assert none.choices[0].message.content == "The capital of France is Paris."
    assert none.choices[0].message.tool_calls is None
    call = named.choices[0].message.tool_calls[0]
    assert call.function.name == "search_docs"
    assert json.loads(call.function.arguments) == {"query": QUESTION, "limit": 1}


# -- Anthropic messages --------------------------------------------------------------------


def test_anthropic_answers_with_a_tool_use_block(server) -> None:
    plain = ask_claude(server, user())
    message = ask_claude(server, user(), tools=ANTHROPIC_TOOLS)

    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == {"city": "Paris"}
    assert block.id.startswith("toolu_") and len(block.id) == len("toolu_") + 24
    assert plain.usage.input_tokens == PLAIN_PROMPT_TOKENS
    assert message.usage.input_tokens > PLAIN_PROMPT_TOKENS + 50
    assert message.usage.output_tokens == 10


def test_anthropic_raw_stream_sends_input_json_deltas(server) -> None:
    plain = ask_claude(server, user(), tools=ANTHROPIC_TOOLS).content[0]
    events = list(ask_claude(server, user(), tools=ANTHROPIC_TOOLS, stream=True))

    types = [event.type for event in events]
    assert types == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[1].content_block
    assert (start.type, start.id, start.name, start.input) == (
        "tool_use",
        plain.id,
        "get_weather",
        {},
    )
    deltas = [event.delta for event in events if event.type == "content_block_delta"]
    assert {delta.type for delta in deltas} == {"input_json_delta"}
    assert json.loads("".join(delta.partial_json for delta in deltas)) == {"city": "Paris"}
    assert events[-2].delta.stop_reason == "tool_use"
    assert events[-2].usage.output_tokens == 10


def test_anthropic_stream_helper_gives_the_final_tool_use(server) -> None:
    plain = ask_claude(server, user(), tools=ANTHROPIC_TOOLS)
    with anthropic_client(server).messages.stream(
        model=CLAUDE, max_tokens=200, messages=user(), tools=ANTHROPIC_TOOLS
    ) as stream:
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    assert final.content[0].model_dump() == plain.content[0].model_dump()
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == 10


def test_anthropic_two_step_loop_ends_with_a_text_answer_from_the_result(server) -> None:
    messages: list[dict[str, Any]] = user()
    first = ask_claude(server, messages, tools=ANTHROPIC_TOOLS)
    block = first.content[0]
    messages += [
        {"role": "assistant", "content": [block.model_dump()]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": block.id,
                    "content": [{"type": "text", "text": "18 C and sunny"}],
                }
            ],
        },
    ]

    second = ask_claude(server, messages, tools=ANTHROPIC_TOOLS)
    with anthropic_client(server).messages.stream(
        model=CLAUDE, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS
    ) as stream:
        streamed = "".join(stream.text_stream)

    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"]
    assert second.content[0].text == streamed == "Based on get_weather: 18 C and sunny"
    assert second.usage.input_tokens == first.usage.input_tokens + 10 + 4 + 2 * 3


def test_anthropic_tool_choice_none_and_named(server) -> None:
    none = ask_claude(server, user(), tools=ANTHROPIC_TOOLS, tool_choice={"type": "none"})
    named = ask_claude(
        server, user(), tools=ANTHROPIC_TOOLS, tool_choice={"type": "tool", "name": "search_docs"}
    )
    any_tool = ask_claude(server, user("hello"), tools=ANTHROPIC_TOOLS, tool_choice={"type": "any"})

    assert none.stop_reason == "end_turn"
    assert none.content[0].text == "The capital of France is Paris."
    assert named.content[0].name == "search_docs"
    assert named.content[0].input == {"query": QUESTION, "limit": 1}
    assert any_tool.content[0].name == "search_docs"  # nothing mentioned: the first tool


# -- determinism, multi-turn and usage ------------------------------------------------------


def test_the_same_conversation_gets_the_same_call_even_from_another_server(server) -> None:
    first = ask_openai(server, user(), tools=OPENAI_TOOLS).choices[0].message.tool_calls[0]
    again = ask_openai(server, user(), tools=OPENAI_TOOLS).choices[0].message.tool_calls[0]
    other = ask_openai(server, user("Weather in Rome?"), tools=OPENAI_TOOLS)
    claude = ask_claude(server, user(), tools=ANTHROPIC_TOOLS).content[0]
    with LLMTestServer() as fresh:
        elsewhere = ask_openai(fresh, user(), tools=OPENAI_TOOLS).choices[0].message.tool_calls[0]
        claude_elsewhere = ask_claude(fresh, user(), tools=ANTHROPIC_TOOLS).content[0]

    assert first.model_dump() == again.model_dump() == elsewhere.model_dump()
    other_call = other.choices[0].message.tool_calls[0]
    assert other_call.id != first.id
    assert json.loads(other_call.function.arguments) == {"city": "Rome"}
    assert claude.model_dump() == claude_elsewhere.model_dump()


def test_multi_turn_usage_counts_every_turn(server) -> None:
    one = user("What is the capital of France?")
    three = [*one, {"role": "assistant", "content": "Paris."}, *user("And of Italy?")]

    short = ask_openai(server, one)
    long = ask_openai(server, three)
    again = ask_openai(server, three)

    # "Paris." is 2 tokens, "And of Italy?" 4; each message adds 3
    assert long.usage.prompt_tokens == short.usage.prompt_tokens + (2 + 3) + (4 + 3)
    assert comparable(long) == comparable(again)
    claude_short, claude_long = ask_claude(server, one), ask_claude(server, three)
    assert claude_long.usage.input_tokens == claude_short.usage.input_tokens + 12


def test_a_configured_usage_is_reported_as_is_with_tool_calls(server) -> None:
    server.usage = Usage(input_tokens=900, output_tokens=40, cached_tokens=512)

    completion = ask_openai(server, user(), tools=OPENAI_TOOLS)
    message = ask_claude(server, user(), tools=ANTHROPIC_TOOLS)

    assert completion.choices[0].finish_reason == "tool_calls"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (900, 40)
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (388, 512)


# -- scripted tool calls -------------------------------------------------------------------


def test_a_scripted_tool_loop_repeats_the_same_call_then_answers(server) -> None:
    server.queue_tool_calls("search_docs", {"query": "refund policy", "limit": 5}, times=3)
    messages = user("How do refunds work?")
    calls = []
    for _ in range(5):
        completion = ask_openai(server, messages, tools=OPENAI_TOOLS)
        message = completion.choices[0].message
        if not message.tool_calls:
            break
        call = message.tool_calls[0]
        calls.append((call.id, call.function.name, json.loads(call.function.arguments)))
        messages += [
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "No results."},
        ]

    assert [(name, args) for _, name, args in calls] == [
        ("search_docs", {"query": "refund policy", "limit": 5})
    ] * 3
    assert len({call_id for call_id, _, _ in calls}) == 3  # the conversation grew each time
    assert message.content == "Based on search_docs: No results."
    assert len(server.requests) == 4


def test_scripted_calls_win_over_tool_choice_and_skip_erroring_requests(server) -> None:
    server.queue_errors([429])
    server.queue_tool_calls("lookup_order")  # arguments=None: built from the request's schema
    tools = [
        {
            "name": "lookup_order",
            "input_schema": {
                "type": "object",
                "properties": {"order_id": {"type": "integer"}},
                "required": ["order_id"],
            },
        }
    ]

    client = anthropic_client(server, max_retries=1)
    with client.messages.stream(
        model=CLAUDE,
        max_tokens=100,
        messages=user("Where is order 4521?"),
        tools=tools,
        tool_choice={"type": "none"},
    ) as stream:
        final = stream.get_final_message()
    after = ask_claude(
        server, user("Where is order 4521?"), tools=tools, tool_choice={"type": "none"}
    )

    assert len(server.requests) == 3  # the 429, its retry, the next call
    assert final.stop_reason == "tool_use"
    assert (final.content[0].name, final.content[0].input) == ("lookup_order", {"order_id": 4521})
    assert after.stop_reason == "end_turn"  # the script was used once


def test_reset_drops_scripted_calls_and_bad_scripts_fail_at_once(server) -> None:
    server.queue_tool_calls("search_docs", {"query": "x"}, times=2)
    server.reset()

    assert ask_openai(server, user()).choices[0].message.tool_calls is None
    with pytest.raises(ValueError, match="times must be an int >= 1, got 0"):
        server.queue_tool_calls("search_docs", times=0)
    with pytest.raises(TypeError, match="not JSON serializable"):
        server.queue_tool_calls("search_docs", {"when": object()})
    with pytest.raises(ValueError, match="tool name must be a non-empty str"):
        server.queue_tool_calls("")


def comparable(completion: Any) -> dict[str, Any]:
    data = completion.model_dump()
    return {key: value for key, value in data.items() if key not in {"id", "created"}}


# -- what an instrumented client stores of a tool call ---------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_an_instrumented_call_that_asks_for_a_tool_stores_the_call_as_its_output(
    server, tmp_path, sdk: str, stream: bool
) -> None:
    import llmobs_nb

    obs = llmobs_nb.init(db=tmp_path / "t.duckdb", project="tools", capture_content=True)
    try:
        if sdk == "openai":
            client = obs.instrument_openai(openai_client(server))
            options: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
            answer = client.chat.completions.create(
                model="gpt-4o", messages=user(), tools=OPENAI_TOOLS, stream=stream, **options
            )
        else:
            client = obs.instrument_anthropic(anthropic_client(server))
            answer = client.messages.create(
                model=CLAUDE, max_tokens=200, messages=user(), tools=ANTHROPIC_TOOLS, stream=stream
            )
        if stream:
            list(answer)
        obs.flush()
        row = obs.sql(
            "select output_text, input_tokens, output_tokens from spans where kind = 'llm'"
        ).row(0, named=True)
    finally:
        obs.close()
    head, _, arguments = row["output_text"].partition("] ")
    assert head == "[tool_call get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert row["output_tokens"] and row["input_tokens"] > PLAIN_PROMPT_TOKENS  # tools counted
