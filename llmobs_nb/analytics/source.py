"""Where calls come from: any calls-like input turned into an engine, in one place.

Every analytics function (and the view) accepts the same inputs: a polars DataFrame or
LazyFrame with the ``llm_calls`` columns, an observer (anything with ``.calls()``, ``.scores()``
and ``.sql()``), a DuckDB file path (opened read-only for each query), an open DuckDB
connection to a store, Parquet files (a path ending in ``.parquet``, a glob, or a directory
written by ``export.parquet``), or anything with an ``open_engine()`` method (the view's
filtered calls). :func:`classify` says which it is; :func:`open_source` turns it into an
engine (``engines.py``) that runs plans (``plan.py``): polars for frames, DuckDB pushdown for
stores, because pulling ten million rows into polars costs more than the whole question
(docs/design.md §1, Analytics). :func:`open_store` is the one way a store file is opened for
reading. :func:`open_spans` reads the ``spans`` table (every span, not only model calls) of the
same inputs, for questions about whole traces (sessions, agents, tools).

Example:
    >>> with open_source(pl.DataFrame({"latency_s": [1.0]})) as engine:
    ...     engine.columns
    ['latency_s']
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import polars as pl

from llmobs_nb.analytics.columns import LLM_CALLS_COLUMNS, check_columns
from llmobs_nb.analytics.engines import Engine, FrameEngine, SqlEngine, SqlRunner
from llmobs_nb.analytics.filter import WhereLike, conditions_of
from llmobs_nb.analytics.plan import Agg, every_to_us, extent_plan
from llmobs_nb.analytics.render_sql import SqlRenderer
from llmobs_nb.analytics.rollup_engine import rollup_engine
from llmobs_nb.store.connect import MEMORY, connect
from llmobs_nb.store.schema import SPANS

__all__ = [
    "LLM_CALLS_COLUMNS",
    "Agg",
    "CallsLike",
    "Engine",
    "ScoresLike",
    "SpanReader",
    "check_columns",
    "classify",
    "every_to_us",
    "open_source",
    "open_spans",
    "open_store",
    "time_extent",
]


class Observer(Protocol):
    """What analytics needs of an observer: its frames and a SQL entry point to its store."""

    def calls(self) -> pl.DataFrame: ...
    def scores(self) -> pl.DataFrame: ...
    def sql(self, query: str, params: Any = None) -> pl.DataFrame: ...


CallsLike = pl.DataFrame | pl.LazyFrame | str | os.PathLike | Observer | duckdb.DuckDBPyConnection
ScoresLike = pl.DataFrame | pl.LazyFrame | None
Kind = Literal["engine", "frame", "connection", "parquet", "file", "observer"]


@dataclass(frozen=True)
class Source:
    """A classified calls-like input: its ``kind`` and the input (a resolved Path for files)."""

    kind: Kind
    value: Any


def classify(calls: Any) -> Source:
    """What kind of calls-like input ``calls`` is; raises for anything else or a missing path.

    Example:
        >>> classify(pl.DataFrame()).kind
        'frame'
    """
    if hasattr(calls, "open_engine"):
        return Source("engine", calls)
    if isinstance(calls, pl.DataFrame | pl.LazyFrame):
        return Source("frame", calls.lazy())
    if isinstance(calls, duckdb.DuckDBPyConnection):
        return Source("connection", calls)
    if isinstance(calls, str | os.PathLike):
        path = Path(calls).expanduser()
        text = str(calls)
        if text.endswith(".parquet") or "*" in text or path.is_dir():
            return Source("parquet", path)
        if not path.exists():
            raise FileNotFoundError(
                f"no store at {text!r}: no DuckDB file or Parquet files there; pass an existing "
                "store path, a Parquet glob, an observer (llmobs_nb.init(...)) or a polars frame"
            )
        return Source("file", path.resolve())
    if hasattr(calls, "sql") and hasattr(calls, "calls"):
        return Source("observer", calls)
    raise TypeError(
        f"calls must be a polars DataFrame/LazyFrame, an observer, a DuckDB path or a Parquet "
        f"glob, not {type(calls).__name__}"
    )


@contextmanager
def open_store(path: str | os.PathLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the store file at ``path``, closed at the end of the block.

    Opened by the package's one ``connect`` (UTC, no access outside the store, no
    extensions), so a locked, damaged or foreign file raises the store's own errors
    (``StoreLockedError``, ``CorruptStoreError``, ``NotAStoreError``).

    Example:
        >>> with open_store("experiments.duckdb") as con:   # doctest: +SKIP
        ...     con.sql("select count(*) from llm_calls").fetchall()
    """
    con = connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def sql_runner(con: duckdb.DuckDBPyConnection) -> SqlRunner:
    """A connection's ``(sql, params) -> polars`` runner, for the SQL the renderer writes
    (a store connection from ``connect`` cannot write outside the store in any case)."""
    return lambda sql, params: con.sql(sql, params=params or None).pl()


