"""Converted batches on their way into the store: retried with backoff, bounded in memory,
spilled to the sidecar, bad rows isolated, every row given up counted.

The flush thread owns a :class:`WriteQueue` (all calls under the processor's drain lock):

* a write that fails for a reason of the *store* (a full disk, a read-only file system, an
  invalidated DuckDB connection — anything but bad data) keeps the batch; the next attempt
  comes after a backoff (0.5 s doubling to 15 s) and first reopens the writer's connection,
  so writes resume once space is freed. One warning per failure episode, one when it ends.
* rows kept in memory are bounded (``max_rows``): beyond it the oldest batches go to the
  sidecar folder beside the store (taken in first on the next successful write); if the
  sidecar cannot be written either (the same full disk), the oldest rows beyond the bound are
  dropped and counted (reason ``"memory_bound"``).
* a write that fails because of the *data* (DuckDB refuses a value) is bisected until the bad
  row is alone; that row is written with only its ids, times and status, the problem named in
  ``attributes``; if even that is refused it is dropped and counted (``"rejected"``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from llmobs_nb.capture.health import Health
from llmobs_nb.capture.rows import ATTRIBUTE_ERROR, describe_error
from llmobs_nb.store.sidecar import Sidecar

log = logging.getLogger("llmobs_nb")

DEFAULT_MAX_ROWS = 100_000
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 15.0
# Errors caused by the rows themselves: bisect to find them. Anything else is the store's.
_DATA_ERRORS = (
    duckdb.DataError,
    duckdb.IntegrityError,
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    TypeError,
    ValueError,
    OverflowError,
)
# DuckDB names the column whose value it could not convert: "... when casting from source
# column attributes".
_SOURCE_COLUMN = re.compile(r'source column "?([A-Za-z_][A-Za-z0-9_]*)')
# Kept when the store refuses a row: enough to count it and find it in its trace.
_KEPT_WHEN_REFUSED = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "kind",
    "start_time",
    "end_time",
    "latency_s",
    "project",
    "status",
)


def is_data_error(exc: BaseException) -> bool:
    """Whether a failed write is the rows' fault (bisect) rather than the store's (retry).

    Example:
        >>> is_data_error(OverflowError("int too big")), is_data_error(OSError(28, "full"))
        (True, False)
    """
    if isinstance(exc, duckdb.Error) and not isinstance(
        exc, duckdb.DataError | duckdb.IntegrityError
    ):
        return False  # a DuckDB I/O, transaction or fatal error is never the data's fault
    return isinstance(exc, _DATA_ERRORS) and not isinstance(exc, OSError)


class _Unwritable(Exception):
    """The store cannot take rows now; ``remaining`` are the rows not written."""

    def __init__(self, cause: BaseException, remaining: pa.Table) -> None:
        super().__init__(describe_error(cause))
        self.cause = cause
        self.remaining = remaining


def _refused_column(row: pa.Table, exc: BaseException) -> pa.Table | None:
    """The row with only the column DuckDB names in its refusal set to NULL (the refusal
    named in attributes), or None when the error names no column of the row."""
    found = _SOURCE_COLUMN.search(describe_error(exc, limit=2000))
    name = found.group(1) if found else None
    if name is None or name not in row.column_names or name in ("trace_id", "span_id"):
        return None
    problem = f"{name} not stored: the store refused it ({describe_error(exc)})"
    columns = []
    for field in row.schema:
        column = row.column(field.name)
        if field.name == "attributes":
            text = column[0].as_py() if field.name != name else None
            columns.append(pa.array([_with_problem(text, problem)], field.type))
        elif field.name == name:
            columns.append(pa.nulls(row.num_rows, field.type))
        else:
            columns.append(column)
    return pa.Table.from_arrays(columns, schema=row.schema)


def _with_problem(text: str | None, problem: str) -> str:
    try:
        extra = json.loads(text) if text else {}
    except ValueError:
        extra = {}
    if not isinstance(extra, dict):
        extra = {}
    before = extra.get(ATTRIBUTE_ERROR)
    extra[ATTRIBUTE_ERROR] = f"{before}; {problem}" if before else problem
    return json.dumps(extra)


def _refused_row(row: pa.Table, exc: BaseException) -> pa.Table:
    """One refused row reduced to ids, times and status, the refusal named in attributes."""
    columns = []
    for field in row.schema:
        if field.name in _KEPT_WHEN_REFUSED:
            columns.append(row.column(field.name))
        elif field.name == "attributes":
            problem = (
                f"the store refused this row ({describe_error(exc)}); "
                f"only ids, times and status kept"
            )
            columns.append(pa.array([json.dumps({ATTRIBUTE_ERROR: problem})], field.type))
        else:
            columns.append(pa.nulls(row.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=row.schema)


class WriteQueue:
    """Batches not written yet, and the bookkeeping ``obs.health()`` reports.

    Example:
        >>> written = []
        >>> queue = WriteQueue(written.append)
        >>> queue.add(pa.table({"x": [1, 2]}))
        >>> queue.write(force=True), queue.health().rows_written
        (2, 2)
    """

    def __init__(
        self,
        sink: Callable[[pa.Table], None],
        *,
        sidecar: Sidecar | None = None,
        reconnect: Callable[[], None] | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
        on_drop: Callable[[str, int], None] | None = None,
        where: str = "the store",
        on_foreign: Callable[[pa.Table], None] | None = None,
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self._sink = sink
        self._sidecar = sidecar
        self._reconnect = reconnect
        self._max_rows = max_rows
        self._on_drop = on_drop
        self._where = where
        self._on_foreign = on_foreign
        self._tables: deque[pa.Table] = deque()
        self.rows_in_memory = 0
        self.rows_written = 0
        self.dropped: dict[str, int] = {}
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_flush_at: datetime | None = None
        self._failures = 0  # consecutive failed attempts: the failure episode
        self._next_attempt = 0.0  # time.monotonic() before which the background does not retry
        self._spill_failed = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def failures(self) -> int:
        """Consecutive failed write attempts (0 when the last one succeeded)."""
        return self._failures

    @property
    def failing(self) -> bool:
        """The last write attempt failed (a failure episode is under way)."""
        return self._failures > 0

    def seconds_until_due(self) -> float:
        """How long the background should wait before the next attempt (0 when due)."""
        return max(0.0, self._next_attempt - time.monotonic())

    def health(self, buffered: int = 0) -> Health:
        """A snapshot for ``obs.health()``; ``buffered`` are records not converted yet."""
        return Health(
            rows_written=self.rows_written,
            pending_memory=self.rows_in_memory + buffered,
            pending_sidecar=self.rows_in_sidecar(),
            dropped=dict(self.dropped),
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            last_flush_at=self.last_flush_at,
            failing=self.failing,
        )

    def rows_in_sidecar(self) -> int:
        """Rows waiting in the sidecar folder (0 when it cannot be read)."""
        if self._sidecar is None:
            return 0
        try:
            return self._sidecar.pending_rows()
        except OSError:
            return 0

    def drop(self, reason: str, rows: int) -> None:
        """Count ``rows`` given up for ``reason`` (metrics told through ``on_drop``)."""
        if rows <= 0:
            return
        self.dropped[reason] = self.dropped.get(reason, 0) + rows
        if self._on_drop is not None:
            with contextlib.suppress(Exception):
                self._on_drop(reason, rows)

    # -- writing -------------------------------------------------------------------------------
    def add(self, table: pa.Table) -> None:
        """Queue a converted batch (written by the next :meth:`write`)."""
        if table.num_rows:
            self._tables.append(table)
            self.rows_in_memory += table.num_rows

    def write(self, force: bool = False) -> int:
        """Write what waits (sidecar first, then memory, oldest first); returns rows written.

        In a failure episode the background only tries when the backoff is over; ``force``
        (an explicit flush) tries now. Never raises a write error: it is recorded, logged once
        per episode, and the rows stay queued.
        """
        if not self._tables and not self.failing and self._sidecar_empty():
            return 0
        if not force and self.seconds_until_due() > 0:
            self._bound()
            return 0
        written = 0
        try:
            if self.failing and self._reconnect is not None:
                try:
                    self._reconnect()
                except Exception as exc:
                    raise _Unwritable(exc, _EMPTY) from exc
            written += self._take_sidecar()
            while self._tables:
                table = self._tables[0]
                try:
                    written += self._write_isolated(table)
                except _Unwritable as stop:
                    self._tables[0] = stop.remaining
                    self.rows_in_memory -= table.num_rows - stop.remaining.num_rows
                    raise
                self._tables.popleft()
                self.rows_in_memory -= table.num_rows
        except _Unwritable as stop:
            self._failed(stop.cause)
        else:
            self._succeeded()
        finally:
            self.rows_written += written
            self._bound()
        return written

    def close(self) -> None:
        """At shutdown: rows still unwritable go to the sidecar (the next ``init`` on this file
        takes them in), or are counted as dropped (``"shutdown"``) with a warning."""
        if not self._tables:
            return
        lost = 0
        while self._tables:
            table = self._tables.popleft()
            self.rows_in_memory -= table.num_rows
            if not self._spill(table):
                lost += table.num_rows
        if lost:
            self.drop("shutdown", lost)
            log.warning(
                "llmobs_nb: %d captured rows could not be written to %s nor kept beside it "
                "before closing (%s); they are lost and counted in obs.health().dropped",
                lost,
                self._where,
                self.last_error,
            )

    def keep_for_later(self, table: pa.Table, reason: str) -> None:
        """Rows that can no longer be written here (their observer closed): into the sidecar,
        which the next ``init`` on this file takes in, or dropped and counted as ``reason``."""
        if not self._spill(table):
            self.drop(reason, table.num_rows)

    def _sidecar_empty(self) -> bool:
        return self._sidecar is None or not self._sidecar.files()

    def _take_sidecar(self) -> int:
        """Rows waiting in the sidecar (spilled, or from forked children), oldest first."""
        if self._sidecar is None:
            return 0
        taken = 0
        for paths, table, foreign in self._sidecar.groups():
            try:
                taken += self._write_isolated(table)
            except _Unwritable as stop:
                if stop.remaining.num_rows != table.num_rows:  # part written: keep the rest
                    self._tables.appendleft(stop.remaining)
                    self.rows_in_memory += stop.remaining.num_rows
                    self._taken(paths, table, foreign)
                raise
            self._taken(paths, table, foreign)
        return taken

    def _taken(self, paths: list[Path], table: pa.Table, foreign: bool) -> None:
        """The sidecar files behind ``table`` are in the store (or queued here): delete them.
        Rows another process converted (a forked child, an earlier process on this file) are
        shown to ``on_foreign`` once, so metrics, logs and price records see them too."""
        assert self._sidecar is not None
        for path in paths:
            self._sidecar.done(path)
        if foreign and self._on_foreign is not None:
            try:
                self._on_foreign(table)
            except Exception as exc:
                log.warning("llmobs_nb could not update metrics for taken-in rows (%s)", exc)

    def _write_isolated(self, table: pa.Table) -> int:
        """Write ``table``; a refusal caused by the data is bisected down to the bad rows."""
        parts = [table]
        written = 0
        while parts:
            part = parts[0]
            try:
                self._sink(part)
            except Exception as exc:
                if not is_data_error(exc):
                    raise _Unwritable(exc, pa.concat_tables(parts)) from exc
                parts.pop(0)
                if part.num_rows > 1:
                    half = part.num_rows // 2
                    parts[0:0] = [part.slice(0, half), part.slice(half)]
                else:
                    written += self._write_refused(part, exc, parts)
                continue
            parts.pop(0)
            written += part.num_rows
        return written

    def _write_refused(self, row: pa.Table, exc: BaseException, rest: list[pa.Table]) -> int:
        """One row the store refused: without the column it names, else reduced to its ids,
        times and status; dropped and counted (``"rejected"``) if refused even so."""
        try:
            repaired = _refused_column(row, exc)
        except Exception:
            repaired = None
        if repaired is not None:
            try:
                self._sink(repaired)
                return row.num_rows
            except Exception as again:
                if not is_data_error(again):
                    raise _Unwritable(again, pa.concat_tables([row, *rest])) from again
        try:
            self._sink(_refused_row(row, exc))
        except Exception as again:
            if not is_data_error(again):
                raise _Unwritable(again, pa.concat_tables([row, *rest])) from again
            self.drop("rejected", row.num_rows)
            log.warning("llmobs_nb: the store refused a span row (%s); dropped, counted", again)
            return 0
        return row.num_rows

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self.last_error = describe_error(exc, limit=1000)
        self.last_error_at = datetime.now(UTC)
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self._failures - 1))
        self._next_attempt = time.monotonic() + delay
        if self._failures == 1:
            log.warning(
                "llmobs_nb cannot write to %s (%s): %d captured rows are kept (up to %d in "
                "memory, then in the sidecar folder beside the store) and retried with backoff; "
                "your calls are unaffected. obs.health() shows the state.",
                self._where,
                self.last_error,
                self.rows_in_memory,
                self._max_rows,
            )

    def _succeeded(self) -> None:
        self.last_flush_at = datetime.now(UTC)
        if self._failures:
            log.warning(
                "llmobs_nb writes to %s resumed after %d failed attempts; dropped so far: %s",
                self._where,
                self._failures,
                self.dropped or "none",
            )
        self._failures = 0
        self._next_attempt = 0.0
        self._spill_failed = False

    def _spill(self, table: pa.Table) -> bool:
        if self._sidecar is None:
            return False
        try:
            self._sidecar.put(table)
        except Exception as exc:
            if not self._spill_failed:
                self._spill_failed = True
                log.warning(
                    "llmobs_nb cannot keep unwritten rows in %s either (%s): beyond %d rows in "
                    "memory the oldest are dropped and counted (reason memory_bound)",
                    self._sidecar.dir,
                    describe_error(exc),
                    self._max_rows,
                )
            return False
        return True

    def _bound(self) -> None:
        """Keep at most ``max_rows`` in memory: spill the oldest, or drop and count them."""
        while self.rows_in_memory > self._max_rows and self._tables:
            table = self._tables.popleft()
            self.rows_in_memory -= table.num_rows
            if self._spill(table):
                continue
            excess = self.rows_in_memory + table.num_rows - self._max_rows
            if excess < table.num_rows:  # drop only the oldest rows beyond the bound
                kept = table.slice(excess)
                self._tables.appendleft(kept)
                self.rows_in_memory += kept.num_rows
            self.drop("memory_bound", min(excess, table.num_rows))

    def __repr__(self) -> str:
        return f"<WriteQueue {self.rows_in_memory} rows in memory, {self.rows_written} written>"


_EMPTY = pa.table({})
