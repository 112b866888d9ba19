"""A small YAML writer for the plain data we export (no PyYAML dependency).

Only what rule files need: mappings, sequences, strings, numbers and booleans. Strings that a
YAML parser could read as something else are written as double-quoted JSON strings, which are
valid YAML double-quoted scalars.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

_PLAIN = re.compile(r"^([A-Za-z_][A-Za-z0-9_ .()/-]*|[0-9]+[smhdwy])$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not text.endswith(" "):
        return text
    return json.dumps(text, ensure_ascii=False)


def to_yaml(data: object, indent: int = 0) -> str:
    """Return ``data`` (nested dicts, lists and scalars) as block-style YAML text.

    Example:
        >>> print(to_yaml({"groups": [{"name": "llm", "rules": []}]}), end="")
        groups:
          - name: llm
            rules: []
    """
    pad = " " * indent
    lines: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            lines.append(_entry(f"{pad}{_scalar(key)}:", value, indent))
    elif isinstance(data, Sequence) and not isinstance(data, str):
        for item in data:
            body = to_yaml(item, indent + 4) if _is_block(item) else ""
            if body:
                # the first key of a mapping item shares the line with the dash
                lines.append(f"{pad}  - {body.lstrip()}".rstrip("\n"))
            else:
                lines.append(f"{pad}  - {_inline(item)}")
    else:
        lines.append(pad + _scalar(data))
    return "\n".join(lines) + "\n"


def _is_block(value: object) -> bool:
    return isinstance(value, Mapping) and len(value) > 0


def _inline(value: object) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[]" if not value else json.dumps(list(value))
    return _scalar(value)


def _entry(prefix: str, value: object, indent: int) -> str:
    if _is_block(value):
        return f"{prefix}\n{to_yaml(value, indent + 2)}".rstrip("\n")
    if isinstance(value, Sequence) and not isinstance(value, str) and value:
        return f"{prefix}\n{to_yaml(value, indent)}".rstrip("\n")
    return f"{prefix} {_inline(value)}"
