"""The score-label cache: span id → (trace id, model, use case) of the latest model calls.

``obs.score(span_id=...)`` needs the trace and the labels of the scored call (the score row
and the ``llm_quality_score`` metric use them); for a recent call they come from here, without
a flush and a query. Bounded: past :data:`CAPACITY` spans the oldest go first.

Kept per batch, as the flush thread converted it: an index of its span ids and its Arrow
columns, read only when a score asks (a score is rare, a call is not: the flush thread
pays one dict of the batch's ids, not a Python object per label).
"""

from __future__ import annotations

import threading
from collections import deque

import pyarrow as pa

CAPACITY = 200_000
Labels = tuple[str, str | None, str | None]


class _Batch:
    """One batch's span ids (→ row) and label columns; rows before ``first`` are forgotten."""

    __slots__ = ("columns", "first", "rows")

    def __init__(self, calls: pa.Table) -> None:
        ids = calls.column("span_id").to_pylist()
        self.rows = dict(zip(ids, range(len(ids)), strict=True))  # a repeated id: its last row
        self.columns = (calls.column("trace_id"), calls.column("model"), calls.column("use_case"))
        self.first = 0

    def __len__(self) -> int:
        return len(self.columns[0]) - self.first

    def get(self, span_id: str) -> Labels | None:
        row = self.rows.get(span_id)
        if row is None or row < self.first:
            return None
        trace_id, model, use_case = (column[row].as_py() for column in self.columns)
        return trace_id, model, use_case


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
        self._batches: deque[_Batch] = deque()
        self._size = 0
        self._lock = threading.Lock()

    def add(self, calls: pa.Table) -> None:
        """Remember the calls of a batch (columns span_id, trace_id, model, use_case)."""
        if calls.num_rows == 0:
            return
        batch = _Batch(calls)
        with self._lock:
            self._batches.append(batch)
            self._size += len(batch)
            excess = self._size - self.capacity
            while excess > 0:  # the oldest go first: whole batches, then the oldest rows
                oldest = self._batches[0]
                if len(oldest) <= excess:
                    self._batches.popleft()
                    excess -= len(oldest)
                    self._size -= len(oldest)
                else:
                    oldest.first += excess
                    self._size -= excess
                    excess = 0

    def get(self, span_id: str) -> Labels | None:
        """The (trace id, model, use case) of a remembered span, or None."""
        with self._lock:
            batches = list(self._batches)
        for batch in reversed(batches):  # the newest first: a span id written again wins
            found = batch.get(span_id)
            if found is not None:
                return found
        return None

    def __len__(self) -> int:
        """How many spans are remembered."""
        return self._size

    def after_fork(self) -> None:
        """In a forked child: a new lock (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()
