"""Bounded label values: a Prometheus series per distinct value must not grow without limit."""

from __future__ import annotations

import threading

from llmobs_nb.capture.redact import redact_text
from llmobs_nb.metrics.definitions import OTHER, UNKNOWN


class LabelGuard:
    """Maps raw values of one label to at most ``limit`` distinct label values.

    The first ``limit`` distinct values keep their name, later ones become ``other``; ``None``
    and empty strings become ``unknown`` (which does not use up the limit). The mapping of a
    value never changes once decided, so a series never jumps between names. Secrets in a value
    are masked (``[REDACTED]``) before it becomes a label.

    Example:
        >>> guard = LabelGuard(limit=1)
        >>> guard("gpt-4o"), guard("claude-sonnet-4"), guard(None)
        ('gpt-4o', 'other', 'unknown')
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"label limit must be at least 1, got {limit!r}")
        self.limit = limit
        self._kept: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: object) -> str:
        if value is None or value == "":
            return UNKNOWN
        text = redact_text(str(value))
        if text in self._kept:
            return text
        with self._lock:
            if text in self._kept:
                return text
            if len(self._kept) < self.limit:
                self._kept.add(text)
                return text
        return OTHER
