"""What the view reads: an observer's store or a DuckDB file, narrowed by the user's filter.

The filter is :class:`llmobs_nb.analytics.Filter`, the one the analytics functions and
``evaluate`` take. :class:`FilteredCalls` hands it to analytics' engine, which renders it into
the WHERE of every query it sends (values as ``?`` parameters): no query text is rewritten.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import duckdb
import polars as pl

from llmobs_nb._deprecated import moved_names
from llmobs_nb.analytics.engines import Engine, ScoredOnce, SqlEngine
from llmobs_nb.analytics.filter import DIMENSIONS, Filter
from llmobs_nb.analytics.plan import Plan, Scored
from llmobs_nb.analytics.rollup_engine import (
    AUTO_MAX_SKETCH_SHARE,
    AUTO_MIN_SPANS,
    RollupState,
    rollup_engine,
    rollup_state,
)
from llmobs_nb.analytics.source import classify
from llmobs_nb.analytics.summary import summary
from llmobs_nb.store.kept_open import KeptOpen
from llmobs_nb.store.readonly import run_read_only

__all__ = ["DIMENSIONS", "DataSource", "Filter", "FilteredCalls"]

T = TypeVar("T")

#: The latency quantiles of the dashboard's headline.
HEADLINE_QUANTILES = (0.95,)

# The thread on which FilteredCalls.beside asks a question while the caller asks others: one,
# kept, so its connection to a file (this thread's own, kept open) stays warm between redraws.
# One per process: a forked child inherits the executor but not its thread.
_side: dict[int, ThreadPoolExecutor] = {}
_side_lock = threading.Lock()
_on_the_side = threading.local()


def _side_thread() -> ThreadPoolExecutor:
    with _side_lock:
        pid = os.getpid()
        if pid not in _side:
            _side.clear()
            _side[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmobs-side")
        return _side[pid]


# view.Filters became analytics.Filter (one filter for the dashboard, analytics and evals).
__getattr__ = moved_names(__name__, {"Filters": "llmobs_nb.analytics:Filter"})


class DataSource:
    """An observer, a DuckDB file or an open connection, read through :meth:`query`,
    optionally filtered.

    Pass the result of :meth:`filtered` to any ``llmobs_nb.analytics`` function. For a file,
    each thread reads through a read-only connection kept open while its :meth:`session` blocks
    (dashboard redraws) follow each other and closed a few seconds after the last
    (:class:`~llmobs_nb.store.kept_open.KeptOpen`), so the view never keeps a writer in
    another process out of the file for long; :meth:`close` closes them at once.
    With ``approx=True``, questions the store's rollups can answer are answered from them
    (``analytics.rollup_engine``: counts and sums exact, quantiles within 1 %); with ``None``
    (the default) only on a store of at least ``rollup_engine.AUTO_MIN_SPANS`` spans, where
    they are faster; with ``False`` never.

    Example:
        >>> source = DataSource("experiments.duckdb")                     # doctest: +SKIP
        >>> analytics.cost_breakdown(source.filtered(Filter(models=("gpt-4o",))))  # doctest: +SKIP
    """

    def __init__(self, source: Any, *, approx: bool | None = None) -> None:
        self.approx = approx
        self.observer: Any = None
        self.path: str | None = None
        self.connection: duckdb.DuckDBPyConnection | None = None
        # One connection per thread: the dashboard's background panels query while the
        # foreground redraws, and a DuckDB connection must not be shared between them.
        self._local = threading.local()
        self._kept_lock = threading.Lock()
        self._all_kept: list[KeptOpen] = []
        if isinstance(source, DataSource):
            self.observer, self.path = source.observer, source.path
            self.connection = source.connection
            self.approx = source.approx if approx is None else approx
            return
        kind = classify(source)
        if kind.kind == "file":
            self.path = str(kind.value)
        elif kind.kind == "connection":
            self.connection = kind.value
        elif kind.kind == "observer" and hasattr(source, "store"):
            self.observer = source
        elif kind.kind == "engine" and hasattr(source, "query"):
            self.remote = source  # a source with its own engine: ClickHouse (llmobs_nb.open)
        else:
            raise TypeError(
                f"source must be an Observer, a DuckDB file path or an open DuckDB connection, "
                f"not {type(source).__name__}"
            )

    #: A source that brings its own engine and SQL (``llmobs_nb.clickhouse.ClickHouseSource``).
    remote: Any = None

    @property
    def _con(self) -> duckdb.DuckDBPyConnection | None:
        return getattr(self._local, "con", None) or self.connection

    @property
    def label(self) -> str:
        """Where the data lives, for titles: the file path or the observer's db path."""
        if self.remote is not None:
            return str(self.remote.label)
        return self.path or str(getattr(self.observer, "db_path", "store"))

    @contextlib.contextmanager
    def session(self) -> Iterator[DataSource]:
        """Keep one read-only connection open for the queries inside the block (files only),
        and within it (any source) answer a question asked twice of the same filtered calls
        once (:meth:`FilteredCalls.open_engine`): a session is one redraw."""
        if getattr(self._local, "answers", None) is not None:  # inside a session already
            yield self
            return
        self._local.answers = {}
        try:
            if self.path is None or self._con is not None:
                yield self
                return
            with self._kept_open().use() as con:
                self._local.con = con
                try:
                    yield self
                finally:
                    self._local.con = None
        finally:
            self._local.answers = None

    def _kept_open(self) -> KeptOpen:
        # This thread's connection to the file, kept open between sessions (redraws) while
        # they follow each other (store/kept_open.py), so each redraw reads a warm file.
        kept = getattr(self._local, "kept", None)
        if kept is None:
            assert self.path is not None
            kept = self._local.kept = KeptOpen(self.path)
            with self._kept_lock:
                self._all_kept.append(kept)
        return kept

    def close(self) -> None:
        """Close the connections kept open to the file (a later question opens one again)."""
        with self._kept_lock:
            for kept in self._all_kept:
                kept.close()

    def _answers(self, filters: Filter) -> dict[Plan, tuple[pl.DataFrame, float]] | None:
        # The answers of this thread's session for ``filters`` (None outside a session).
        answers = getattr(self._local, "answers", None)
        return None if answers is None else answers.setdefault(filters, {})

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run read-only ``sql`` with ``?`` parameters and return a polars DataFrame."""
        params = list(params or [])
        if self.remote is not None:
            return self.remote.query(sql, params)
        if self.observer is not None:
            return self.observer.sql(sql, params or None)
        if self._con is not None:
            return run_read_only(self._con, sql, params)
        with self.session():
            return self.query(sql, params)

    @contextlib.contextmanager
    def open_engine(self) -> Iterator[Engine]:
        """The analytics engine over all calls, for the length of a session (answering from
        the rollups what they can answer, with ``approx``)."""
        if self.remote is not None:  # its own engine (ClickHouse: its rollup view, if any)
            with self.session(), self.remote.open_engine() as engine:
                yield engine
            return
        with self.session():
            exact = SqlEngine(self.query, columns=self._columns())
            if self.approx is False:
                yield exact
            else:
                state = self._rollup_state()
                if self.approx is None:  # auto: the rollups where they are faster
                    yield rollup_engine(
                        exact,
                        self.query,
                        min_spans=AUTO_MIN_SPANS,
                        max_sketch_share=AUTO_MAX_SKETCH_SHARE,
                        state=state,
                    )
                else:
                    yield rollup_engine(exact, self.query, state=state)

    def _rollup_state(self) -> RollupState | None:
        # Asked once per session of a file (its connection sees one state); a live observer's
        # or an open connection's store is asked every time (it grows while we read).
        if self.path is None or self._con is None:
            return rollup_state(self.query)
        return self._once_per(self._con, "rollups", lambda: rollup_state(self.query))

    def _columns(self) -> list[str]:
        # Asked once per connection (a file's: once per session), not once per question.
        key = self._con if self._con is not None else self.observer
        return self._once_per(key, "columns", lambda: SqlEngine(self.query).columns)

    def _once_per(self, key: Any, slot: str, ask: Callable[[], T]) -> T:
        # ask() once while this thread's ``key`` (a connection or the observer) stays the same.
        cached = getattr(self._local, slot, None)
        if cached is None or cached[0] is not key:
            cached = (key, ask())
            setattr(self._local, slot, cached)
        return cached[1]

    def filtered(self, filters: Filter) -> FilteredCalls:
        """The calls that pass ``filters``, as something every analytics function accepts."""
        return FilteredCalls(self, filters)


@dataclass
class FilteredCalls:
    """The ``llm_calls`` of a :class:`DataSource` narrowed by a :class:`Filter`, pushed down.

    Every analytics function accepts it (through :meth:`open_engine`) and runs in DuckDB over
    the filtered calls only. :meth:`sql` runs a query of your own over them.

    Example:
        >>> calls = DataSource(obs).filtered(Filter(models=("o'brien",)))   # doctest: +SKIP
        >>> calls.sql("select count(*) n from llm_calls")                    # doctest: +SKIP
    """

    source: DataSource
    filters: Filter = field(default_factory=Filter)
    _summary: pl.DataFrame | None = field(default=None, init=False, repr=False)
    _extent: tuple[datetime | None, datetime | None, int] | None = field(
        default=None, init=False, repr=False
    )
    _time_only: FilteredCalls | None = field(default=None, init=False, repr=False)
    _scored: dict[Scored, pl.DataFrame] = field(default_factory=dict, init=False, repr=False)

    @contextlib.contextmanager
    def open_engine(self) -> Iterator[Engine]:
        """The analytics engine over the filtered calls, for the length of a session. The
        scored rows are fetched once per selection, and inside a :meth:`DataSource.session`
        (a redraw) a question asked twice — two panels asking one aggregate — is asked once
        (:class:`ScoredOnce`)."""
        with self.source.open_engine() as engine:
            narrowed = engine.narrowed(self.filters.conditions())
            yield ScoredOnce(narrowed, self._scored, self.source._answers(self.filters))

    def summary(self) -> pl.DataFrame:
        """:func:`llmobs_nb.analytics.summary` of the filtered calls (with P95 latency), asked
        once: the headline and every chart's time bucket (:meth:`extent`) come from it."""
        if self._summary is None:
            self._summary = summary(self, quantiles=HEADLINE_QUANTILES, approx=True)
        return self._summary

    def extent(self) -> tuple[datetime | None, datetime | None, int]:
        """First and last ``start_time`` and the number of filtered calls: from
        :meth:`summary` when it was asked, else from a summary without quantiles (counts and
        times only: the rollups answer it), asked once."""
        if self._extent is None:
            found = self._summary
            if found is None:
                found = summary(self, quantiles=(), approx=True)
            row = found.row(0, named=True)
            self._extent = (row["first_call"], row["last_call"], row["calls"])
        return self._extent

    def reuse_time_extent(self, earlier: FilteredCalls | None) -> None:
        """Take ``earlier``'s time-only extent (:meth:`time_only`'s :meth:`extent`) when both
        have the same time range and ``earlier`` asked it: the caller knows the store did not
        change in between (a dashboard compares its stored counts), so a filter change that
        keeps the time range asks one question fewer.

        Example:
            >>> now = source.filtered(Filter(models=("gpt-4o",)))     # doctest: +SKIP
            >>> now.reuse_time_extent(before)                        # doctest: +SKIP
        """
        if earlier is None or earlier.source is not self.source:
            return
        timed, known = self.time_only(), earlier.time_only()
        if timed.filters == known.filters and known._extent is not None and timed._extent is None:
            timed._extent = known._extent

    def beside(self, ask: Callable[[], T]) -> Callable[[], T]:
        """Start ``ask()`` (questions about these calls) on a side thread, in a session of
        its own, while the caller asks others; returns a function that waits for its answer
        (and raises what ``ask`` raised). DuckDB runs a query without Python's lock, so one
        panel's query runs while another panel is built in Python: at 10M calls the latency
        and TTFT sketches took half a redraw. Asked in the caller's thread instead when the
        source is not a file (an observer's or a remote store keeps its own connection).

        Ask first, in the caller's thread, what both sides share (:meth:`extent`,
        :meth:`time_only`): they are asked once and kept on this object.

        Example:
            >>> answer = calls.beside(lambda: analytics.percentiles(calls))  # doctest: +SKIP
            >>> costs = analytics.cost_breakdown(calls)                     # doctest: +SKIP
            >>> latency = answer()                                          # doctest: +SKIP
        """
        source = self.source
        if (
            source.path is None
            or source.remote is not None
            or source.connection is not None
            or getattr(_on_the_side, "now", False)  # asked from the side thread: no waiting
        ):
            value = ask()
            return lambda: value

        def in_a_session() -> T:
            _on_the_side.now = True
            try:
                with source.session():
                    return ask()
            finally:
                _on_the_side.now = False

        return _side_thread().submit(in_a_session).result

    def time_only(self) -> FilteredCalls:
        """These calls' filter narrowed to its time range alone (models, use cases, runs,
        users and statuses dropped), kept for the life of this object: what the charts' time
        buckets are chosen from (:func:`~llmobs_nb.view.buckets.stable_every`)."""
        timed = Filter(start=self.filters.start, end=self.filters.end)
        if self.filters == timed:
            return self
        if self._time_only is None:
            self._time_only = FilteredCalls(self.source, timed)
        return self._time_only

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run ``query`` with ``llm_calls`` standing for the filtered calls.

        The query is run whole, as a subquery under a ``llm_calls`` common table expression
        holding the filtered calls; its text is not changed.
        """
        if isinstance(params, dict):
            raise TypeError("filtered queries take positional ? parameters, not $name ones")
        if self.filters.empty:
            return self.source.query(query, list(params or []))
        condition, filter_params = self.filters.where()
        wrapped = (
            f"WITH llm_calls AS (SELECT * FROM main.llm_calls WHERE {condition})\n"
            f"SELECT * FROM (\n{query.rstrip().removesuffix(';')}\n)"
        )
        return self.source.query(wrapped, [*filter_params, *(params or [])])

    def calls(self) -> pl.DataFrame:
        """The filtered calls, oldest first (every column: only for small selections)."""
        return self.sql("SELECT * FROM llm_calls ORDER BY start_time")

    def scores(self) -> pl.DataFrame:
        """The scores of the filtered calls' traces."""
        return self.sql(
            "SELECT * FROM scores WHERE trace_id IN (SELECT trace_id FROM llm_calls) "
            "ORDER BY created_at"
        )
