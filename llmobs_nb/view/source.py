"""What the view reads: an observer's store or a DuckDB file, narrowed by the user's filters.

Filters are pushed down into DuckDB, not applied to a frame in Python: every query the view or
analytics sends is prefixed with a common table expression named ``llm_calls`` that shadows the
store's view of the same name, so ``FROM llm_calls`` reads only the filtered calls. Filter
values travel as ``?`` parameters, never inside the SQL text.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from llmobs_nb.store.connect import connect
from llmobs_nb.store.readonly import run_read_only

# Dimension filters: dashboard name -> llm_calls column.
DIMENSIONS = {"models": "model", "use_cases": "use_case", "runs": "run", "users": "user_id"}
_LEADING_WITH = re.compile(r"^\s*WITH\s+(RECURSIVE\s+)?", re.IGNORECASE)


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name}={value!r} is not a datetime: pass e.g. datetime(2025, 3, 3)")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Filters:
    """Which calls to look at: a time range [start, end) and allowed values per dimension.

    An empty tuple means "any value". Naive datetimes are read as UTC, as in the store.

    Example:
        >>> Filters(models=("gpt-4o",), users=("alice",)).where()
        ('model IN (?) AND user_id IN (?)', ['gpt-4o', 'alice'])
    """

    start: datetime | None = None
    end: datetime | None = None
    models: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start={self.start} is not before end={self.end}: swap them")
        for name in DIMENSIONS:
            values = getattr(self, name)
            if isinstance(values, str):
                raise TypeError(f"{name}={values!r}: pass a tuple of values, e.g. ({values!r},)")
            object.__setattr__(self, name, tuple(values))

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition over ``llm_calls`` columns and its parameters ('TRUE' when empty)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.start is not None:
            clauses.append("start_time >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("start_time < ?")
            params.append(self.end)
        for name, column in DIMENSIONS.items():
            values = getattr(self, name)
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        return (" AND ".join(clauses) or "TRUE"), params

    @property
    def empty(self) -> bool:
        return self == Filters()


class DataSource:
    """An observer or a DuckDB file, read through :meth:`query`, optionally filtered.

    Pass the result of :meth:`filtered` to any ``llmobs_nb.analytics`` function: it has the
    ``sql``/``calls``/``scores`` methods analytics expects of an observer. For a file, one
    read-only connection is opened per :meth:`session` (a dashboard redraw) and closed after,
    so the view never keeps a writer in another process out of the file for long.

    Example:
        >>> source = DataSource("experiments.duckdb")                     # doctest: +SKIP
        >>> analytics.cost_breakdown(source.filtered(Filters(models=("gpt-4o",))))  # doctest: +SKIP
    """

    def __init__(self, source: Any) -> None:
        self.observer: Any = None
        self.path: str | None = None
        # One connection per thread: the dashboard's background panels query while the
        # foreground redraws, and a DuckDB connection must not be shared between them.
        self._local = threading.local()
        if isinstance(source, DataSource):
            self.observer, self.path = source.observer, source.path
        elif isinstance(source, str | Path):
            path = Path(source).expanduser().resolve()
            if not path.exists():
                raise FileNotFoundError(
                    f"no store at {path}: pass an observer (llmobs_nb.init(...)) or an existing "
                    "DuckDB file"
                )
            self.path = str(path)
        elif hasattr(source, "sql") and hasattr(source, "store"):
            self.observer = source
        else:
            raise TypeError(
                f"source must be an Observer or a DuckDB file path, not {type(source).__name__}"
            )

    @property
    def _con(self) -> duckdb.DuckDBPyConnection | None:
        return getattr(self._local, "con", None)

    @property
    def label(self) -> str:
        """Where the data lives, for titles: the file path or the observer's db path."""
        return self.path or str(getattr(self.observer, "db_path", "store"))

    @contextlib.contextmanager
    def session(self) -> Iterator[DataSource]:
        """Keep one read-only connection open for the queries inside the block (files only)."""
        if self.observer is not None or self._con is not None:
            yield self
            return
        assert self.path is not None
        # The package's one connect: UTC, no progress bar, no access outside the store.
        con = self._local.con = connect(self.path, read_only=True)
        try:
            yield self
        finally:
            con.close()
            self._local.con = None

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run read-only ``sql`` with ``?`` parameters and return a polars DataFrame."""
        params = list(params or [])
        if self.observer is not None:
            return self.observer.sql(sql, params or None)
        if self._con is not None:
            return run_read_only(self._con, sql, params)
        with self.session():
            return self.query(sql, params)

    def filtered(self, filters: Filters) -> FilteredCalls:
        """The calls that pass ``filters``, as something every analytics function accepts."""
        return FilteredCalls(self, filters)


@dataclass
class FilteredCalls:
    """The ``llm_calls`` of a :class:`DataSource` narrowed by :class:`Filters`, pushed down.

    Has ``sql``, ``calls`` and ``scores`` like an observer, so analytics treats it as a store
    and runs its aggregations in DuckDB over the filtered calls only.

    Example:
        >>> calls = DataSource(obs).filtered(Filters(models=("o'brien",)))   # doctest: +SKIP
        >>> calls.sql("select count(*) n from llm_calls")                    # doctest: +SKIP
    """

    source: DataSource
    filters: Filters = field(default_factory=Filters)
    _extent: tuple[Any, Any, int] | None = field(default=None, init=False, repr=False)

    def extent(self) -> tuple[datetime | None, datetime | None, int]:
        """First and last ``start_time`` and the number of filtered calls (asked once: every
        chart of one redraw picks its time bucket from it)."""
        if self._extent is None:
            row = self.sql(
                "SELECT min(start_time) AS lo, max(start_time) AS hi, count(*) AS n FROM llm_calls"
            ).row(0)
            self._extent = (row[0], row[1], int(row[2] or 0))
        return self._extent

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run ``query`` with ``llm_calls`` restricted to the filtered calls."""
        if isinstance(params, dict):
            raise TypeError("filtered queries take positional ? parameters, not $name ones")
        condition, filter_params = self.filters.where()
        if condition == "TRUE":
            return self.source.query(query, list(params or []))
        cte = f"llm_calls AS (SELECT * FROM main.llm_calls WHERE {condition})"
        # The CTE comes first in the text, so its parameters come first in the list.
        if _LEADING_WITH.match(query):
            query = _LEADING_WITH.sub(lambda m: f"WITH {m.group(1) or ''}{cte}, ", query, count=1)
        else:
            query = f"WITH {cte} {query}"
        return self.source.query(query, [*filter_params, *(params or [])])

    def calls(self) -> pl.DataFrame:
        """The filtered calls, oldest first (every column: only for small selections)."""
        return self.sql("SELECT * FROM llm_calls ORDER BY start_time")

    def scores(self) -> pl.DataFrame:
        """The scores of the filtered calls' traces."""
        return self.sql(
            "SELECT * FROM scores WHERE trace_id IN (SELECT trace_id FROM llm_calls) "
            "ORDER BY created_at"
        )
