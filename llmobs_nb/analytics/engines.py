"""The two engines that run plans: polars over frames, DuckDB over a store.

Both have ``columns`` (of the calls), ``has_scores``, :meth:`run` (a plan in, a polars frame
out, same columns and dtypes on both) and :meth:`narrowed` (the same engine with conditions
every plan's calls must pass: the dashboard's filter, an analytics ``where=``).

Example:
    >>> engine = FrameEngine(pl.LazyFrame({"model": ["a", "b"]}))
    >>> engine.run(Rows(("model",), (Condition("model", "==", "b"),)))["model"].to_list()
    ['b']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any, Protocol

import polars as pl

from llmobs_nb.analytics import render_polars
from llmobs_nb.analytics.plan import Aggregate, Condition, Plan, Rows, Scored
from llmobs_nb.analytics.render_sql import SqlRenderer

SqlRunner = Callable[[str, list[Any]], pl.DataFrame]


class Engine(Protocol):
    """What every engine offers analytics."""

    @property
    def columns(self) -> list[str]: ...
    @property
    def has_scores(self) -> bool: ...
    def run(self, plan: Plan) -> pl.DataFrame: ...
    def narrowed(self, conditions: Sequence[Condition]) -> Engine: ...


def _utc(calls: pl.LazyFrame) -> pl.LazyFrame:
    dtype = calls.collect_schema().get("start_time")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return calls.with_columns(pl.col("start_time").dt.replace_time_zone("UTC"))
    if isinstance(dtype, pl.Datetime) and dtype.time_zone != "UTC":
        return calls.with_columns(pl.col("start_time").dt.convert_time_zone("UTC"))
    return calls


def _scored_plan(plan: Plan) -> Scored | None:
    if isinstance(plan, Scored):
        return plan
    return plan.over if isinstance(plan, Aggregate) else None


def _no_scores() -> ValueError:
    return ValueError(
        "no scores: pass scores= (the scores table as a polars frame, e.g. obs.scores())"
    )


class FrameEngine:
    """Runs plans in polars over a lazy frame of calls (and one of scores)."""

    def __init__(
        self,
        calls: pl.LazyFrame,
        scores: pl.LazyFrame | None = None,
        base: Sequence[Condition] = (),
    ) -> None:
        self.columns = calls.collect_schema().names()
        self.calls = _utc(calls)
        self.scores_frame = scores
        self.base = tuple(base)

    @property
    def has_scores(self) -> bool:
        return self.scores_frame is not None

    def narrowed(self, conditions: Sequence[Condition]) -> FrameEngine:
        """This engine with ``conditions`` added to every plan's calls."""
        if not conditions:
            return self
        return FrameEngine(self.calls, self.scores_frame, (*self.base, *conditions))

    def run(self, plan: Plan) -> pl.DataFrame:
        scored = _scored_plan(plan)
        if scored is None:
            calls = render_polars.filtered(self.calls, self.base)
            if isinstance(plan, Rows):
                return render_polars.rows(calls, plan)
            assert isinstance(plan, Aggregate)
            return render_polars.aggregate(calls, plan)
        if self.scores_frame is None:
            raise _no_scores()
        # The score → call match is made among all calls; the filter then keeps the calls.
        rows = render_polars.scored(self.calls, self.scores_frame, scored, self.base)
        return rows if isinstance(plan, Scored) else render_polars.aggregate(rows.lazy(), plan)


