"""What the test LLM server answers: the reply text, its chunks and the usage numbers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SSEEvent = tuple[str | None, str]
"""An SSE event: its ``event:`` name (None for data-only events) and its ``data:`` text."""


@dataclass(frozen=True)
class Usage:
    """Token counts the test server reports, in the OpenTelemetry convention.

    ``input_tokens`` is the whole prompt, cached and cache-written parts included (OpenAI counts
    so). Anthropic replies carry the split form instead: ``input_tokens - cached_tokens -
    cache_creation_tokens`` as ``input_tokens``, with ``cache_read_input_tokens`` and
    ``cache_creation_input_tokens`` beside it. ``output_tokens`` includes ``reasoning_tokens``.

    Example:
        >>> usage = Usage(input_tokens=1200, output_tokens=80, cached_tokens=1024)
        >>> usage.total_tokens
        1280
    """

    input_tokens: int = 12
    output_tokens: int = 8
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0

    def __post_init__(self) -> None:
        for name in (
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "cache_creation_tokens",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Usage.{name} must be an int >= 0, got {value!r}")
        if self.cached_tokens + self.cache_creation_tokens > self.input_tokens:
            raise ValueError(
                f"Usage: cached_tokens ({self.cached_tokens}) + cache_creation_tokens "
                f"({self.cache_creation_tokens}) exceed input_tokens ({self.input_tokens}); "
                "input_tokens counts the whole prompt, cached parts included"
            )
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError(
                f"Usage: reasoning_tokens ({self.reasoning_tokens}) exceed output_tokens "
                f"({self.output_tokens}); output_tokens counts reasoning tokens too"
            )

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens, as both OpenAI APIs report ``total_tokens``."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ToolCall:
    """A tool call the server answers with instead of text (see :mod:`.tool_calls`).

    ``id`` carries its API's prefix (``call_`` for OpenAI, ``toolu_`` for Anthropic).

    Example:
        >>> ToolCall("call_1", "get_weather", {"city": "Paris"}).arguments_json
        '{"city":"Paris"}'
    """

    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        """The arguments as compact JSON, the way OpenAI sends ``function.arguments``."""
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Reply:
    """One answer the server is about to send: everything the payload builders need.

    ``number`` is the server's request counter; ids derived from it make replies
    deterministic and distinct within one server. With a ``tool_call`` the answer is that call
    (``text`` is empty) and ``chunks`` are the fragments of its arguments' JSON.
    """

    text: str
    chunks: tuple[str, ...]
    usage: Usage
    model: str
    number: int
    created: int
    tool_call: ToolCall | None = None


_TOKEN = re.compile(r"\w+|[^\w\s]")
_PROMPT_KEYS = ("system", "instructions", "messages", "input")
_STRUCTURE_KEYS = frozenset({"type", "role", "id", "tool_call_id", "tool_use_id", "cache_control"})


def count_tokens(text: str) -> int:
    """A stable, plausible token count: words and punctuation marks each count one.

    Example:
        >>> count_tokens("What is the capital of France?")
        7
    """
    return len(_TOKEN.findall(text))


def counted_usage(body: dict[str, Any], output: str) -> Usage:
    """Usage counted from a request ``body`` and the ``output`` text the server answers.

    The prompt counts every turn's text (system, all messages, tool calls and tool results),
    the tool definitions' JSON and 3 tokens per message plus 3 for the answer's priming, as
    OpenAI's own estimate does. The same body always gives the same count.

    Example:
        >>> body = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
        >>> usage = counted_usage(body, "Paris.")
        >>> usage.input_tokens, usage.output_tokens
        (13, 2)
    """
    prompt = sum(count_tokens(" ".join(_texts(body.get(key)))) for key in _PROMPT_KEYS)
    for key in ("tools", "functions"):
        if body.get(key):
            prompt += count_tokens(json.dumps(body[key], sort_keys=True))
    turns = [body.get(key) for key in ("messages", "input")]
    prompt += sum(3 * len(turn) + 3 for turn in turns if isinstance(turn, list) and turn)
    return Usage(input_tokens=max(1, prompt), output_tokens=max(1, count_tokens(output)))


def _texts(value: Any) -> list[str]:
    """Every text and number in a message structure, without its structural keys."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        if value.get("type") == "tool_use" and isinstance(value.get("input"), dict):
            # counted as the JSON it is, like an OpenAI call's arguments string
            value = {**value, "input": json.dumps(value["input"], separators=(",", ":"))}
        kept = [item for key, item in value.items() if key not in _STRUCTURE_KEYS]
        return [text for item in kept for text in _texts(item)]
    return []


def stream_groups(
    reply: Reply,
    opening: Callable[[], list[SSEEvent]],
    delta: Callable[[str], SSEEvent],
    closing: Callable[[], list[SSEEvent]],
) -> list[list[SSEEvent]]:
    """The events of a streamed ``reply``, one group per text chunk.

    The first group opens with ``opening()``, every group carries its chunk's ``delta``, the
    last one ends with ``closing()``. The builders are called in the order the events are
    sent, so a builder that numbers its events (``sequence_number``) counts right.

    Example:
        >>> r = Reply("Hi there.", ("Hi ", "there."), Usage(), "m", 1, 0)
        >>> stream_groups(r, lambda: [("start", "")], lambda t: (None, t), lambda: [("end", "")])
        [[('start', ''), (None, 'Hi ')], [(None, 'there.'), ('end', '')]]
    """
    groups: list[list[SSEEvent]] = []
    for index, text in enumerate(reply.chunks):
        group = opening() if index == 0 else []
        group.append(delta(text))
        groups.append(group)
    groups[-1] += closing()
    return groups


def split_text(text: str, parts: int) -> list[str]:
    """Split ``text`` into at most ``parts`` non-empty pieces that join back to ``text``.

    Pieces end on word boundaries when the text has enough words, so streamed deltas look like
    the ones real models send. An empty text gives one empty piece.

    Example:
        >>> split_text("The capital of France is Paris.", 3)
        ['The capital ', 'of France ', 'is Paris.']
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts!r}")
    if not text:
        return [""]
    words = _words(text)
    units = words if len(words) >= parts else list(text)
    parts = min(parts, len(units))
    pieces = []
    for index in range(parts):
        start = index * len(units) // parts
        end = (index + 1) * len(units) // parts
        pieces.append("".join(units[start:end]))
    return pieces


def _words(text: str) -> list[str]:
    """Words with their trailing whitespace, so that they join back to the text."""
    words: list[str] = []
    current = ""
    for char in text:
        if current and not char.isspace() and current[-1].isspace():
            words.append(current)
            current = ""
        current += char
    if current:
        words.append(current)
    return words
