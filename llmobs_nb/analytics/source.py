"""Where calls come from, and the few query shapes analytics asks of them.

Every analytics function accepts the same inputs: a polars DataFrame or LazyFrame with the
``llm_calls`` columns, an observer (anything with ``.calls()``, ``.scores()`` and ``.sql()``), a
DuckDB file path (opened read-only for each query), an open DuckDB connection to a store, or
Parquet files (a path ending in ``.parquet``, a glob, or a directory written
by ``export.parquet``). :func:`open_source` turns any of them into an engine with three
operations — :meth:`aggregate`, :meth:`rows` and :meth:`scored` — so each analytics function is
written once. A frame engine runs them in polars; a store engine pushes them down as DuckDB SQL,
because pulling ten million rows into polars costs more than the whole question (docs/design.md).
Both engines return the same columns and dtypes, so the answer does not depend on the engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import polars as pl

from llmobs_nb.store.connect import connect

LLM_CALLS_COLUMNS: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "span_id": pl.String(),
    "parent_span_id": pl.String(),
    "name": pl.String(),
    "kind": pl.String(),
    "start_time": pl.Datetime("us", "UTC"),
    "end_time": pl.Datetime("us", "UTC"),
    "latency_s": pl.Float64(),
    "ttft_s": pl.Float64(),
    "provider": pl.String(),
    "model": pl.String(),
    "operation": pl.String(),
    "use_case": pl.String(),
    "user_id": pl.String(),
    "run": pl.String(),
    "response_model": pl.String(),
    "status": pl.String(),
    "error_type": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cached_input_tokens": pl.Int64(),
    "reasoning_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
}
SCORE_COLUMNS = ("trace_id", "span_id", "name", "value")
BUCKET = "bucket"


class Observer(Protocol):
    """What analytics needs of an observer: its frames and a SQL entry point to its store."""

    def calls(self) -> pl.DataFrame: ...
    def scores(self) -> pl.DataFrame: ...
    def sql(self, query: str, params: Any = None) -> pl.DataFrame: ...


CallsLike = pl.DataFrame | pl.LazyFrame | str | os.PathLike | Observer | duckdb.DuckDBPyConnection
ScoresLike = pl.DataFrame | pl.LazyFrame | None


@dataclass(frozen=True)
class Agg:
    """One aggregate column: ``op`` of ``column`` (``q`` for quantiles), named ``output``.

    With ``where_null``, only rows where that column is NULL are aggregated (e.g. the tokens of
    unpriced calls), so one scan answers both the whole and the part.
    """

    output: str
    op: Literal["count_all", "count", "sum", "mean", "min", "max", "quantile"]
    column: str | None = None
    q: float | None = None
    where_null: str | None = None


# (column, op, value); op one of ==, in, >=, <, <=, not_null, is_null
Filter = tuple[str, str, Any]


def every_to_us(every: str | timedelta | None) -> int | None:
    """Length of a time bucket in microseconds, from e.g. ``"15m"``, ``"1h"`` or a timedelta."""
    if every is None:
        return None
    if isinstance(every, timedelta):
        us = every // timedelta(microseconds=1)
    else:
        units = {"us": 1, "ms": 1_000, "s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6}
        units |= {"d": 86_400 * 10**6, "w": 7 * 86_400 * 10**6}
        parts = re.findall(r"(\d+)(us|ms|s|m|h|d|w)", every)
        if not parts or "".join(n + u for n, u in parts) != every.strip():
            raise ValueError(
                f"every={every!r} is not a fixed duration: use e.g. '30s', '15m', '1h', '1d', '1w'"
            )
        us = sum(int(n) * units[u] for n, u in parts)
    if us <= 0:
        raise ValueError(f"every={every!r} must be a positive duration")
    return us


def check_columns(available: Sequence[str], needed: Sequence[str], what: str) -> None:
    """Raise a ValueError naming the first needed column the input does not have."""
    for column in needed:
        if column not in available:
            raise ValueError(
                f"{what} needs column {column!r}, which the input does not have "
                f"(it has {sorted(available)}); pass a frame with the llm_calls columns "
                "(see docs/design.md)"
            )


class Engine(Protocol):
    columns: list[str]
    has_scores: bool

    def aggregate(
        self,
        keys: Sequence[str],
        every_us: int | None,
        aggs: Sequence[Agg],
        filters: Sequence[Filter] = (),
        top: tuple[str, int] | None = None,
    ) -> pl.DataFrame: ...

    def rows(self, columns: Sequence[str], filters: Sequence[Filter] = ()) -> pl.DataFrame: ...

    def scored(
        self, keys: Sequence[str], score_name: str | None, filters: Sequence[Filter] = ()
    ) -> pl.DataFrame: ...


def _result_schema(keys: Sequence[str], every_us: int | None, aggs: Sequence[Agg]) -> pl.Schema:
    schema: dict[str, pl.DataType] = {k: LLM_CALLS_COLUMNS.get(k, pl.String()) for k in keys}
    if every_us is not None:
        schema[BUCKET] = pl.Datetime("us", "UTC")
    for a in aggs:
        if a.op in ("count_all", "count"):
            schema[a.output] = pl.Int64()
        elif a.op in ("min", "max"):
            schema[a.output] = LLM_CALLS_COLUMNS.get(a.column or "", pl.Float64())
        elif a.op == "sum" and LLM_CALLS_COLUMNS.get(a.column or "") == pl.Int64():
            schema[a.output] = pl.Int64()
        else:
            schema[a.output] = pl.Float64()
    return pl.Schema(schema)


def _finish(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    # Both engines end here: same column order and dtypes, no rows for groups that had none.
    frame = frame.filter(pl.col("__rows") > 0)
    return frame.select([pl.col(n).cast(t) for n, t in schema.items()])


# ---- polars -------------------------------------------------------------------------------


def _polars_filter(f: Filter) -> pl.Expr:
    column, op, value = f
    col = pl.col(column)
    if op == "==":
        return col == value
    if op == "in":
        return col.is_in(list(value))
    if op == ">=":
        return col >= value
    if op == "<":
        return col < value
    if op == "<=":
        return col <= value
    if op == "not_null":
        return col.is_not_null()
    if op == "is_null":
        return col.is_null()
    raise ValueError(f"unknown filter operator {op!r}")


def _polars_agg(a: Agg) -> pl.Expr:
    col = pl.col(a.column) if a.column else pl.lit(1)
    if a.where_null:
        col = col.filter(pl.col(a.where_null).is_null())
    if a.op == "count_all":
        expr = pl.len()
    elif a.op == "count":
        expr = col.count()
    elif a.op == "sum":
        # SQL semantics: the sum of no values is NULL, not 0 (an unpriced model costs NULL).
        expr = pl.when(col.count() > 0).then(col.sum())
    elif a.op == "mean":
        expr = col.mean()
    elif a.op == "min":
        expr = col.min()
    elif a.op == "max":
        expr = col.max()
    else:
        # Same answer (quantile skips NULLs), but dropping them first halves the time when many
        # rows are NULL (ttft_s of unstreamed calls).
        expr = col.drop_nulls().quantile(a.q, interpolation="linear")
    return expr.alias(a.output)


def _bucket_expr(every_us: int) -> pl.Expr:
    # Integer arithmetic on epoch microseconds, as in SQL, so both engines cut at the same instants.
    start = pl.col("start_time").dt.epoch("us")
    return pl.from_epoch(start // every_us * every_us, "us").dt.replace_time_zone("UTC")


class FrameEngine:
    """Runs the query shapes in polars over a (lazy) frame of calls and one of scores."""

    def __init__(self, calls: pl.LazyFrame, scores: pl.LazyFrame | None = None) -> None:
        self.columns = calls.collect_schema().names()
        if "start_time" in self.columns:
            dtype = calls.collect_schema()["start_time"]
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
                calls = calls.with_columns(pl.col("start_time").dt.replace_time_zone("UTC"))
            elif isinstance(dtype, pl.Datetime) and dtype.time_zone != "UTC":
                calls = calls.with_columns(pl.col("start_time").dt.convert_time_zone("UTC"))
        self.calls = calls
        self.scores_frame = scores

    @property
    def has_scores(self) -> bool:
        return self.scores_frame is not None

    def _filtered(self, filters: Sequence[Filter]) -> pl.LazyFrame:
        lf = self.calls
        for f in filters:
            lf = lf.filter(_polars_filter(f))
        return lf

    def aggregate(
        self,
        keys: Sequence[str],
        every_us: int | None,
        aggs: Sequence[Agg],
        filters: Sequence[Filter] = (),
        top: tuple[str, int] | None = None,
    ) -> pl.DataFrame:
        lf = self._filtered(filters)
        group = [pl.col(k) for k in keys]
        if every_us is not None:
            group.append(_bucket_expr(every_us).alias(BUCKET))
        exprs = [_polars_agg(a) for a in aggs] + [pl.len().alias("__rows")]
        out = lf.group_by(group).agg(exprs) if group else lf.select(exprs)
        if top is not None:
            out = out.filter(pl.col(top[0]).is_not_null()).top_k(top[1], by=top[0])
        return _finish(out.collect(), _result_schema(keys, every_us, aggs))

    def rows(self, columns: Sequence[str], filters: Sequence[Filter] = ()) -> pl.DataFrame:
        return self._filtered(filters).select(columns).collect()

    def scored(
        self, keys: Sequence[str], score_name: str | None, filters: Sequence[Filter] = ()
    ) -> pl.DataFrame:
        if self.scores_frame is None:
            raise ValueError(
                "no scores: pass scores= (the scores table as a polars frame, e.g. obs.scores())"
            )
        scores = self.scores_frame
        check_columns(scores.collect_schema().names(), SCORE_COLUMNS, "scores")
        # Casts: a hand-built frame may type an all-NULL span_id column as Null.
        scores = scores.select(
            pl.col("trace_id").cast(pl.String),
            pl.col("span_id").cast(pl.String),
            pl.col("name").cast(pl.String).alias("score_name"),
            pl.col("value").cast(pl.Float64),
        ).filter(pl.col("value").is_not_null())
        if score_name is not None:
            scores = scores.filter(pl.col("score_name") == score_name)
        scores = scores.with_row_index("__score")
        needed = list(dict.fromkeys(["trace_id", "span_id", "kind", "start_time", *keys]))
        calls = self._filtered(filters).select(needed)
        by_span = (
            scores.filter(pl.col("span_id").is_not_null())
            .join(calls.drop("trace_id"), on="span_id", how="inner")
            .collect()
        )
        rest = scores.join(by_span.lazy().select("__score"), on="__score", how="anti").collect()
        parts = [by_span.drop("span_id", "trace_id")]
        if rest.height:
            # A score on a span that is not an LLM call (or on a trace) is attributed to the
            # trace's first generation call: prefer kind 'llm', then the earliest start.
            representative = (
                calls.join(rest.lazy().select("trace_id").unique(), on="trace_id", how="semi")
                .sort([pl.col("kind") != "llm", "start_time"])
                .unique("trace_id", keep="first", maintain_order=False)
                .drop("span_id")
            )
            by_trace = rest.lazy().drop("span_id").join(representative, on="trace_id")
            parts.append(by_trace.drop("trace_id").collect())
        both = pl.concat(parts, how="diagonal_relaxed").lazy()
        out = both.select(
            *[pl.col(k) for k in keys],
            "score_name",
            pl.col("value").cast(pl.Float64),
            pl.col("start_time").alias("time"),
        )
        return out.collect()


# ---- DuckDB -------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_filters(filters: Sequence[Filter], alias: str = "") -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, op, value in filters:
        col = alias + _q(column)
        if op == "==":
            clauses.append(f"{col} = ?")
            params.append(value)
        elif op == "in":
            values = list(value)
            clauses.append(f"{col} IN ({', '.join('?' * len(values))})" if values else "FALSE")
            params.extend(values)
        elif op in (">=", "<", "<="):
            clauses.append(f"{col} {op} ?")
            params.append(value)
        elif op == "not_null":
            clauses.append(f"{col} IS NOT NULL")
        elif op == "is_null":
            clauses.append(f"{col} IS NULL")
        else:
            raise ValueError(f"unknown filter operator {op!r}")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class SqlEngine:
    """Pushes the query shapes down to DuckDB: the store computes, polars gets the small result."""

    has_scores = True

    def __init__(self, run: Callable[[str, list[Any]], pl.DataFrame]) -> None:
        self._run = run
        self.columns = run("SELECT * FROM llm_calls LIMIT 0", []).columns

    def aggregate(
        self,
        keys: Sequence[str],
        every_us: int | None,
        aggs: Sequence[Agg],
        filters: Sequence[Filter] = (),
        top: tuple[str, int] | None = None,
    ) -> pl.DataFrame:
        select = [_q(k) for k in keys]
        if every_us is not None:
            select.append(f"(epoch_us(start_time) // {every_us}) * {every_us} AS {BUCKET}")
        # Quantiles of one column are asked in one call: DuckDB then sorts the group once.
        quantiles: dict[str, list[Agg]] = {}
        for a in aggs:
            col = _q(a.column) if a.column else "*"
            only = f" FILTER (WHERE {_q(a.where_null)} IS NULL)" if a.where_null else ""
            if a.op == "count_all":
                select.append(f"count(*){only} AS {_q(a.output)}")
            elif a.op == "quantile":
                quantiles.setdefault(a.column or "", []).append(a)
            else:
                select.append(f"{a.op}({col}){only} AS {_q(a.output)}")
        lists = []
        for i, (column, qs) in enumerate(quantiles.items()):
            q_list = ", ".join(repr(float(a.q or 0)) for a in qs)
            select.append(f"quantile_cont({_q(column)}, [{q_list}]) AS __q{i}")
            lists.append((f"__q{i}", qs))
        select.append("count(*) AS __rows")
        where, params = _sql_filters(filters)
        group = " GROUP BY ALL" if keys or every_us is not None else ""
        sql = f"SELECT {', '.join(select)} FROM llm_calls{where}{group}"
        if top is not None:
            column, n = _q(top[0]), int(top[1])
            sql = (
                f"SELECT * FROM ({sql}) WHERE {column} IS NOT NULL ORDER BY {column} DESC LIMIT {n}"
            )
        out = self._run(sql, params)
        if every_us is not None:
            out = out.with_columns(
                pl.from_epoch(BUCKET, "us").dt.replace_time_zone("UTC").alias(BUCKET)
            )
        out = out.with_columns(
            pl.col(name).list.get(j).alias(a.output) for name, qs in lists for j, a in enumerate(qs)
        )
        return _finish(out, _result_schema(keys, every_us, aggs))

    def rows(self, columns: Sequence[str], filters: Sequence[Filter] = ()) -> pl.DataFrame:
        where, params = _sql_filters(filters)
        out = self._run(f"SELECT {', '.join(map(_q, columns))} FROM llm_calls{where}", params)
        return out.with_columns(
            pl.col(c).cast(LLM_CALLS_COLUMNS[c]) for c in columns if c in LLM_CALLS_COLUMNS
        )

    def scored(
        self, keys: Sequence[str], score_name: str | None, filters: Sequence[Filter] = ()
    ) -> pl.DataFrame:
        dims = list(keys)
        where, params = _sql_filters(filters)
        score_where = "value IS NOT NULL" + (" AND name = ?" if score_name is not None else "")
        score_params = [score_name] if score_name is not None else []
        call_cols = ", ".join(map(_q, ["trace_id", "span_id", "kind", "start_time", *dims]))
        picked = ", ".join(f"coalesce(c.{_q(d)}, r.{_q(d)}) AS {_q(d)}" for d in dims)
        sql = f"""
            WITH s AS (SELECT trace_id, span_id, name, value FROM scores WHERE {score_where}),
            c AS (SELECT {call_cols} FROM llm_calls{where}),
            r AS (
                -- only traces with a score that no LLM call's span_id matches
                SELECT * FROM c WHERE trace_id IN (
                    SELECT trace_id FROM s ANTI JOIN c USING (span_id))
                QUALIFY row_number() OVER (
                    PARTITION BY trace_id ORDER BY (kind <> 'llm'), start_time) = 1
            )
            SELECT {picked + "," if picked else ""} s.name AS score_name,
                   CAST(s.value AS DOUBLE) AS value,
                   CASE WHEN c.span_id IS NOT NULL THEN c.start_time ELSE r.start_time END
                       AS time
            FROM s
            LEFT JOIN c ON s.span_id = c.span_id
            LEFT JOIN r ON c.span_id IS NULL AND s.trace_id = r.trace_id
            WHERE c.span_id IS NOT NULL OR r.trace_id IS NOT NULL
        """
        out = self._run(sql, score_params + params)
        return out.with_columns(pl.col("time").dt.convert_time_zone("UTC")).with_columns(
            pl.col(d).cast(LLM_CALLS_COLUMNS.get(d, pl.String())) for d in dims
        )


# ---- choosing an engine --------------------------------------------------------------------


def _parquet_scan(path: str) -> pl.LazyFrame:
    return pl.scan_parquet(path, hive_partitioning=True, missing_columns="insert")


def _parquet_engine(path: Path) -> FrameEngine:
    if path.is_dir():
        if (path / "llm_calls").is_dir():
            scores = path / "scores"
            return FrameEngine(
                _parquet_scan(str(path / "llm_calls" / "**" / "*.parquet")),
                _parquet_scan(str(scores / "**" / "*.parquet")) if scores.is_dir() else None,
            )
        return FrameEngine(_parquet_scan(str(path / "**" / "*.parquet")))
    return FrameEngine(_parquet_scan(str(path)))


@contextmanager
def open_source(calls: CallsLike, scores: ScoresLike = None) -> Iterator[Engine]:
    """The engine for ``calls`` (and optional ``scores``), open for the duration of a query.

    Example:
        >>> with open_source(pl.DataFrame({"latency_s": [1.0]})) as engine:
        ...     engine.columns
        ['latency_s']
    """
    if isinstance(calls, pl.DataFrame):
        yield FrameEngine(calls.lazy(), _lazy(scores))
    elif isinstance(calls, pl.LazyFrame):
        yield FrameEngine(calls, _lazy(scores))
    elif isinstance(calls, duckdb.DuckDBPyConnection):
        # A connection the caller keeps open: no file to open per query.
        yield _store_engine(lambda sql, params: _duckdb_frame(calls, sql, params), scores)
    elif isinstance(calls, (str, os.PathLike)):
        path = Path(calls)
        text = str(calls)
        if text.endswith(".parquet") or "*" in text or path.is_dir():
            engine = _parquet_engine(path)
            if scores is not None:
                engine.scores_frame = _lazy(scores)
            yield engine
            return
        if not path.exists():
            raise FileNotFoundError(
                f"no DuckDB file or Parquet files at {text!r}: pass an existing store path, "
                "a Parquet glob, or a polars frame"
            )
        try:
            # The package's one connect: UTC, no access outside the store, no extensions.
            con = connect(str(path.resolve()), read_only=True)
        except duckdb.Error as exc:
            raise RuntimeError(
                f"cannot open {text!r} read-only ({exc}); if this kernel already has it open "
                "with llmobs_nb.init, pass that observer instead of the path"
            ) from exc
        try:
            yield _store_engine(lambda sql, params: _duckdb_frame(con, sql, params), scores)
        finally:
            con.close()
    elif hasattr(calls, "sql") and hasattr(calls, "calls"):
        yield _store_engine(lambda sql, params: calls.sql(sql, params), scores)
    else:
        raise TypeError(
            f"calls must be a polars DataFrame/LazyFrame, an observer, a DuckDB path or a Parquet "
            f"glob, not {type(calls).__name__}"
        )


def _store_engine(run: Callable[[str, list[Any]], pl.DataFrame], scores: ScoresLike) -> Engine:
    engine = SqlEngine(run)
    if scores is None:
        return engine
    # Scores given by hand are joined in polars, against only the call columns they need.
    return _ExplicitScores(engine, _lazy(scores))


class _ExplicitScores:
    has_scores = True

    def __init__(self, engine: SqlEngine, scores: pl.LazyFrame | None) -> None:
        self.engine, self.scores_frame, self.columns = engine, scores, engine.columns
        self.aggregate, self.rows = engine.aggregate, engine.rows

    def scored(
        self, keys: Sequence[str], score_name: str | None, filters: Sequence[Filter] = ()
    ) -> pl.DataFrame:
        needed = list(dict.fromkeys(["trace_id", "span_id", "kind", "start_time", *keys]))
        calls = self.engine.rows(needed, filters).lazy()
        return FrameEngine(calls, self.scores_frame).scored(keys, score_name)


def _lazy(frame: ScoresLike) -> pl.LazyFrame | None:
    if frame is None:
        return None
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _duckdb_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()