class SqlEngine:
    """Pushes plans down to DuckDB: the store computes, polars gets the small result.

    ``run`` is the store's read (``obs.sql``, a connection's); with ``scores`` (a frame given by
    hand) the score → call rule runs in polars against only the call columns it needs.
    """

    def __init__(
        self,
        run: SqlRunner,
        base: Sequence[Condition] = (),
        scores: pl.LazyFrame | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self._run = run
        self.base = tuple(base)
        self.scores_frame = scores
        self.renderer = SqlRenderer(self.base)
        if columns is not None:  # known to the caller (the dashboard asks once per session)
            self.__dict__["columns"] = list(columns)

    has_scores = True

    @cached_property
    def columns(self) -> list[str]:
        return self._run("SELECT * FROM llm_calls LIMIT 0", []).columns

    def narrowed(self, conditions: Sequence[Condition]) -> SqlEngine:
        """This engine with ``conditions`` added to every plan's calls."""
        if not conditions:
            return self
        known = self.__dict__.get("columns")
        return SqlEngine(self._run, (*self.base, *conditions), self.scores_frame, known)

    def run(self, plan: Plan) -> pl.DataFrame:
        scored = _scored_plan(plan)
        if scored is not None and self.scores_frame is not None:
            # Scores given as a frame: the frame engine matches them to every call (the match
            # does not depend on the filter), then keeps the calls that pass it.
            conditions = (*self.base, *scored.where)
            needed = ("trace_id", "span_id", "kind", "start_time", *scored.keys)
            needed += tuple(c.column for c in conditions)
            calls = SqlEngine(self._run).run(Rows(tuple(dict.fromkeys(needed)))).lazy()
            local = replace(scored, where=())
            plan = local if isinstance(plan, Scored) else replace(plan, over=local)
            return FrameEngine(calls, self.scores_frame, conditions).run(plan)
        query = self.renderer.render(plan)
        return query.finish(self._run(query.sql, query.params))


class ScoredOnce:
    """Wraps an engine so the rows of a score → call question (:class:`Scored`) are fetched
    from it once: they are kept in ``memo``, and a later aggregate ``over`` the same scored
    rows is answered from them in polars, with the frame engine's rendering. An aggregate
    asked before any rows were fetched still runs in the wrapped engine (a store answers it
    without moving the rows).

    One ``memo`` lives as long as one selection of calls (a dashboard redraw): quality drift
    (which needs the rows) and the quality chart (their means over time) then share one join
    of the scores to the calls.

    With ``answers`` (a dict living as long as ``memo``), every plan is answered once: the
    same question asked again (two panels asking one aggregate) is given the first answer,
    with its ``rel_error``.

    Example:
        >>> memo: dict = {}
        >>> engine = ScoredOnce(FrameEngine(pl.LazyFrame({"model": ["a"]})), memo, answers={})
        >>> engine.columns
        ['model']
        >>> plan = Rows(("model",))
        >>> engine.run(plan) is engine.run(plan)
        True
    """

    def __init__(
        self,
        engine: Engine,
        memo: dict[Scored, pl.DataFrame],
        answers: dict[Plan, tuple[pl.DataFrame, float]] | None = None,
    ) -> None:
        self.engine = engine
        self.memo = memo
        self.answers = answers
        self._rel_error: float | None = None

    @property
    def columns(self) -> list[str]:
        return self.engine.columns

    @property
    def has_scores(self) -> bool:
        return self.engine.has_scores

    @property
    def rel_error(self) -> float:
        """The error bound of the last answer (the wrapped engine's; 0 for an exact one)."""
        if self._rel_error is not None:
            return self._rel_error
        return float(getattr(self.engine, "rel_error", 0.0))

    def narrowed(self, conditions: Sequence[Condition]) -> Engine:
        """The wrapped engine narrowed (its scored rows differ: nothing is shared)."""
        return self.engine.narrowed(conditions) if conditions else self

    def run(self, plan: Plan) -> pl.DataFrame:
        if self.answers is None:
            return self._run(plan)
        try:
            known = self.answers.get(plan)  # a dict read or write is atomic, as memo's
        except TypeError:  # a plan holding a list: asked every time
            return self._run(plan)
        if known is None:
            self._rel_error = None
            found = self._run(plan)
            known = self.answers.setdefault(plan, (found, self.rel_error))
        self._rel_error = known[1]
        return known[0]

    def _run(self, plan: Plan) -> pl.DataFrame:
        scored = _scored_plan(plan)
        if scored is None:
            return self.engine.run(plan)
        rows = self.memo.get(scored)  # a dict read or write is atomic: threads may share memo
        if isinstance(plan, Scored):
            if rows is None:
                rows = self.memo.setdefault(scored, self.engine.run(scored))
            return rows
        if rows is None:
            return self.engine.run(plan)
        return render_polars.aggregate(rows.lazy(), plan)
