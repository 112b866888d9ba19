"""Price records: the rates each ``price_version`` used, written into the ``prices`` table.

A batch's calls name their price version; the first time a version is seen its rates are
looked up and kept, then written right after the spans that use them. A failed price write
is kept for the next batch (the spans are never written twice for it).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmobs_nb.capture.errors import capture_failed
from llmobs_nb.pricing import PriceBook


class PriceRecords:
    """The price versions seen so far and the records not yet written.

    Example:
        >>> records = PriceRecords(PriceBook({"m": {"input_mtok": 1.0, "output_mtok": 2.0}}))
        >>> records.note(pa.table({"price_version": ["v1"], "model": ["m"],
        ...     "provider": [None], "start_time": [datetime.now(UTC)]}))
        >>> len(records.pending)
        1
    """

    def __init__(self, prices: PriceBook) -> None:
        self.prices = prices
        self.recorded: set[str] = set()
        self.pending: list[dict[str, Any]] = []

    def note(self, calls: pa.Table) -> None:
        """Look up the rates of the price versions first seen in ``calls`` (flush thread)."""
        versions = pc.unique(calls.column("price_version").drop_null()).to_pylist()
        for version in versions:
            if version in self.recorded:
                continue
            self.recorded.add(version)
            first = calls.filter(pc.equal(calls.column("price_version"), version)).slice(0, 1)
            row = first.select(["model", "provider", "start_time"]).to_pylist()[0]
            price = self.prices.lookup(row["model"], row["provider"], row["start_time"])
            if price is not None:
                self.pending.append(
                    {
                        "price_version": version,
                        "provider": price.provider,
                        "model": price.model,
                        "input_mtok": price.input_mtok,
                        "cached_input_mtok": price.cached_input_mtok,
                        "cache_write_mtok": price.cache_write_mtok,
                        "output_mtok": price.output_mtok,
                        "reasoning_mtok": price.reasoning_mtok,
                        "valid_from": price.valid_from,
                        "valid_to": price.valid_to,
                        "source": price.source,
                        "recorded_at": datetime.now(UTC),
                    }
                )

    def write(self, store: Any) -> None:
        """Write the pending records into ``store``; on failure keep them for the next call."""
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        try:
            store.write_prices(pa.Table.from_pylist(rows))
        except Exception as exc:
            self.pending = rows + self.pending
            capture_failed("record prices (kept for the next write)", exc)

    def after_fork(self) -> None:
        """In a forked child: the parent writes its own records, the child none; the price
        book gets a new lock (the parent's may have been held at the fork)."""
        self.pending = []
        self.prices._lock = threading.Lock()
