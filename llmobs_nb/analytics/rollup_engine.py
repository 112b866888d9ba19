"""The engine behind ``approx=True``: plans answered from the store's rollups when they can
be (``render_rollup``), exactly by the store's :class:`~llmobs_nb.analytics.engines.SqlEngine`
otherwise, and the relative error of its last answer.

Example:
    >>> from llmobs_nb.store.store import Store
    >>> store = Store(":memory:")
    >>> engine = rollup_engine(SqlEngine(store.query), store.query)
    >>> isinstance(engine, RollupEngine), engine.rel_error
    (True, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from llmobs_nb.analytics import render_rollup
from llmobs_nb.analytics.engines import Engine, SqlEngine, SqlRunner
from llmobs_nb.analytics.plan import Aggregate, Condition, Plan
from llmobs_nb.store.sketch import ALPHA


class RollupEngine:
    """Answers plans from rollups where it can, exactly otherwise; ``rel_error`` is the
    largest relative error of its last answer (:data:`~llmobs_nb.store.sketch.ALPHA` when a
    quantile came from a sketch, 0 when every figure is exact)."""

    def __init__(self, exact: SqlEngine, run: SqlRunner) -> None:
        self.exact = exact
        self._run = run
        self.rel_error = 0.0

    @property
    def columns(self) -> list[str]:
        return self.exact.columns

    @property
    def has_scores(self) -> bool:
        return self.exact.has_scores

    def narrowed(self, conditions: Sequence[Condition]) -> RollupEngine:
        """This engine with ``conditions`` added to every plan's calls."""
        return RollupEngine(self.exact.narrowed(conditions), self._run) if conditions else self

    def run(self, plan: Plan) -> pl.DataFrame:
        query = None
        if isinstance(plan, Aggregate) and self.exact.scores_frame is None:
            query = render_rollup.render(plan, self.exact.base)
        if query is None:
            self.rel_error = 0.0
            return self.exact.run(plan)
        assert isinstance(plan, Aggregate)
        self.rel_error = ALPHA if any(a.op == "quantile" for a in plan.aggs) else 0.0
        return query.finish(self._run(query.sql, query.params))


AUTO_MIN_SPANS = 1_000_000
"""Below this many rolled-up spans, ``approx=None`` (auto) answers exactly: on small stores
the exact queries are as fast or faster (``benchmarks/rollups.py``, ``dashboard_browser.py``)."""


def rollup_engine(exact: SqlEngine, run: SqlRunner, *, min_spans: int = 0) -> Engine:
    """A :class:`RollupEngine` over a store with rollups covering at least ``min_spans``
    spans; ``exact`` itself otherwise (a small store, an older file opened read-only, several
    files read together)."""
    try:
        found = run("SELECT rolled_to FROM rollup_state", [])
    except Exception:  # no rollup tables here: every answer is exact
        return exact
    if min_spans and (found.height == 0 or (found["rolled_to"][0] or 0) < min_spans):
        return exact
    return RollupEngine(exact, run)


def error_bound(engine: Engine) -> float:
    """The relative error of ``engine``'s last answer (0 for every exact engine).

    Example:
        >>> from llmobs_nb.analytics.engines import FrameEngine
        >>> error_bound(FrameEngine(pl.LazyFrame({"a": [1]})))
        0.0
    """
    return float(getattr(engine, "rel_error", 0.0))
