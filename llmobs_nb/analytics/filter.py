"""Which calls to look at: one :class:`Filter` for the dashboard, analytics and evals.

A ``Filter`` is a time range and allowed values per dimension. It becomes plan conditions
(:meth:`Filter.conditions`), rendered by the same renderers as every other question: SQL with
``?`` parameters for DuckDB, a polars expression for frames. :func:`conditions_of` also reads
the older ``where=`` forms — a dict of column → value (a list means IN, None means IS NULL)
and lists of them — so every ``where=`` in the package means the same thing.

Example:
    >>> Filter(models=("gpt-4o",), users=("alice",)).where()
    ('model IN (?) AND user_id IN (?)', ['gpt-4o', 'alice'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from llmobs_nb.analytics.plan import Condition
from llmobs_nb.analytics.render_polars import where_expr
from llmobs_nb.analytics.render_sql import SqlRenderer

#: The dashboard's dimension filters: Filter field -> llm_calls column.
DIMENSIONS = {"models": "model", "use_cases": "use_case", "runs": "run", "users": "user_id"}
#: Every value filter of :class:`Filter`: the dashboard's, and the call's status.
VALUE_FILTERS = {**DIMENSIONS, "statuses": "status"}


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name}={value!r} is not a datetime: pass e.g. datetime(2025, 3, 3)")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Filter:
    """Which calls to look at: a time range [start, end) and allowed values per dimension.

    An empty tuple means "any value". Naive datetimes are read as UTC, as in the store. Pass
    one as ``where=`` to any analytics function or to ``evaluate``, or to the dashboard.

    Example:
        >>> from llmobs_nb import analytics
        >>> day = Filter(start=datetime(2025, 3, 3), end=datetime(2025, 3, 4), models=("gpt-4o",))
        >>> analytics.cost_breakdown(obs, where=day)  # doctest: +SKIP
    """

    start: datetime | None = None
    end: datetime | None = None
    models: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start={self.start} is not before end={self.end}: swap them")
        for name in VALUE_FILTERS:
            values = getattr(self, name)
            if isinstance(values, str):
                raise TypeError(f"{name}={values!r}: pass a tuple of values, e.g. ({values!r},)")
            object.__setattr__(self, name, tuple(values))

    def conditions(self) -> tuple[Condition, ...]:
        """The filter as plan conditions (none when it is empty).

        Example:
            >>> Filter(runs=("v2",)).conditions()
            (Condition(column='run', op='in', value=('v2',)),)
        """
        found: list[Condition] = []
        if self.start is not None:
            found.append(Condition("start_time", ">=", self.start))
        if self.end is not None:
            found.append(Condition("start_time", "<", self.end))
        for name, column in VALUE_FILTERS.items():
            values = getattr(self, name)
            if values:
                found.append(Condition(column, "in", values))
        return tuple(found)

    def where(self) -> tuple[str, list[Any]]:
        """The DuckDB condition over ``llm_calls`` columns and its parameters ('TRUE' if empty).

        Example:
            >>> Filter().where()
            ('TRUE', [])
        """
        params: list[Any] = []
        renderer = SqlRenderer()
        clauses = [renderer.condition(c, params) for c in self.conditions()]
        return (" AND ".join(clauses) or "TRUE"), params

    def expr(self) -> pl.Expr:
        """The filter as a polars expression over the ``llm_calls`` columns.

        Example:
            >>> pl.DataFrame({"status": ["ok", "error"]}).filter(Filter(statuses=("ok",)).expr())
            shape: (1, 1)
            ┌────────┐
            │ status │
            │ ---    │
            │ str    │
            ╞════════╡
            │ ok     │
            └────────┘
        """
        return where_expr(self.conditions())

    @property
    def empty(self) -> bool:
        """True when the filter lets every call through."""
        return self == Filter()


Where = Filter | Mapping[str, Any] | pl.Expr
WhereLike = Where | Sequence[Where] | None


def split_where(
    where: WhereLike, columns: Sequence[str] | None = None, table: str = "llm_calls"
) -> tuple[tuple[Condition, ...], list[pl.Expr]]:
    """``where=`` as conditions (pushed down) and polars expressions (applied after).

    ``where`` is a :class:`Filter`, a dict of column → value (a list means IN, None means IS
    NULL) or a polars expression, or a list of them. Dict columns are checked against
    ``columns`` (of ``table``) when given. Raw SQL text is refused: values are parameters.

    Example:
        >>> split_where({"model": ["a", "b"], "error_type": None})[0]
        ... # doctest: +NORMALIZE_WHITESPACE
        (Condition(column='model', op='in', value=('a', 'b')),
         Condition(column='error_type', op='is_null', value=None))
    """
    if where is None:
        return (), []
    items = [where] if isinstance(where, Filter | Mapping | pl.Expr) else where
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise TypeError(
            f"where= takes a Filter, a dict of column -> value and/or a polars expression, got "
            f"{where!r}; raw SQL is not accepted (values go in as parameters)"
        )
    conditions: list[Condition] = []
    exprs: list[pl.Expr] = []
    for item in items:
        if isinstance(item, Filter):
            conditions.extend(item.conditions())
        elif isinstance(item, Mapping):
            conditions.extend(_from_mapping(item, columns, table))
        elif isinstance(item, pl.Expr):
            exprs.append(item)
        else:
            raise TypeError(
                f"where= item {item!r} is neither a Filter, a dict of column -> value nor a "
                f"polars expression (e.g. {{'model': 'gpt-4o'}} or pl.col('latency_s') > 2)"
            )
    return tuple(conditions), exprs


def conditions_of(where: WhereLike, columns: Sequence[str] | None = None) -> tuple[Condition, ...]:
    """``where=`` of an analytics function as conditions; a polars expression is refused (it
    cannot run inside the store: filter the frame first).

    Example:
        >>> conditions_of(Filter(users=("u1",)))
        (Condition(column='user_id', op='in', value=('u1',)),)
    """
    conditions, exprs = split_where(where, columns)
    if exprs:
        raise TypeError(
            "analytics where= takes a Filter or a dict of column -> value; a polars expression "
            "cannot be pushed down to the store: filter the frame first (frame.filter(expr))"
        )
    return conditions


def _from_mapping(
    mapping: Mapping[str, Any], columns: Sequence[str] | None, table: str
) -> list[Condition]:
    found = []
    for column, value in mapping.items():
        if columns is not None and column not in columns:
            raise ValueError(
                f"where= names column {column!r}, which the {table} table does not have; "
                f"columns: {sorted(columns)}"
            )
        if value is None:
            found.append(Condition(column, "is_null"))
        elif isinstance(value, list | tuple | set | frozenset):
            if not value:
                raise ValueError(f"where= gives {column!r} an empty list of values")
            found.append(Condition(column, "in", tuple(value)))
        else:
            found.append(Condition(column, "==", value))
    return found
