"""What ``obs.health()`` reports about the write path, and the warning reads give meanwhile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime


class PendingRowsWarning(UserWarning):
    """A read answered from what is stored while some captured rows are not written yet.

    Given by ``obs.calls()``, ``obs.sql()`` and the other reads instead of raising the write
    error (a full disk, a read-only directory): the rows are kept (in memory up to a bound, then
    in the sidecar folder beside the store) and written when the store can take them again.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     warnings.warn(PendingRowsWarning("3 rows are not in the store yet"))
        >>> seen[0].category.__name__
        'PendingRowsWarning'
    """


@dataclass(frozen=True)
class Health:
    """The write path of one observer at a glance (``obs.health()``).

    Attributes:
        rows_written: span rows written to the store since the observer started.
        pending_memory: rows captured but not written yet, held in memory (bounded).
        pending_sidecar: rows waiting in the sidecar folder beside the store (spilled when the
            memory bound was reached, or written by forked children).
        dropped: rows given up, by reason: ``"memory_bound"`` (the store and the sidecar could
            not be written and the in-memory bound was reached; the oldest went first),
            ``"conversion"`` (a row no field-by-field repair could store), ``"rejected"`` (the
            store refused a row even with its bad fields set to NULL), ``"shutdown"`` (still
            unwritable when the observer closed), ``"after_close"`` (a call in flight when the
            observer closed ended later and its row could not be kept in the sidecar for the
            next observer of the file).
        last_error: the last write error (``"Type: message"``), None if none happened.
        last_error_at: when it happened (UTC).
        last_flush_at: the last time a write to the store succeeded (UTC).
        failing: the last write attempt failed (a failure episode is under way).
        capture_errors: failures inside capture by stage (``obs.capture_errors``): each cost
            only the field it was reading, never the user's call.
        export: spans sent to OTLP endpoints (``otlp_endpoint``) and those lost, summed over
            every endpoint: ``sent``, ``dropped_queue_full`` (the bounded export queue was
            full), ``failed`` (the endpoint refused or could not be reached), and
            ``unsent_at_close``; empty without an endpoint.
        received: what the OTLP receivers (``obs.receive_otlp``) took in, summed over them:
            ``requests`` (answered 200), ``requests_refused`` (answered 4xx, or 503 once
            closed), ``spans_received``, ``spans_refused`` (malformed, or not storable); empty
            without a receiver.

    Example:
        >>> h = Health(10, 0, 0, {}, None, None, None)
        >>> h.ok, h.pending
        (True, 0)
        >>> Health(5, export={"sent": 3, "failed": 2}).export_lost
        2
        >>> Health(5, export={"sent": 3, "failed": 2})
        Health(rows_written=5, pending_memory=0, pending_sidecar=0, export={'sent': 3, 'failed': 2})
    """

    rows_written: int = 0
    pending_memory: int = 0
    pending_sidecar: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_flush_at: datetime | None = None
    failing: bool = False
    capture_errors: dict[str, int] = field(default_factory=dict)
    export: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        """Rows captured and not written yet, in memory and in the sidecar."""
        return self.pending_memory + self.pending_sidecar

    @property
    def dropped_total(self) -> int:
        """Rows given up, all reasons together."""
        return sum(self.dropped.values())

    @property
    def export_lost(self) -> int:
        """Spans that did not reach an OTLP endpoint: dropped, failed or unsent at close."""
        lost = ("dropped_queue_full", "failed", "unsent_at_close")
        return sum(self.export.get(key, 0) for key in lost)

    @property
    def ok(self) -> bool:
        """Writes are succeeding: the last attempt did not fail."""
        return not self.failing

    def __repr__(self) -> str:
        """The counts always; the other fields only when they say something (not empty)."""
        always = ("rows_written", "pending_memory", "pending_sidecar")
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name in always or getattr(self, f.name) not in (None, False, {})
        ]
        return f"Health({', '.join(shown)})"


def summed(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts of several sources (receivers, exporters) added key by key.

    Example:
        >>> summed([{"requests": 2, "spans_received": 5}, {"requests": 1}])
        {'requests': 3, 'spans_received': 5}
    """
    totals: dict[str, int] = {}
    for one in counts:
        for key, n in one.items():
            totals[key] = totals.get(key, 0) + n
    return totals