def _parquet_scan(path: str) -> pl.LazyFrame:
    return pl.scan_parquet(path, hive_partitioning=True, missing_columns="insert")


def _parquet_engine(path: Path, scores: pl.LazyFrame | None) -> FrameEngine:
    if path.is_dir() and (path / "llm_calls").is_dir():
        stored = path / "scores"
        if scores is None and stored.is_dir():
            scores = _parquet_scan(str(stored / "**" / "*.parquet"))
        return FrameEngine(_parquet_scan(str(path / "llm_calls" / "**" / "*.parquet")), scores)
    if path.is_dir():
        return FrameEngine(_parquet_scan(str(path / "**" / "*.parquet")), scores)
    return FrameEngine(_parquet_scan(str(path)), scores)


def _sql_engine(run: SqlRunner, scores: pl.LazyFrame | None, approx: bool) -> Engine:
    exact = SqlEngine(run, scores=scores)
    return rollup_engine(exact, run) if approx and scores is None else exact


@contextmanager
def _engine(calls: Any, scores: pl.LazyFrame | None, approx: bool = False) -> Iterator[Engine]:
    source = classify(calls)
    if source.kind == "engine":
        opened: AbstractContextManager[Engine] = source.value.open_engine()
        with opened as engine:
            yield engine
    elif source.kind == "frame":
        yield FrameEngine(source.value, scores)
    elif source.kind == "parquet":
        yield _parquet_engine(source.value, scores)
    elif source.kind == "connection":
        # A connection the caller keeps open: no file to open per query.
        yield _sql_engine(sql_runner(source.value), scores, approx)
    elif source.kind == "file":
        with open_store(source.value) as con:
            yield _sql_engine(sql_runner(con), scores, approx)
    else:
        yield _sql_engine(lambda sql, params: source.value.sql(sql, params), scores, approx)


@contextmanager
def open_source(
    calls: CallsLike, scores: ScoresLike = None, *, where: WhereLike = None, approx: bool = False
) -> Iterator[Engine]:
    """The engine for ``calls`` (and optional ``scores``), open for the duration of a query.

    ``where`` (a :class:`~llmobs_nb.analytics.Filter` or a dict of column → value) narrows
    every plan the engine runs; its columns must be among the calls'. With ``approx``, a
    store's engine answers from its rollups what they can answer
    (:mod:`~llmobs_nb.analytics.rollup_engine`; its ``rel_error`` says the bound), and
    everything else exactly; frames and Parquet are always exact.

    Example:
        >>> with open_source(pl.DataFrame({"latency_s": [1.0]})) as engine:
        ...     engine.columns
        ['latency_s']
    """
    frame = scores.lazy() if isinstance(scores, pl.DataFrame) else scores
    with _engine(calls, frame, approx) as engine:
        conditions = conditions_of(where)
        if conditions:
            check_columns(engine.columns, [c.column for c in conditions], "where=")
        yield engine.narrowed(conditions)


def time_extent(
    calls: CallsLike, *, where: WhereLike = None
) -> tuple[datetime | None, datetime | None, int]:
    """Earliest and latest ``start_time`` of ``calls`` and how many there are.

    (None, None, 0) when there are none.

    Example:
        >>> time_extent(pl.DataFrame({"start_time": []}, schema={"start_time": pl.Datetime()}))
        (None, None, 0)
    """
    with open_source(calls, where=where) as engine:
        check_columns(engine.columns, ["start_time"], "time_extent")
        found = engine.run(extent_plan())
    if found.height == 0:
        return None, None, 0
    lo, hi, n = found.row(0)
    return lo, hi, int(n or 0)


@dataclass(frozen=True)
class SpanReader:
    """SQL over a source's ``spans`` table: ``run(sql, params)`` returns a polars frame;
    ``columns`` are the columns that SQL may name (a store's: all of ``spans``; a frame's: the
    ones asked for); ``dialect`` writes the SQL's engine-specific parts (DuckDB's, or the
    source's own: ClickHouse)."""

    run: SqlRunner
    columns: tuple[str, ...]
    dialect: SqlRenderer = field(default_factory=SqlRenderer)


