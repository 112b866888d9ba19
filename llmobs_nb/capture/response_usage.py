"""Token usage, read from whatever a client returned and normalised to one convention.

The convention is OpenTelemetry's: ``input_tokens`` counts *all* input, cached included.

- OpenAI chat completions: ``prompt_tokens`` already includes
  ``prompt_tokens_details.cached_tokens``; ``completion_tokens`` includes
  ``completion_tokens_details.reasoning_tokens``. Taken as they are.
- OpenAI Responses API: ``input_tokens`` / ``output_tokens`` with
  ``input_tokens_details.cached_tokens`` and ``output_tokens_details.reasoning_tokens``, same
  meaning as above.
- Anthropic: ``input_tokens`` counts only the uncached input; cache reads and cache writes are
  reported apart (``cache_read_input_tokens``, ``cache_creation_input_tokens``). We store
  ``input_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens``,
  ``cached_input_tokens = cache_read_input_tokens`` and ``cache_write_tokens =
  cache_creation_input_tokens``, so both providers add up the same way and cache writes are
  priced at their own rate.
- Plain dicts may use any of the names above, or ``gen_ai.usage.*`` / ``llm.token_count.*``.

A value that is not a non-negative integer (None, a string, a negative or fractional number), or
that exceeds :data:`MAX_TOKENS`, is recorded as NULL and the problem is named in ``problems``;
it never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmobs_nb.capture.fields import field_view, get_field, has_field

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


@dataclass
class Usage:
    """Normalised token counts of one call; None means unknown."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    problems: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return (
            self.input_tokens is None
            and self.output_tokens is None
            and self.cached_input_tokens is None
            and self.cache_write_tokens is None
            and self.reasoning_tokens is None
        )

    def merge(self, later: Usage) -> Usage:
        """Combine usage seen across a stream: a later known value wins over an earlier one."""
        merged = Usage(problems=self.problems + later.problems)
        for name in TOKEN_FIELDS:
            value = getattr(later, name)
            setattr(merged, name, value if value is not None else getattr(self, name))
        return merged


MAX_TOKENS = 1_000_000_000
"""The largest token count accepted for one call (10**9): no model takes or returns a billion
tokens in one request, so a larger count is a client or proxy bug (2**63 does not even fit the
store's BIGINT, and 2**62 would be priced at 5.76e13 USD). Larger counts are stored as NULL with
the problem named, like any other bad count."""

_get = get_field
_has = has_field


def token_count(raw: Any, label: str, problems: list[str]) -> int | None:
    """``raw`` as a token count, or None with the problem (named after ``label``) appended.

    Example:
        >>> problems = []
        >>> token_count(12.0, "output_tokens", problems), token_count(-1, "x", problems)
        (12, None)
        >>> token_count(2**63, "input_tokens", problems) is None
        True
        >>> problems
        ['x=-1 is negative', 'input_tokens=9223372036854775808 exceeds 1000000000 tokens per call']
    """
    if raw.__class__ is int and 0 <= raw <= MAX_TOKENS:
        return raw
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(f"{label}={raw!r} is not a number")
        return None
    if isinstance(raw, float) and not raw.is_integer():
        problems.append(f"{label}={raw!r} is not a whole number")
        return None
    if raw < 0:
        problems.append(f"{label}={raw!r} is negative")
        return None
    if raw > MAX_TOKENS:
        problems.append(f"{label}={raw!r} exceeds {MAX_TOKENS} tokens per call")
        return None
    return int(raw)


def find_usage_object(response: Any) -> Any:
    """The usage part of a response, stream chunk or event, or None.

    Looks at ``response.usage``, ``response["usage"]``, Anthropic's ``message_start`` event
    (``event.message.usage``) and the Responses API's final event (``event.response.usage``).
    """
    if response is None or isinstance(response, str | bytes | int | float):
        return None
    usage = _get(response, "usage")
    if usage is not None:
        return usage
    for holder in ("message", "response"):
        inner = _get(response, holder)
        if inner is not None and not isinstance(inner, str):
            usage = _get(inner, "usage")
            if usage is not None:
                return usage
    return None


def parse_usage(usage: Any) -> Usage:
    """Normalise one usage object (OpenAI, Anthropic, dict or attributes) into :class:`Usage`.

    Example:
        >>> u = parse_usage({"input_tokens": 100, "cache_read_input_tokens": 900,
        ...                  "output_tokens": 50})
        >>> (u.input_tokens, u.cached_input_tokens, u.output_tokens)
        (1000, 900, 50)
    """
    if usage is None:
        return Usage()
    if isinstance(usage, str | bytes | int | float | list | tuple):
        return Usage(problems=[f"usage {usage!r} is not an object with token counts"])
    usage = field_view(usage)  # an SDK's pydantic usage read as a dict: no __getattr__ misses
    if usage.__class__ is dict:
        found = _chat_completions_usage(usage)
        if found is not None:
            return found
    return _parse_usage(usage)


