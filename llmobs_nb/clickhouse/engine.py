"""The engine that runs plans in ClickHouse: the same polars answer as ``SqlEngine``'s.

:class:`ClickHouseEngine` renders a plan with
:class:`~llmobs_nb.clickhouse.render.ClickHouseRenderer` and sends it, under the ``WITH``
definitions of ``spans``, ``llm_calls`` and ``scores``
(:func:`~llmobs_nb.clickhouse.mapping.relations`), to a runner (chdb in-process or a server
through ``clickhouse-connect``: :mod:`~llmobs_nb.clickhouse.connect`). Only the answer travels
back, as Arrow; ``plan.finish`` gives it the columns and dtypes every engine returns. With
``rollups``, an aggregate the rollup view answers exactly is read from it
(:mod:`~llmobs_nb.clickhouse.rollup_reader`), every other plan from the calls.

Example:
    >>> from llmobs_nb.analytics.plan import Agg, Aggregate
    >>> engine = ClickHouseEngine(lambda sql, params: pl.DataFrame({"n": [3], "__rows": [3]}),
    ...                           relations={"llm_calls": "SELECT 1"})
    >>> engine.run(Aggregate((), (Agg("n", "count_all"),)))["n"].to_list()
    [3]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from llmobs_nb.analytics.engines import FrameEngine
from llmobs_nb.analytics.plan import Aggregate, Condition, Plan, Rows, Scored
from llmobs_nb.clickhouse import rollup_reader
from llmobs_nb.clickhouse.render import ClickHouseRenderer, named_params
from llmobs_nb.clickhouse.rollup_reader import TIERED
from llmobs_nb.store.schema import LLM_CALLS

Runner = Callable[[str, dict[str, Any]], pl.DataFrame]
"""``(sql, named parameters) -> polars``: one read-only query (see ``connect``)."""


def with_relations(sql: str, relations: Mapping[str, str]) -> str:
    """``sql`` under ``WITH`` definitions of ``relations`` (name → SELECT): the query runs as
    a subquery, so its own ``WITH`` clause stays its own.

    Example:
        >>> with_relations("SELECT 1", {"t": "SELECT 2"})
        'WITH t AS (SELECT 2) SELECT * FROM (SELECT 1)'
    """
    if not relations:
        return sql
    defined = ", ".join(f"{name} AS ({select})" for name, select in relations.items())
    return f"WITH {defined} SELECT * FROM ({sql})"


def _scored_plan(plan: Plan) -> Scored | None:
    if isinstance(plan, Scored):
        return plan
    return plan.over if isinstance(plan, Aggregate) else None


def _nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    # ClickHouse's exact quantiles of no values are NaN; DuckDB's are NULL.
    lists = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.List) and dtype.inner.is_float()
    ]
    return frame.with_columns(pl.col(c).list.eval(pl.element().fill_nan(None)) for c in lists)


class ClickHouseEngine:
    """Pushes plans down to ClickHouse; ``columns``, ``has_scores``, :meth:`run` and
    :meth:`narrowed` as ``analytics.engines.SqlEngine``'s.

    ``run`` sends one query; ``relations`` (name → SELECT) are defined in front of it;
    ``scores`` (a frame given by hand) are matched to the calls in polars, as ``SqlEngine``
    does."""

    def __init__(
        self,
        run: Runner,
        base: Sequence[Condition] = (),
        scores: pl.LazyFrame | None = None,
        relations: Mapping[str, str] | None = None,
        *,
        rollups: bool = False,
    ) -> None:
        self._run = run
        self.base = tuple(base)
        self.scores_frame = scores
        self.relations = dict(relations or {})
        self.renderer = ClickHouseRenderer(self.base)
        self.columns = list(LLM_CALLS.names)
        #: Whether the relations hold the rollup rows (``rollup_reader.RELATION``) to answer
        #: counts and sums from; :attr:`from_rollups` says whether the last answer came
        #: from them.
        self.rollups = rollups
        self.from_rollups = False

    has_scores = True
    rel_error = 0.0  # the rollups' answers are exact too (no sketches)

    def narrowed(self, conditions: Sequence[Condition]) -> ClickHouseEngine:
        """This engine with ``conditions`` added to every plan's calls."""
        if not conditions:
            return self
        base = (*self.base, *conditions)
        return ClickHouseEngine(
            self._run, base, self.scores_frame, self.relations, rollups=self.rollups
        )

    def sql(self, plan: Plan) -> tuple[str, dict[str, Any]]:
        """The statement and named parameters :meth:`run` sends for ``plan``.

        Example:
            >>> engine = ClickHouseEngine(lambda s, p: pl.DataFrame())
            >>> engine.sql(Rows(("model",), (Condition("model", "==", "x"),)))
            ('SELECT model FROM llm_calls WHERE model = {p0:String}', {'p0': 'x'})
        """
        query = self.renderer.render(plan)
        return with_relations(query.sql, self.relations), named_params(query.params)

    def _from_rollups(self, plan: Plan) -> pl.DataFrame | None:
        # The rollup rows' answer, or None when they cannot give it exactly.
        if not self.rollups or not isinstance(plan, Aggregate) or self.scores_frame is not None:
            return None
        query = rollup_reader.render(plan, self.base, self.renderer)
        if query is None:
            return None
        found = self._run(with_relations(query.sql, self.relations), named_params(query.params))
        if found.height and rollup_reader.TIERED in found.columns and found[TIERED][0]:
            return None  # a call at or above a tiered price's threshold: only the calls know
        return query.finish(found)

    def run(self, plan: Plan) -> pl.DataFrame:
        answer = self._from_rollups(plan)
        self.from_rollups = answer is not None
        if answer is not None:
            return answer
        scored = _scored_plan(plan)
        if scored is not None and self.scores_frame is not None:
            conditions = (*self.base, *scored.where)
            needed = ("trace_id", "span_id", "kind", "start_time", *scored.keys)
            needed += tuple(c.column for c in conditions)
            unfiltered = ClickHouseEngine(self._run, (), None, self.relations)
            calls = unfiltered.run(Rows(tuple(dict.fromkeys(needed)))).lazy()
            local = replace(scored, where=())
            plan = local if isinstance(plan, Scored) else replace(plan, over=local)
            return FrameEngine(calls, self.scores_frame, conditions).run(plan)
        query = self.renderer.render(plan)
        found = self._run(with_relations(query.sql, self.relations), named_params(query.params))
        return query.finish(_nan_to_null(found))
