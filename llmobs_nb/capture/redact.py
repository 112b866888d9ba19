"""Secrets never reach the store, the logs, the metrics or an exporter: they are masked first.

The rules are detect-secrets' regex detectors plus ours (see
:mod:`llmobs_nb.capture.secret_rules`). Keywords first, as gitleaks does: one search finds
which rules' keywords a text contains (a text with none, most of them, costs that one pass over
its lower-cased copy, plus the few rules without a keyword); only those rules run; a match is
kept when its secret passes the rule's entropy floor. Only the secret part of a match is
replaced by ``[REDACTED]`` (``api_key=[REDACTED]``), so the text stays readable.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections import Counter
from typing import Any

from llmobs_nb.capture.secret_rules import Rule, load_rules, rule_source

REDACTED = "[REDACTED]"
_EDGE = " \t\r\n\"'=:,;"  # context a whole-match rule may include around a secret


def _trie_pattern(words: list[str]) -> str:
    """One alternation of ``words`` as a trie (``a(?:pi|uth)``): a few branches per position."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character.

    Example:
        >>> round(entropy("aabb"), 2), entropy("")
        (1.0, 0.0)
    """
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


class Redactor:
    """Finds and masks secrets with a rule set (by default detect-secrets' detectors plus ours).

    Example:
        >>> Redactor().redact("Authorization: Bearer abcdefgh12345678")
        'Authorization: Bearer [REDACTED]'
    """

    def __init__(self, rules: tuple[Rule, ...] | None = None) -> None:
        self.rules = load_rules() if rules is None else rules
        self.source = rule_source()
        self._patterns: list[re.Pattern[str] | None] = [None] * len(self.rules)
        self._always = tuple(i for i, r in enumerate(self.rules) if not r.keywords)
        keywords = sorted({k for r in self.rules for k in r.keywords})
        # For each keyword the prefilter may report (the longest one starting at a position):
        # the anchored rules that can start right there (one of their keywords begins it), and
        # the other rules to scan the whole text with (one of their keywords is inside it).
        self._start_here: dict[str, tuple[int, ...]] = {}
        self._scan: dict[str, tuple[int, ...]] = {}
        for found in keywords:
            self._start_here[found] = tuple(
                i
                for i, r in enumerate(self.rules)
                if r.anchored and any(found.startswith(k) for k in r.keywords)
            )
            self._scan[found] = tuple(
                i
                for i, r in enumerate(self.rules)
                if not r.anchored and any(k in found for k in r.keywords)
            )
        # The one combined prefilter: every keyword, as a trie (a few branches per position).
        self._keywords = re.compile(_trie_pattern(keywords))

    def _pattern(self, i: int) -> re.Pattern[str]:
        pattern = self._patterns[i]
        if pattern is None:
            pattern = self._patterns[i] = self.rules[i].compile()
        return pattern

    def _hits(self, lower: str) -> list[tuple[int, str]]:
        """``(position, keyword)`` wherever a keyword starts (the longest one there)."""
        hits = []
        search = self._keywords.search
        found = search(lower)
        while found is not None:
            start = found.start()
            hits.append((start, found.group()))
            found = search(lower, start + 1)
        return hits

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, rule id)`` of every secret in ``text``."""
        lower = text.lower()
        hits = self._hits(lower)
        if not hits and not self._always:
            return []
        found: list[tuple[int, int, str]] = []
        scan: set[int] = set(self._always)
        # Lower-casing keeps positions unless a character expands ("İ"): then scan all.
        aligned = len(lower) == len(text)
        tried_until: dict[int, int] = {}
        for position, keyword in hits:
            scan.update(self._scan[keyword])
            for i in self._start_here[keyword]:
                if not aligned:
                    scan.add(i)
                    continue
                if tried_until.get(i, -1) > position:
                    continue  # inside this rule's previous match (finditer would skip it too)
                match = self._pattern(i).match(text, position)
                if match is not None:
                    tried_until[i] = match.end()
                    self._keep(found, self.rules[i], match, text)
        for i in sorted(scan):
            rule = self.rules[i]
            for match in self._pattern(i).finditer(text):
                self._keep(found, rule, match, text)
        return found

    def _keep(
        self, found: list[tuple[int, int, str]], rule: Rule, match: re.Match[str], text: str
    ) -> None:
        span = self._secret_span(rule, match, text)
        if span is not None:
            found.append((span[0], span[1], rule.id))

    def redact(self, text: str) -> str:
        """``text`` with every secret's characters replaced by ``[REDACTED]``."""
        spans = self.find(text)
        if not spans:
            return text
        spans.sort()
        out: list[str] = []
        pos = 0
        end = -1
        for start, stop, _ in spans:
            if start < end:  # overlaps the previous secret: widen it
                end = max(end, stop)
                continue
            if end >= 0:
                out.append(REDACTED)
                pos = end
            out.append(text[pos:start])
            end = stop
        out.append(REDACTED)
        out.append(text[end:])
        return "".join(out)

    # -- one match ---------------------------------------------------------------------------
    @staticmethod
    def _secret_span(rule: Rule, match: re.Match[str], text: str) -> tuple[int, int] | None:
        if rule.whole_match or match.lastindex is None:
            start, end = match.span()
        elif rule.group:
            start, end = match.span(rule.group)
            if start < 0:  # the group took no part in this match
                start, end = match.span()
        else:  # the first group that matched something (what detect-secrets reports)
            start = end = -1
            for i in range(1, (match.re.groups or 0) + 1):
                s, e = match.span(i)
                if e > s:
                    start, end = s, e
                    break
            if start < 0:
                start, end = match.span()
        # A detector's match may include the separator or quote around the secret.
        while start < end and text[start] in _EDGE:
            start += 1
        while end > start and text[end - 1] in _EDGE:
            end -= 1
        if start == end:
            return None
        if rule.entropy and entropy(text[start:end]) <= rule.entropy:
            return None
        return start, end


_redactor: Redactor | None = None
_building = threading.Lock()


def _new_lock_in_child() -> None:
    # A fork while another thread builds the redactor must not leave the child a held lock.
    global _building
    _building = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def redactor() -> Redactor:
    """The process's redactor (rules compiled once, by the first thread that needs them)."""
    global _redactor
    if _redactor is None:
        with _building:
            if _redactor is None:
                _redactor = Redactor()
    return _redactor


_SHORT = 256
_short_redacted: dict[str, str] = {}


def redact_text(text: str) -> str:
    """Mask API keys, tokens, passwords and other secrets in ``text``.

    Short strings (attribute values, model names, ids) repeat a lot: their results are
    remembered, up to 8,192 of them.

    Example:
        >>> redact_text("Authorization: Bearer abcdefgh12345678")
        'Authorization: Bearer [REDACTED]'
        >>> redact_text("postgres://app:hunter2@db:5432/prod")
        'postgres://app:[REDACTED]@db:5432/prod'
    """
    if not text:
        return text
    short = len(text) < _SHORT
    if short:
        found = _short_redacted.get(text)
        if found is not None:
            return found
    redacted = (_redactor or redactor()).redact(text)
    if short:
        if len(_short_redacted) >= 8192:
            _short_redacted.clear()
        _short_redacted[text] = redacted
    return redacted


def redact_optional(text: str | None) -> str | None:
    """:func:`redact_text` for a value that may be None (a nullable text column).

    Example:
        >>> redact_optional(None), redact_optional("password=hunter2")
        (None, 'password=[REDACTED]')
    """
    return None if text is None else redact_text(text)


_SECRET_KEYS = re.compile(
    r"(?i)(api[_-]?key|authorization|secret|passw(or)?d|passphrase|token$|bearer|cookie|"
    r"credential|private[_-]?key|\bpwd$)"
)
_secret_key_cache: dict[str, bool] = {}


def is_secret_key(key: str) -> bool:
    """Whether a key names a secret (its whole value is then redacted).

    Example:
        >>> is_secret_key("x-api-key"), is_secret_key("gen_ai.usage.input_tokens")
        (True, False)
    """
    found = _secret_key_cache.get(key)
    if found is None:
        found = bool(_SECRET_KEYS.search(key)) and not key.startswith(("gen_ai.usage", "llm.token"))
        if len(_secret_key_cache) < 10_000:
            _secret_key_cache[key] = found
    return found


def redact_value(key: str, value: Any) -> Any:
    """Redact one attribute: the whole value when its key names a secret, else secrets in text.

    Example:
        >>> redact_value("authorization", "anything"), redact_value("n", 3)
        ('[REDACTED]', 3)
    """
    return REDACTED if is_secret_key(key) else _redact_unkeyed(value)


def _redact_unkeyed(value: Any) -> Any:
    """Secrets in a value whose key names none: in text, and in each text of a sequence."""
    if isinstance(value, str):  # a str subclass too (the SDK keeps those)
        found = _short_redacted.get(value)  # redact_text's own cache, without the call
        return found if found is not None else redact_text(value)
    if isinstance(value, list | tuple):
        return [redact_text(v) if isinstance(v, str) else v for v in value]
    return value


_key_cache: dict[str, tuple[str, bool]] = {}


def redact_attributes(attrs: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every attribute not in ``skip``, redacted as :func:`redact_value` does; keys too.

    One call per span on the flush thread: what each key becomes is remembered.

    Example:
        >>> redact_attributes({"api_key": "x", "note": "password=hunter2", "n": 1})
        {'api_key': '[REDACTED]', 'note': 'password=[REDACTED]', 'n': 1}
    """
    out: dict[str, Any] = {}
    keys = _key_cache
    short = _short_redacted
    for key, value in attrs.items():
        if key in skip:
            continue
        entry = keys.get(key)
        if entry is None:
            entry = (redact_text(key), is_secret_key(key))
            if len(keys) < 10_000:
                keys[key] = entry
        clean, secret = entry
        if secret:
            out[clean] = REDACTED
            continue
        kind = value.__class__  # the usual values first, without a call (one per span)
        if kind is str:
            found = short.get(value)
            out[clean] = found if found is not None else redact_text(value)
        elif kind is int or kind is float or kind is bool:
            out[clean] = value
        else:
            out[clean] = _redact_unkeyed(value)
    return out


def redact_json(value: Any) -> Any:
    """A JSON-like value with secret-named keys' values and secrets in strings masked.

    Keys are redacted too (a secret pasted as a dict key is still a secret).

    Example:
        >>> redact_json({"temperature": 0.2, "api_key": "x", "notes": ["pwd=abc123"]})
        {'temperature': 0.2, 'api_key': '[REDACTED]', 'notes': ['pwd=[REDACTED]']}
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            redact_text(str(k)): REDACTED if is_secret_key(str(k)) else redact_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def redact_params(params: dict[str, Any] | None) -> str:
    """JSON text of a run's parameters, redacted (``runs.params``).

    Example:
        >>> redact_params({"model": "gpt-4o", "openai_api_key": "sk-abc123def456ghi"})
        '{"model": "gpt-4o", "openai_api_key": "[REDACTED]"}'
    """
    return redact_text(json.dumps(redact_json(params or {}), default=str))
