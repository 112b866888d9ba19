"""Plans rendered as ClickHouse SQL: the DuckDB renderer with ClickHouse's dialect methods.

:class:`ClickHouseRenderer` subclasses :class:`~llmobs_nb.analytics.render_sql.SqlRenderer`
and overrides only its dialect: values are typed query parameters (``{p0:String}``: the
server parses them, nothing is spliced into the text), time buckets are integer division of
epoch microseconds, quantiles are ``quantilesExactInclusive`` (numpy's linear interpolation,
like DuckDB's ``quantile_cont``), and ``sum``/``avg``/``min``/``max`` are their ``-OrNull``
forms (no values: NULL, as in DuckDB). For the questions over whole traces (sessions, agents,
the dashboard's trace lists: ``analytics.span_sql``), ``argMin``/``argMax``, ordered text
joins from sorted arrays, a list of trace ids as one ``Array(String)`` parameter, row
numbers in a given order (ClickHouse evaluates a ``WITH`` relation at each read), and for
the agents' walk up the parents (``analytics.ownership``) a span's key from ``cityHash64``
and ``arrayPushBack``/``has`` for the ancestors it has passed. The rest
of the SQL — ``GROUP BY ALL``, ``FILTER (WHERE …)``, ``QUALIFY``, ``AS MATERIALIZED``,
``::BIGINT`` — ClickHouse reads as DuckDB does.

:func:`param_type` names the ClickHouse type of a parameter value; :func:`param_text` writes it
in ClickHouse's parameter text format (what chdb sends; ``clickhouse-connect`` formats its own).

Example:
    >>> from llmobs_nb.analytics.plan import Condition, Rows
    >>> query = ClickHouseRenderer().render(Rows(("model",), (Condition("model", "==", "o'b"),)))
    >>> query.sql, query.params
    ('SELECT model FROM llm_calls WHERE model = {p0:String}', ["o'b"])
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from llmobs_nb.analytics.plan import TimeBucket
from llmobs_nb.analytics.render_sql import SqlRenderer, quote

DATETIME = "DateTime64(6, 'UTC')"


def param_type(value: Any) -> str:
    """The ClickHouse type a parameter value is sent as.

    Example:
        >>> param_type("x"), param_type(3), param_type(0.5), param_type(True), param_type(["a"])
        ('String', 'Int64', 'Float64', 'Bool', 'Array(String)')
    """
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, date):
        return "Date"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "Array(String)"
    raise TypeError(
        f"a filter value of type {type(value).__name__} ({value!r:.40}) cannot be a query "
        "parameter: pass text, a number, a bool or a datetime"
    )


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
_QUOTED = str.maketrans({**{chr(k): v for k, v in _ESCAPES.items()}, "'": "\\'"})


def param_text(value: Any) -> str:
    """``value`` as ClickHouse reads a query parameter of :func:`param_type` (its *escaped*
    text format: backslashes and control characters escaped, quotes as they are).

    Example:
        >>> param_text("a\\\\b'c"), param_text(datetime(2026, 11, 1, tzinfo=UTC))
        ("a\\\\\\\\b'c", '2026-11-01 00:00:00.000000')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):  # an array literal of quoted, escaped strings
        return "[" + ",".join("'" + str(v).translate(_QUOTED) + "'" for v in value) + "]"
    return str(value).translate(_ESCAPES)


class ClickHouseRenderer(SqlRenderer):
    """Renders plans for ClickHouse (see the module's docstring); ``base`` as for DuckDB."""

    def param(self, value: Any, params: list[Any]) -> str:
        """``{pN:Type}``: a typed, named parameter (its value appended to ``params``)."""
        name = f"p{len(params)}"
        params.append(value)
        return f"{{{name}:{param_type(value)}}}"

    def bucket(self, key: TimeBucket) -> str:
        every = int(key.every_us)
        return f"intDiv(toUnixTimestamp64Micro({quote(key.column)}), {every}) * {every}"

    def quantiles(self, column: str, qs: Sequence[float]) -> str:
        levels = ", ".join(repr(float(q)) for q in qs)
        return f"quantilesExactInclusive({levels})({quote(column)})"

    def nullable(self, function: str) -> str:
        return f"{function}OrNull"  # sum() of no rows is 0 in ClickHouse; sumOrNull is NULL

    # -- the questions over whole traces (analytics.span_sql) ---------------------------------
    def epoch_us(self, time: str) -> str:
        return f"toUnixTimestamp64Micro({time})"

    def arg_min(self, value: str, by: str) -> str:
        return f"argMin({value}, {by})"

    def arg_max(self, value: str, by: str) -> str:
        return f"argMax({value}, {by})"

    def joined(self, value: str, separator: str, order: Sequence[str], only: str) -> str:
        # The rows' (order…, value) tuples sorted: ORDER BY order, then the value among ties.
        picked = f"groupArrayIf(tuple({', '.join(order)}, {value}), {only})"
        texts = f"arrayMap(t -> tupleElement(t, {len(order) + 1}), arraySort({picked}))"
        return f"if(countIf({only}) = 0, NULL, arrayStringConcat({texts}, {separator}))"

    def joined_distinct(self, value: str, separator: str) -> str:
        texts = f"arraySort(groupUniqArray({value}))"
        return f"if(count({value}) = 0, NULL, arrayStringConcat({texts}, {separator}))"

    def among(self, column: str, values: Sequence[str], params: list[Any]) -> str:
        return f"{column} IN (SELECT arrayJoin({self.param(list(values), params)}))"

    def boolean(self, condition: str) -> str:
        return f"toBool({condition})"  # a condition is UInt8 in ClickHouse

    def numbered(self, order: Sequence[str]) -> str:
        return f"row_number() OVER (ORDER BY {', '.join(order)})"

    def span_key(self, trace_id: str, span_id: str) -> str:
        high = f"bitShiftLeft(toUInt128(cityHash64({trace_id})), 64)"
        return f"bitOr({high}, toUInt128(cityHash64({span_id})))"  # NULL span id: NULL

    def appended(self, array: str, value: str) -> str:
        return f"arrayPushBack({array}, {value})"

    def contains(self, array: str, value: str) -> str:
        return f"has({array}, {value})"


def named_params(values: Sequence[Any]) -> dict[str, Any]:
    """The renderer's parameters by name (``p0``, ``p1``…), as a client sends them.

    Example:
        >>> named_params(["a", 2])
        {'p0': 'a', 'p1': 2}
    """
    return {f"p{i}": v for i, v in enumerate(values)}
