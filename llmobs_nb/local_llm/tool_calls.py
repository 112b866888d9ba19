"""Tool calls and multi-turn answers of the test LLM server, decided from the request alone.

The rules, the same for OpenAI chat completions and Anthropic messages:

* a scripted call (``LLMTestServer.queue_tool_calls``) wins over everything;
* when the last turn gives tool results, the answer is text built from them
  (``Based on get_weather: 18 C and sunny.``);
* when the request has tools and ``tool_choice`` does not disable them, the answer calls one:
  the tool ``tool_choice`` names, else the first whose name (then a word of its name, then of
  its description) appears in the last user text, else the first tool; its arguments are built
  from the tool's JSON schema and that text (:func:`arguments_for`);
* otherwise the answer is the server's configured text.

Ids come from a hash of the request's messages, the tool and its arguments, so the same
request always gets the same call, id included.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from llmobs_nb.local_llm.reply import ToolCall

_SMALL_WORDS = """a about an and any are as at be by can could did do does find for from get give
how i in is it its look me my now of on or please show some tell that the there these this those
to today up was were what what's whats when where which who whom whose why will with would you
your"""
_STOP_WORDS = frozenset(_SMALL_WORDS.split())
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_NUMBER = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?!\w)")
_TEXT_PROPERTIES = frozenset(
    {"query", "q", "question", "text", "prompt", "message", "input", "search", "content"}
)
_MAX_DEPTH = 6
_RESULT_CHARS = 100


@dataclass(frozen=True)
class Tool:
    """A tool a request offers: its name, description and JSON schema of arguments."""

    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call a test forces on the next answer; ``arguments=None`` builds them."""

    name: str
    arguments: dict[str, Any] | None = None


@dataclass(frozen=True)
class Conversation:
    """What of a chat request decides the answer, read from either API's wire format.

    ``forced`` is the tool ``tool_choice`` names; ``disabled`` says tools are off
    (``"none"``); ``results`` are the ``(tool name, result text)`` pairs of the last turn.
    """

    messages: Any
    tools: tuple[Tool, ...]
    forced: str | None
    disabled: bool
    user_text: str
    results: tuple[tuple[str, str], ...]


def read_openai(body: dict[str, Any]) -> Conversation:
    """The conversation of a chat completions request.

    Example:
        >>> body = {"messages": [{"role": "user", "content": "Weather in Paris?"}],
        ...         "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        ...         "tool_choice": "auto"}
        >>> conversation = read_openai(body)
        >>> conversation.user_text, [tool.name for tool in conversation.tools]
        ('Weather in Paris?', ['get_weather'])
    """
    messages = _list(body.get("messages"))
    tools = []
    for entry in _list(body.get("tools")):
        function = _dict(_dict(entry).get("function"))
        if _dict(entry).get("type", "function") == "function" and function.get("name"):
            tools.append(
                Tool(
                    str(function["name"]),
                    str(function.get("description") or ""),
                    _dict(function.get("parameters")),
                )
            )
    choice = body.get("tool_choice")
    forced = _dict(_dict(choice).get("function")).get("name")
    names: dict[str, str] = {}
    for message in messages:
        for call in _list(_dict(message).get("tool_calls")):
            names[str(_dict(call).get("id"))] = str(_dict(_dict(call).get("function")).get("name"))
    results = []
    for message in reversed(messages):
        message = _dict(message)
        if message.get("role") not in ("tool", "function"):
            break
        name = message.get("name") or names.get(str(message.get("tool_call_id")), "the tool")
        results.append((str(name), content_text(message.get("content"))))
    user = [content_text(m.get("content")) for m in map(_dict, messages) if m.get("role") == "user"]
    return Conversation(
        messages=messages,
        tools=tuple(tools),
        forced=str(forced) if forced else None,
        disabled=choice == "none",
        user_text=next((text for text in reversed(user) if text), ""),
        results=tuple(reversed(results)),
    )


def read_anthropic(body: dict[str, Any]) -> Conversation:
    """The conversation of a Messages API request.

    Example:
        >>> body = {"messages": [{"role": "user", "content": "Weather in Paris?"}],
        ...         "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        ...         "tool_choice": {"type": "tool", "name": "get_weather"}}
        >>> read_anthropic(body).forced
        'get_weather'
    """
    messages = _list(body.get("messages"))
    tools = tuple(
        Tool(str(tool["name"]), str(tool.get("description") or ""), _dict(tool.get("input_schema")))
        for tool in map(_dict, _list(body.get("tools")))
        if tool.get("name")
    )
    choice = _dict(body.get("tool_choice"))
    names = {
        str(block.get("id")): str(block.get("name"))
        for message in map(_dict, messages)
        for block in map(_dict, _list(message.get("content")))
        if block.get("type") == "tool_use"
    }
    last = _dict(messages[-1]) if messages else {}
    results = tuple(
        (names.get(str(block.get("tool_use_id")), "the tool"), content_text(block.get("content")))
        for block in map(_dict, _list(last.get("content")))
        if last.get("role") == "user" and block.get("type") == "tool_result"
    )
    user = [content_text(m.get("content")) for m in map(_dict, messages) if m.get("role") == "user"]
    forced = choice.get("name") if choice.get("type") == "tool" else None
    return Conversation(
        messages=messages,
        tools=tools,
        forced=str(forced) if forced else None,
        disabled=choice.get("type") == "none",
        user_text=next((text for text in reversed(user) if text), ""),
        results=results,
    )


