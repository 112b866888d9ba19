"""Each analytics question described once, as data: what to read, group, count and keep.

A plan is a small frozen dataclass — :class:`Aggregate`, :class:`Rows` or :class:`Scored` —
built by an analytics function and handed to an engine, which renders it: polars expressions
for frames (``render_polars``), SQL with ``?`` parameters for DuckDB (``render_sql``). The rule
lives in the plan and its two renderings, so a frame and a store give the same answer, and
another SQL dialect is one more renderer. :func:`result_schema` fixes the columns and dtypes
of every aggregate, whichever engine ran it.

Example:
    >>> plan = Aggregate(keys=("model",), aggs=(Agg("calls", "count_all"),))
    >>> list(result_schema(plan))
    ['model', 'calls']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import polars as pl

from llmobs_nb.analytics.columns import BUCKET, column_type

Op = Literal["==", "in", ">=", "<", "<=", "is_null", "not_null"]
OPS: tuple[str, ...] = ("==", "in", ">=", "<", "<=", "is_null", "not_null")


@dataclass(frozen=True)
class Condition:
    """One test on one column: ``column op value`` (no value for ``is_null``/``not_null``).

    Example:
        >>> Condition("model", "in", ("gpt-4o",))
        Condition(column='model', op='in', value=('gpt-4o',))
    """

    column: str
    op: Op
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown filter operator {self.op!r}: use one of {OPS}")
        if self.op == "in":
            object.__setattr__(self, "value", tuple(self.value))


@dataclass(frozen=True)
class Agg:
    """One aggregate column: ``op`` of ``column`` (``q`` for quantiles), named ``output``.

    With ``where_null``, only rows where that column is NULL are aggregated (e.g. the tokens of
    unpriced calls); with ``where``, only rows that pass that condition (e.g. the errors among
    all calls): one scan answers both the whole and the part. ``sum`` of no values is NULL, not
    0 (SQL's rule, kept by both engines).

    Example:
        >>> Agg("p95", "quantile", "latency_s", q=0.95)
        Agg(output='p95', op='quantile', column='latency_s', q=0.95, where_null=None, where=None)
    """

    output: str
    op: Literal["count_all", "count", "sum", "mean", "min", "max", "quantile"]
    column: str | None = None
    q: float | None = None
    where_null: str | None = None
    where: Condition | None = None

    def rows_read(self) -> tuple[Condition, ...]:
        """The conditions a row must pass to be aggregated (none: every row).

        Example:
            >>> Agg("n", "count_all", where_null="cost_usd").rows_read()
            (Condition(column='cost_usd', op='is_null', value=None),)
        """
        null = (Condition(self.where_null, "is_null"),) if self.where_null else ()
        return null + ((self.where,) if self.where is not None else ())


@dataclass(frozen=True)
class TimeBucket:
    """A group key: the start of the ``every_us`` bucket of ``column`` (epoch-aligned, UTC).

    Example:
        >>> TimeBucket(every_to_us("1h")).every_us
        3600000000
    """

    every_us: int
    column: str = "start_time"
    name: str = BUCKET


@dataclass(frozen=True)
class ValueBin:
    """A group key: the index of the bin of ``column`` among ``count`` bins of ``width`` from
    ``lo`` (values outside go to the first or last bin).

    Example:
        >>> ValueBin("value", 0.0, 0.1, 10)
        ValueBin(column='value', lo=0.0, width=0.1, count=10, name='i')
    """

    column: str
    lo: float
    width: float
    count: int
    name: str = "i"


Key = str | TimeBucket | ValueBin


@dataclass(frozen=True)
class Scored:
    """Scores attached to their call, one row per non-NULL score: the call's ``keys``, then
    ``score_name``, ``value`` and ``time`` (the call's ``start_time``).

    The score → call rule, stated once. A score belongs to one call, whatever the filter: the
    LLM call whose ``span_id`` it names, else (no ``span_id``, or a span that is not an LLM
    call: an agent or pipeline span) its trace's first call — kind ``llm`` first, then the
    earliest start. ``where`` (and an engine's filter) then keeps the scores whose call passes:
    a score on a call the filter leaves out counts for nothing, never for another call of its
    trace. A score whose trace has no call is left out.

    Example:
        >>> Scored(keys=("model",), score_name="quality")
        Scored(keys=('model',), score_name='quality', where=())
    """

    keys: tuple[str, ...] = ()
    score_name: str | None = None
    where: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    """Group the calls (or, with ``over``, the scored rows) by ``keys`` and compute ``aggs``.

    ``where`` keeps the input rows that pass every condition; ``above=(column, value)`` keeps
    the groups whose ``column`` is greater than ``value`` (a HAVING: only those groups leave
    the engine); ``top=(column, n)`` then keeps the ``n`` groups with the largest non-NULL
    ``column``. Groups without rows are not returned.

    Example:
        >>> Aggregate(keys=(TimeBucket(every_to_us("1d")),), aggs=(Agg("n", "count_all"),)).top
    """

    keys: tuple[Key, ...]
    aggs: tuple[Agg, ...]
    where: tuple[Condition, ...] = ()
    top: tuple[str, int] | None = None
    over: Scored | None = None
    above: tuple[str, float] | None = None


@dataclass(frozen=True)
class Rows:
    """Rows of ``table`` that pass ``where``: ``columns`` (None: all), sorted by ``order_by``.

    Example:
        >>> Rows(("run", "latency_s"), (Condition("run", "in", ("a", "b")),)).table
        'llm_calls'
    """

    columns: tuple[str, ...] | None
    where: tuple[Condition, ...] = ()
    table: str = "llm_calls"
    order_by: tuple[str, ...] = ()


Plan = Aggregate | Rows | Scored


def key_name(key: Key) -> str:
    """The output column of a group key.

    Example:
        >>> key_name(TimeBucket(60_000_000)), key_name("model")
        ('bucket', 'model')
    """
    return key if isinstance(key, str) else key.name


def grouping(
    by: Sequence[str], every_us: int | None, column: str = "start_time"
) -> tuple[Key, ...]:
    """The keys of a grouping by columns ``by`` and, with ``every_us``, a time bucket.

    Example:
        >>> [key_name(k) for k in grouping(["model"], 3_600_000_000)]
        ['model', 'bucket']
    """
    bucket = (TimeBucket(every_us, column),) if every_us is not None else ()
    return (*by, *bucket)


def extent_plan(where: tuple[Condition, ...] = ()) -> Aggregate:
    """The time extent question: first and last ``start_time`` (``lo``, ``hi``) and ``n``.

    Example:
        >>> [a.output for a in extent_plan().aggs]
        ['lo', 'hi', 'n']
    """
    aggs = (Agg("lo", "min", "start_time"), Agg("hi", "max", "start_time"), Agg("n", "count_all"))
    return Aggregate((), aggs, where)


def result_schema(plan: Aggregate) -> pl.Schema:
    """Columns and dtypes of ``plan``'s answer: the keys, then one column per aggregate.

    Example:
        >>> result_schema(Aggregate(("model",), (Agg("n", "count", "latency_s"),)))
        Schema([('model', String), ('n', Int64)])
    """
    schema: dict[str, pl.DataType] = {}
    for key in plan.keys:
        if isinstance(key, TimeBucket):
            schema[key.name] = pl.Datetime("us", "UTC")
        elif isinstance(key, ValueBin):
            schema[key.name] = pl.Int64()
        else:
            schema[key] = column_type(key, pl.String())
    for a in plan.aggs:
        typed = column_type(a.column or "", pl.Float64())
        if a.op in ("count_all", "count"):
            schema[a.output] = pl.Int64()
        elif a.op in ("min", "max"):
            schema[a.output] = typed
        elif a.op == "sum" and typed == pl.Int64():
            schema[a.output] = pl.Int64()
        else:
            schema[a.output] = pl.Float64()
    return pl.Schema(schema)


ROWS = "__rows"


def finish(frame: pl.DataFrame, plan: Aggregate) -> pl.DataFrame:
    """Every engine's last step: drop empty groups (``__rows`` = 0), fix column order and types.

    Example:
        >>> plan = Aggregate((), (Agg("n", "count_all"),))
        >>> finish(pl.DataFrame({"n": [0], "__rows": [0]}), plan).height
        0
    """
    frame = frame.filter(pl.col(ROWS) > 0)
    return frame.select([pl.col(n).cast(t) for n, t in result_schema(plan).items()])


def every_to_us(every: str | timedelta | None) -> int | None:
    """Length of a time bucket in microseconds, from e.g. ``"15m"``, ``"1h"`` or a timedelta.

    Example:
        >>> every_to_us("1h30m")
        5400000000
    """
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