def _spans_frame(
    frame: pl.LazyFrame, required: Sequence[str], optional: Sequence[str]
) -> pl.DataFrame:
    """The columns asked for, typed as the store types them (times in UTC); a missing optional
    column is NULL, a missing required one raises."""
    have = frame.collect_schema()
    check_columns(list(have), required, "this question")
    types = SPANS.polars
    wanted = list(dict.fromkeys([*required, *optional]))
    columns = []
    for name in wanted:
        dtype = types.get(name, have.get(name, pl.String()))
        if name not in have:
            columns.append(pl.lit(None, dtype).alias(name))
        elif isinstance(dtype, pl.Datetime) and isinstance(have[name], pl.Datetime):
            zone = have[name].time_zone  # type: ignore[union-attr]
            col = pl.col(name).cast(pl.Datetime("us", zone))
            utc = col.dt.replace_time_zone("UTC") if zone is None else col
            columns.append(utc.dt.convert_time_zone("UTC"))
        else:
            columns.append(pl.col(name).cast(dtype))
    return frame.select(columns).collect()


def _upgraded(reader: SpanReader, required: Sequence[str], optional: Sequence[str]) -> SpanReader:
    """``reader``, once its store's ``spans`` is known to have the columns a question names; a
    store an older release wrote and nobody has opened for writing since (read-only opens do
    not migrate) lacks the newer ones: say how to upgrade it rather than fail in SQL."""
    found = reader.run(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'spans'", []
    )
    have = set(found["column_name"].to_list())
    missing = [c for c in dict.fromkeys([*required, *optional]) if c not in have]
    if missing:
        raise ValueError(
            f"this store's spans table lacks {', '.join(missing)}: it was written by an "
            "older llmobs_nb. Open it once with llmobs_nb.init(db=<its path>) to upgrade it in "
            "place (every row is kept; read-only opens never change a file)"
        )
    return reader


@contextmanager
def open_spans(
    spans: Any, required: Sequence[str], optional: Sequence[str] = ()
) -> Iterator[SpanReader]:
    """A :class:`SpanReader` over the spans of ``spans``, open for the duration of a question.

    A store (a file path, a connection, an observer, or anything with a ``query(sql, params)``
    method such as the view's ``DataSource``) is read in place: the SQL runs in DuckDB, which
    reads only the columns it names. A polars DataFrame/LazyFrame (or Parquet files) is
    registered as the table ``spans`` of an in-memory DuckDB (Arrow, not copied) holding only
    the ``required`` and ``optional`` columns, the optional ones it lacks as NULL, times in UTC;
    a required column it lacks raises ``ValueError``. An ``llm_calls``-shaped frame (or the
    Parquet export) is read the same way: it holds the model calls only. A source with an
    ``open_spans(required, optional)`` method of its own answers for itself, in its own SQL
    dialect (ClickHouse), and so does the view's ``DataSource`` over one.

    Example:
        >>> frame = pl.DataFrame({"trace_id": ["t1"], "span_id": ["s1"]})
        >>> with open_spans(frame, ["trace_id", "span_id"], ["tool_name"]) as reader:
        ...     reader.run("SELECT count(tool_name) AS n FROM spans", [])["n"].to_list()
        [0]
    """
    source = classify(spans)
    own = getattr(spans, "remote", None) or spans  # the view's DataSource: the source it reads
    if source.kind == "engine" and hasattr(own, "open_spans"):  # a source of its own kind
        with own.open_spans(required, optional) as reader:
            yield reader
    elif source.kind == "engine" and hasattr(spans, "query"):  # the view's DataSource
        yield _upgraded(
            SpanReader(lambda sql, params: spans.query(sql, params), SPANS.names),
            required,
            optional,
        )
    elif source.kind in ("frame", "parquet"):
        lazy = source.value if source.kind == "frame" else _parquet_engine(source.value, None).calls
        frame = _spans_frame(lazy, required, optional)
        con = connect(MEMORY)
        try:
            con.register("spans", frame.to_arrow())
            yield SpanReader(sql_runner(con), tuple(frame.columns))
        finally:
            con.close()
    elif source.kind == "connection":
        yield _upgraded(SpanReader(sql_runner(source.value), SPANS.names), required, optional)
    elif source.kind == "file":
        with open_store(source.value) as con:
            yield _upgraded(SpanReader(sql_runner(con), SPANS.names), required, optional)
    elif source.kind == "observer":
        reader = SpanReader(lambda sql, params: source.value.sql(sql, params), SPANS.names)
        yield _upgraded(reader, required, optional)
    else:
        raise TypeError(
            f"{type(spans).__name__} gives model calls only; this question reads every span: "
            "pass an observer, a store path, a DuckDB connection, a DataSource or a frame of "
            "spans (with where= for a filter)"
        )