def answer(
    body: dict[str, Any], *, anthropic: bool, text: str, scripted: ScriptedCall | None = None
) -> tuple[str, ToolCall | None]:
    """The answer to a chat request: ``(text, None)`` or ``("", tool call)``; see the module.

    ``text`` is what the server says when no tool is called and no tool result is answered.

    Example:
        >>> body = {"messages": [{"role": "user", "content": "Weather in Paris?"}],
        ...         "tools": [{"type": "function", "function": {"name": "get_weather",
        ...             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
        ...                            "required": ["city"]}}}]}
        >>> _, call = answer(body, anthropic=False, text="Hello.")
        >>> call.name, call.arguments, call.id
        ('get_weather', {'city': 'Paris'}, 'call_8949ff210421a9f09f50912d')
        >>> body["messages"] += [{"role": "assistant", "tool_calls": [{"id": call.id,
        ...     "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        ...     {"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"}]
        >>> answer(body, anthropic=False, text="Hello.")
        ('Based on get_weather: 18 C, sunny', None)
    """
    conversation = read_anthropic(body) if anthropic else read_openai(body)
    if scripted is not None:
        tool = _named(conversation.tools, scripted.name)
        arguments = scripted.arguments
        if arguments is None:
            arguments = arguments_for(tool.schema if tool else {}, conversation.user_text)
        return "", _call(conversation, scripted.name, arguments, anthropic=anthropic)
    if conversation.results:
        return result_text(conversation.results), None
    if conversation.tools and not conversation.disabled:
        tool = choose_tool(conversation.tools, conversation.user_text, forced=conversation.forced)
        arguments = arguments_for(tool.schema, conversation.user_text, skip=_name_words(tool.name))
        return "", _call(conversation, tool.name, arguments, anthropic=anthropic)
    return text, None


def choose_tool(tools: tuple[Tool, ...], user_text: str, *, forced: str | None = None) -> Tool:
    """The tool to call: the ``forced`` one, else the first that the user text mentions.

    A tool is mentioned by its name, else by a word of its name, else by a word of five
    letters or more of its description; with no mention the first tool is called.

    Example:
        >>> tools = (Tool("search_docs", "Search the manual", {}), Tool("get_weather", "", {}))
        >>> choose_tool(tools, "What is the weather in Paris?").name
        'get_weather'
    """
    if forced is not None:
        return _named(tools, forced) or Tool(forced, "", {})
    words = {word.lower() for word in _WORD.findall(user_text)}
    lowered = user_text.lower()
    tiers = (
        lambda tool: tool.name.lower() in lowered,
        lambda tool: bool(_name_words(tool.name) & words),
        lambda tool: any(
            len(word) >= 5 and word.lower() in words - _STOP_WORDS
            for word in _WORD.findall(tool.description)
        ),
    )
    for mentions in tiers:
        for tool in tools:
            if mentions(tool):
                return tool
    return tools[0]