def _chat_completions_usage(usage: dict[str, Any]) -> Usage | None:
    """The usual case of :func:`_parse_usage`, read in line: OpenAI chat completions' counts,
    all valid, none contradicting another. None for anything else (the general rule decides,
    and names any problem); where it answers, the answer is the general rule's.

    Example:
        >>> _chat_completions_usage({"prompt_tokens": 10, "completion_tokens": 2})
        Usage(input_tokens=10, output_tokens=2, cached_input_tokens=None, \
cache_write_tokens=None, reasoning_tokens=None, problems=[])
        >>> _chat_completions_usage({"prompt_tokens": -1, "completion_tokens": 2}) is None
        True
    """
    get = usage.get
    prompt = get("prompt_tokens")
    completion = get("completion_tokens")
    if (
        prompt.__class__ is not int
        or completion.__class__ is not int
        or not 0 <= prompt <= MAX_TOKENS
        or not 0 <= completion <= MAX_TOKENS
        or "cache_read_input_tokens" in usage
        or "cache_creation_input_tokens" in usage
    ):
        return None
    cached = _get(get("prompt_tokens_details"), "cached_tokens")
    reasoning = _get(get("completion_tokens_details"), "reasoning_tokens")
    if cached is not None and (cached.__class__ is not int or not 0 <= cached <= prompt):
        return None
    if reasoning is not None and (
        reasoning.__class__ is not int or not 0 <= reasoning <= completion
    ):
        return None
    return Usage(prompt, completion, cached, None, reasoning)


def _parse_usage(usage: Any) -> Usage:
    """:func:`parse_usage` of a usage object read as fields (``fields.field_view``)."""
    problems: list[str] = []
    anthropic_style = _has(usage, "cache_read_input_tokens") or _has(
        usage, "cache_creation_input_tokens"
    )
    if _has(usage, "prompt_tokens") or _has(usage, "completion_tokens"):
        result = Usage(
            input_tokens=token_count(_get(usage, "prompt_tokens"), "prompt_tokens", problems),
            output_tokens=token_count(
                _get(usage, "completion_tokens"), "completion_tokens", problems
            ),
            cached_input_tokens=token_count(
                _get(_get(usage, "prompt_tokens_details"), "cached_tokens"),
                "prompt_tokens_details.cached_tokens",
                problems,
            ),
            reasoning_tokens=token_count(
                _get(_get(usage, "completion_tokens_details"), "reasoning_tokens"),
                "completion_tokens_details.reasoning_tokens",
                problems,
            ),
        )
    elif anthropic_style:
        uncached = token_count(_get(usage, "input_tokens"), "input_tokens", problems)
        read = token_count(
            _get(usage, "cache_read_input_tokens"), "cache_read_input_tokens", problems
        )
        write = token_count(
            _get(usage, "cache_creation_input_tokens"), "cache_creation_input_tokens", problems
        )
        total = None if uncached is None else uncached + (read or 0) + (write or 0)
        result = Usage(
            input_tokens=total,
            output_tokens=token_count(_get(usage, "output_tokens"), "output_tokens", problems),
            cached_input_tokens=read,
            cache_write_tokens=write,
            reasoning_tokens=token_count(
                _get(_get(usage, "output_tokens_details"), "thinking_tokens"),
                "output_tokens_details.thinking_tokens",
                problems,
            ),
        )
    else:
        result = Usage(
            input_tokens=token_count(_get(usage, "input_tokens"), "input_tokens", problems),
            output_tokens=token_count(_get(usage, "output_tokens"), "output_tokens", problems),
            cached_input_tokens=token_count(
                _get(_get(usage, "input_tokens_details"), "cached_tokens")
                if _has(usage, "input_tokens_details")
                else _get(usage, "cached_input_tokens"),
                "cached_input_tokens",
                problems,
            ),
            cache_write_tokens=token_count(
                _get(usage, "cache_write_tokens"), "cache_write_tokens", problems
            ),
            reasoning_tokens=token_count(
                _get(_get(usage, "output_tokens_details"), "reasoning_tokens")
                if _has(usage, "output_tokens_details")
                else _get(usage, "reasoning_tokens"),
                "reasoning_tokens",
                problems,
            ),
        )
    result.problems.extend(problems)
    return check_invariants(result)


def check_invariants(usage: Usage) -> Usage:
    """Null out counts that contradict each other, naming the contradiction in ``problems``."""
    if usage.input_tokens is not None:
        cached = (usage.cached_input_tokens or 0) + (usage.cache_write_tokens or 0)
        if cached > usage.input_tokens:
            usage.problems.append(
                f"cached input ({cached}) exceeds input_tokens ({usage.input_tokens})"
            )
            usage.cached_input_tokens = None
            usage.cache_write_tokens = None
    if (
        usage.output_tokens is not None
        and usage.reasoning_tokens is not None
        and usage.reasoning_tokens > usage.output_tokens
    ):
        usage.problems.append(
            f"reasoning_tokens ({usage.reasoning_tokens}) exceed output_tokens "
            f"({usage.output_tokens})"
        )
        usage.reasoning_tokens = None
    return usage


def usage_from_response(response: Any) -> Usage:
    """Find and normalise the usage carried by ``response``; empty when there is none.

    Example:
        >>> reply = {"usage": {"prompt_tokens": 10, "completion_tokens": 2}}
        >>> usage_from_response(reply).output_tokens
        2
    """
    return parse_usage(find_usage_object(response))
