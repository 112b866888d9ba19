"""Secrets never reach the store: API keys and bearer tokens are masked before anything is kept."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_PATTERNS = [
    # Provider API keys: OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), generic long sk- tokens.
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"),
    # Authorization headers and bearer tokens.
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=:/+]{8,}"),
    # AWS access key ids, Google API keys, GitHub and Hugging Face tokens.
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    # key=value / "key": "value" pairs whose key says it is a secret.
    re.compile(
        r"(?i)((?:api[_-]?key|x-api-key|secret|password|passwd|token|authorization)"
        r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]{6,})"
    ),
]

_SECRET_KEYS = re.compile(r"(?i)(api[_-]?key|authorization|secret|password|token$|bearer)")


def _scoped(pattern: re.Pattern[str]) -> str:
    """A pattern as one branch of an alternation: a leading ``(?i)`` becomes ``(?i:...)``."""
    text = pattern.pattern
    return f"(?i:{text[4:]})" if text.startswith("(?i)") else f"(?:{text})"


# One search for any secret at all: most text has none, and then the seven substitutions are
# skipped (one pass instead of seven over every id, model name and prompt).
_ANY_SECRET = re.compile("|".join(_scoped(p) for p in _PATTERNS))


_SHORT = 256
_short_redacted: dict[str, str] = {}


def redact_text(text: str) -> str:
    """Mask API keys, bearer tokens and ``key=secret`` pairs in ``text``.

    Short strings (attribute values, model names, ids) repeat a lot: their results are
    remembered, up to 8,192 of them.

    Example:
        >>> redact_text("Authorization: Bearer abcdefghijklmnop")
        'Authorization: [REDACTED]'
    """
    if not text:
        return text
    short = len(text) < _SHORT
    if short:
        found = _short_redacted.get(text)
        if found is not None:
            return found
    redacted = _redact(text)
    if short:
        if len(_short_redacted) >= 8192:
            _short_redacted.clear()
        _short_redacted[text] = redacted
    return redacted


def _redact(text: str) -> str:
    if not _ANY_SECRET.search(text):
        return text
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


_secret_key_cache: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    """Whether an attribute's key names a secret (its whole value is then redacted)."""
    found = _secret_key_cache.get(key)
    if found is None:
        found = bool(_SECRET_KEYS.search(key)) and not key.startswith(("gen_ai.usage", "llm.token"))
        if len(_secret_key_cache) < 10_000:
            _secret_key_cache[key] = found
    return found


def redact_value(key: str, value: Any) -> Any:
    """Redact one attribute: the whole value when its key names a secret, else secrets in text."""
    if _is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list | tuple):
        return [redact_text(v) if isinstance(v, str) else v for v in value]
    return value