def arguments_for(
    schema: dict[str, Any], user_text: str, *, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Arguments for a tool's JSON ``schema``, filled deterministically from ``user_text``.

    Required properties are filled (all of them when the schema lists none as required): an
    enum takes the value the text mentions, else its first; a property named like ``query``
    takes the whole text; other strings take the text's words in turn (capitalised ones first,
    small words and ``skip`` words left out); numbers take the text's numbers in turn, else 1,
    within ``minimum``/``maximum``; booleans are true; arrays get one item; local ``$ref`` are
    followed.

    Example:
        >>> schema = {"type": "object", "required": ["city", "days", "unit"], "properties": {
        ...     "city": {"type": "string"}, "days": {"type": "integer"},
        ...     "unit": {"enum": ["celsius", "fahrenheit"]}}}
        >>> arguments_for(schema, "Weather in Paris for 3 days, in fahrenheit")
        {'city': 'Paris', 'days': 3, 'unit': 'fahrenheit'}
    """
    filler = _Filler(schema, user_text, skip)
    value = filler.value(schema, "", 0)
    return value if isinstance(value, dict) else {}


def result_text(results: tuple[tuple[str, str], ...]) -> str:
    """The text answer to tool results: ``Based on <tool>: <result, shortened>``.

    Example:
        >>> result_text((("get_weather", "18 C and sunny"), ("get_time", "14:05")))
        'Based on get_weather: 18 C and sunny; get_time: 14:05'
    """
    parts = []
    for name, result in results:
        flat = " ".join(result.split())
        if len(flat) > _RESULT_CHARS:
            flat = flat[: _RESULT_CHARS - 1].rstrip() + "…"
        parts.append(f"{name}: {flat}")
    return "Based on " + "; ".join(parts)


def call_id(prefix: str, messages: Any, name: str, arguments: dict[str, Any]) -> str:
    """A tool call id from a hash of the messages, the tool and its arguments.

    Example:
        >>> call_id("toolu_", [{"role": "user", "content": "hi"}], "ping", {})
        'toolu_a972c70f5a9374571a03d50a'
    """
    key = json.dumps([messages, name, arguments], sort_keys=True, default=str)
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:24]


class _Filler:
    """Builds values for a schema, taking the text's words and numbers in turn."""

    def __init__(self, root: dict[str, Any], text: str, skip: frozenset[str]) -> None:
        self.root = root
        self.text = " ".join(text.split())
        kept = [
            (index, word)
            for index, word in enumerate(_WORD.findall(text))
            if word.lower() not in _STOP_WORDS and word.lower() not in skip and not word.isdigit()
        ]
        # Capitalised words past the first (names: Paris, London) come first.
        proper = [word for index, word in kept if index > 0 and word[0].isupper()]
        self.words = list(dict.fromkeys(proper + [word for _, word in kept]))
        self.numbers = [float(n) for n in _NUMBER.findall(text)]
        self.next_word = 0
        self.next_number = 0

    def value(self, schema: Any, name: str, depth: int) -> Any:
        schema = self._resolve(schema)
        if depth > _MAX_DEPTH:
            return None
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            lowered = self.text.lower()
            options = schema["enum"]
            return next((o for o in options if str(o).lower() in lowered), options[0])
        for key in ("anyOf", "oneOf", "allOf"):
            options = [self._resolve(o) for o in _list(schema.get(key))]
            options = [o for o in options if o.get("type") != "null"]
            if options:
                return self.value(options[0], name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        if kind == "object":
            properties = _dict(schema.get("properties"))
            wanted = schema.get("required", list(properties))
            return {
                str(key): self.value(properties.get(key, {}), str(key), depth + 1)
                for key in _list(wanted)
            }
        if kind == "array":
            return [self.value(schema.get("items", {}), name, depth + 1)]
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(name)

    def _resolve(self, schema: Any) -> dict[str, Any]:
        schema = _dict(schema)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = _dict(target).get(part)
            return {**_dict(target), **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def _string(self, name: str) -> str:
        if name.lower() in _TEXT_PROPERTIES and self.text:
            return self.text
        if not self.words:
            return self.text[:40] or name or "value"
        word = self.words[self.next_word % len(self.words)]
        self.next_word += 1
        return word

    def _number(self, schema: dict[str, Any], *, integer: bool) -> int | float:
        number = 1.0
        if self.numbers:
            number = self.numbers[self.next_number % len(self.numbers)]
            self.next_number += 1
        for bound, pick in (("minimum", max), ("maximum", min)):
            if isinstance(schema.get(bound), int | float):
                number = pick(number, float(schema[bound]))
        return int(number) if integer or number.is_integer() else number


def _call(
    conversation: Conversation, name: str, arguments: dict[str, Any], *, anthropic: bool
) -> ToolCall:
    prefix = "toolu_" if anthropic else "call_"
    return ToolCall(call_id(prefix, conversation.messages, name, arguments), name, arguments)


def _named(tools: tuple[Tool, ...], name: str) -> Tool | None:
    return next((tool for tool in tools if tool.name == name), None)


def _name_words(name: str) -> frozenset[str]:
    """The words of a tool name (``get_weather``, ``getWeather``: get, weather), 3+ letters."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = re.split(r"[\W_]+", spaced.lower())
    return frozenset(word for word in words if len(word) >= 3 and word not in _STOP_WORDS)


def content_text(content: Any) -> str:
    """The text of a message content: a string, or the text of its text parts and blocks.

    Example:
        >>> content_text([{"type": "text", "text": "Hi"}, {"type": "image"}, {"text": "there"}])
        'Hi there'
    """
    if isinstance(content, str):
        return content
    parts = [_dict(part).get("text") for part in _list(content)]
    return " ".join(part for part in parts if isinstance(part, str) and part)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
