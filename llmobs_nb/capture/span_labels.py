"""The score-label cache: span id → (trace id, model, use case) of the latest model calls.

``obs.score(span_id=...)`` needs the trace and the labels of the scored call (the score row
and the ``llm_quality_score`` metric use them); for a recent call they come from here, without
a flush and a query. Bounded: past :data:`CAPACITY` spans the oldest go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pyarrow as pa

CAPACITY = 200_000
Labels = tuple[str, str | None, str | None]


class SpanLabels:
    """A bounded map of span id → (trace id, model, use case), filled by the flush thread.

    Example:
        >>> labels = SpanLabels(capacity=1)
        >>> labels.add(pa.table({"span_id": ["a", "b"], "trace_id": ["t", "t"],
        ...                      "model": ["gpt-4o", None], "use_case": [None, "faq"]}))
        >>> labels.get("a"), labels.get("b")
        (None, ('t', None, 'faq'))
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._labels: OrderedDict[str, Labels] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, calls: pa.Table) -> None:
        """Remember the calls of a batch (columns span_id, trace_id, model, use_case)."""
        found = zip(
            calls.column("trace_id").to_pylist(),
            calls.column("model").to_pylist(),
            calls.column("use_case").to_pylist(),
            strict=True,
        )
        with self._lock:
            self._labels.update(zip(calls.column("span_id").to_pylist(), found, strict=True))
            while len(self._labels) > self.capacity:
                self._labels.popitem(last=False)

    def get(self, span_id: str) -> Labels | None:
        """The (trace id, model, use case) of a remembered span, or None."""
        with self._lock:
            return self._labels.get(span_id)

    def after_fork(self) -> None:
        """In a forked child: a new lock (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()
