"""Chat messages of other instrumentations rendered as readable text for ``input_text`` and
``output_text``: one line per message, ``role: text``.

Two shapes are read: the OpenTelemetry GenAI conventions' ``gen_ai.input.messages`` /
``gen_ai.output.messages`` / ``gen_ai.system_instructions`` (JSON text, or the structured value
an OTLP sender may give: a list of ``{"role", "parts": [{"type", ...}]}``), and OpenInference's
flattened ``llm.input_messages.<i>.message.role`` / ``.content`` / ``.contents.<j>...`` /
``.tool_calls.<j>...`` attributes. Text parts are joined; a tool call shows as
``[tool_call name(arguments)]``, a tool result as ``[tool_call_response ...]``, media as
``[image]``-style placeholders. An unreadable value gives None (the caller keeps the raw text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_PART_CHARS = 32_000


def render_genai(value: Any, system: Any = None) -> str | None:
    """GenAI messages (JSON text or a list of dicts) as ``role: text`` lines; ``system``
    (``gen_ai.system_instructions``: a list of parts) comes first as a ``system:`` line.
    None if neither can be read as messages.

    Example:
        >>> render_genai('[{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]')
        'user: Hi'
        >>> render_genai([{"role": "assistant", "parts": [
        ...     {"type": "tool_call", "name": "weather", "arguments": {"city": "Paris"}}]}])
        'assistant: [tool_call weather({"city": "Paris"})]'
    """
    lines = []
    parts = _parsed(system)
    if isinstance(parts, list | tuple) and parts:
        text = _parts_text(parts)
        if text is not None:
            lines.append(f"system: {text}")
    messages = _parsed(value)
    if isinstance(messages, list | tuple):
        for message in messages:
            if not isinstance(message, Mapping):
                return None
            role = message.get("role")
            text = _parts_text(message.get("parts") or ())
            if text is None and isinstance(message.get("content"), str):  # a plain shape
                text = message["content"]
            lines.append(f"{role if isinstance(role, str) else 'message'}: {text or ''}")
    elif value is not None:
        return None
    return "\n".join(lines) if lines else None


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _parts_text(parts: Any) -> str | None:
    if not isinstance(parts, list | tuple):
        return None
    texts = [_part_text(part) for part in parts]
    kept = [t for t in texts if t]
    return " ".join(kept) if kept else None


def _part_text(part: Any) -> str | None:
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return None
    kind = part.get("type")
    if kind in ("text", "reasoning") or (kind is None and "content" in part):
        content = part.get("content")
        return content if isinstance(content, str) else None
    if kind == "tool_call":
        return f"[tool_call {part.get('name') or ''}({_compact(part.get('arguments'))})]"
    if kind == "tool_call_response":
        return f"[tool_call_response {_compact(part.get('response'))}]"
    modality = part.get("modality")
    return f"[{modality if isinstance(modality, str) else kind}]" if kind else None


def _compact(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_PART_CHARS]
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:MAX_PART_CHARS]
    except (TypeError, ValueError):
        return repr(value)[:MAX_PART_CHARS]


_OI_KEY = re.compile(r"^(\d+)\.message\.(.+)$")


def render_openinference(attrs: Mapping[str, Any], prefix: str) -> str | None:
    """OpenInference's flattened messages under ``prefix`` (``llm.input_messages`` or
    ``llm.output_messages``) as ``role: text`` lines, in message order; None if there are none.

    Example:
        >>> render_openinference({"llm.input_messages.0.message.role": "user",
        ...                       "llm.input_messages.0.message.content": "Hi"},
        ...                      "llm.input_messages")
        'user: Hi'
    """
    start = prefix + "."
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        found = _OI_KEY.match(key[len(start) :])
        if found is not None:
            messages.setdefault(int(found.group(1)), {})[found.group(2)] = value
    if not messages:
        return None
    return "\n".join(_oi_line(messages[i]) for i in sorted(messages))


def _oi_line(fields: dict[str, Any]) -> str:
    role = fields.get("role")
    texts: list[str] = []
    content = fields.get("content")
    if isinstance(content, str) and content:
        texts.append(content)
    for key in sorted(k for k in fields if k.startswith("contents.")):
        if key.endswith(".message_content.text") and isinstance(fields[key], str):
            texts.append(fields[key])
    calls: dict[str, dict[str, Any]] = {}
    for key, value in fields.items():
        if key.startswith("tool_calls."):
            index, _, rest = key[len("tool_calls.") :].partition(".")
            calls.setdefault(index, {})[rest] = value
    for index in sorted(calls, key=lambda i: int(i) if i.isdigit() else 0):
        call = calls[index]
        name = call.get("tool_call.function.name") or ""
        arguments = call.get("tool_call.function.arguments") or ""
        texts.append(f"[tool_call {name}({arguments})]")
    return f"{role if isinstance(role, str) else 'message'}: {' '.join(texts)}"
