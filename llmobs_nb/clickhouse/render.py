"""Plans rendered as ClickHouse SQL: the DuckDB renderer with ClickHouse's dialect methods.

:class:`ClickHouseRenderer` subclasses :class:`~llmobs_nb.analytics.render_sql.SqlRenderer`
and overrides only its dialect: values are typed query parameters (``{p0:String}``: the
server parses them, nothing is spliced into the text), time buckets are integer division of
epoch microseconds, quantiles are ``quantilesExactInclusive`` (numpy's linear interpolation,
like DuckDB's ``quantile_cont``), and ``sum``/``avg``/``min``/``max`` are their ``-OrNull``
forms (no values: NULL, as in DuckDB). The rest of the SQL — ``GROUP BY ALL``, ``FILTER
(WHERE …)``, ``QUALIFY``, ``AS MATERIALIZED``, ``::BIGINT`` — ClickHouse reads as DuckDB
does.

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

from llmobs_nb.analytics.plan import Agg, TimeBucket
from llmobs_nb.analytics.render_sql import SqlRenderer, quote

DATETIME = "DateTime64(6, 'UTC')"


def param_type(value: Any) -> str:
    """The ClickHouse type a parameter value is sent as.

    Example:
        >>> param_type("x"), param_type(3), param_type(0.5), param_type(True)
        ('String', 'Int64', 'Float64', 'Bool')
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
    raise TypeError(
        f"a filter value of type {type(value).__name__} ({value!r:.40}) cannot be a query "
        "parameter: pass text, a number, a bool or a datetime"
    )


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


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

    def agg(self, a: Agg, params: list[Any]) -> str:
        clauses = [self.condition(c, params) for c in a.rows_read()]
        only = f" FILTER (WHERE {' AND '.join(clauses)})" if clauses else ""
        if a.op == "count_all":
            return f"count(*){only}"
        if a.op == "count":
            return f"count({quote(a.column or '')}){only}"
        op = "avg" if a.op == "mean" else a.op
        return f"{op}OrNull({quote(a.column or '')}){only}"


def named_params(values: Sequence[Any]) -> dict[str, Any]:
    """The renderer's parameters by name (``p0``, ``p1``…), as a client sends them.

    Example:
        >>> named_params(["a", 2])
        {'p0': 'a', 'p1': 2}
    """
    return {f"p{i}": v for i, v in enumerate(values)}
