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
from typing import Literal, NamedTuple

import polars as pl

from llmobs_nb.analytics import render_rollup
from llmobs_nb.analytics.engines import Engine, SqlEngine, SqlRunner
from llmobs_nb.analytics.plan import Aggregate, Condition, Plan
from llmobs_nb.store.sketch import ALPHA


class RollupEngine:
    """Answers plans from rollups where it can, exactly otherwise; ``rel_error`` is the
    largest relative error of its last answer (:data:`~llmobs_nb.store.sketch.ALPHA` when a
    quantile came from a sketch, 0 when every figure is exact)."""

    def __init__(
        self,
        exact: SqlEngine,
        run: SqlRunner,
        *,
        sketch_quantiles: bool = True,
        user_rollups: bool = True,
    ) -> None:
        self.exact = exact
        self._run = run
        self.sketch_quantiles = sketch_quantiles
        #: Whether the store has ``rollup_users`` (a file of an older release opened
        #: read-only has not: its questions by user are answered exactly).
        self.user_rollups = user_rollups
        self.rel_error = 0.0

    @property
    def columns(self) -> list[str]:
        return self.exact.columns

    @property
    def has_scores(self) -> bool:
        return self.exact.has_scores

    def narrowed(self, conditions: Sequence[Condition]) -> RollupEngine:
        """This engine with ``conditions`` added to every plan's calls."""
        if not conditions:
            return self
        narrowed = self.exact.narrowed(conditions)
        return RollupEngine(
            narrowed,
            self._run,
            sketch_quantiles=self.sketch_quantiles,
            user_rollups=self.user_rollups,
        )

    def run(self, plan: Plan) -> pl.DataFrame:
        query = None
        quantiles = isinstance(plan, Aggregate) and any(a.op == "quantile" for a in plan.aggs)
        from_rollups = self.sketch_quantiles or not quantiles
        if isinstance(plan, Aggregate) and self.exact.scores_frame is None and from_rollups:
            tables = None if self.user_rollups else (render_rollup.CALLS,)
            query = render_rollup.render(plan, self.exact.base, tables=tables)
        if query is None:
            self.rel_error = 0.0
            return self.exact.run(plan)
        assert isinstance(plan, Aggregate)
        self.rel_error = ALPHA if quantiles else 0.0
        return query.finish(self._run(query.sql, query.params))


AUTO_MIN_SPANS = 1_000_000
"""Below this many rolled-up spans, ``approx=None`` (auto) answers exactly: on small stores
the exact queries are as fast or faster (``benchmarks/rollups.py``, ``dashboard_browser.py``)."""

AUTO_MAX_SKETCH_SHARE = 0.25
"""In auto mode, quantiles come from the sketches only when they hold at most this many rows
per rolled-up span: sparse hours (1M calls over 30 days: 0.64 sketch rows a span) make the
sketch query slower than the exact one, dense ones (10M: 0.14) faster
(``benchmarks/rollups.py``). Counts and sums come from the rollups either way."""


class RollupState(NamedTuple):
    """What a store's rollups hold: the spans rolled up, the sketch rows, and whether the
    store has ``rollup_users`` (``m009_rollup_users``)."""

    rolled: int
    sketch_rows: int
    user_rollups: bool


def rollup_state(run: SqlRunner) -> RollupState | None:
    """The spans rolled up, the sketch rows kept and whether users are rolled up, or None
    for a store without rollups (an older file opened read-only, several files read
    together)."""
    try:
        found = run(
            "SELECT rolled_to, (SELECT count(*) FROM rollup_sketches) AS sketch_rows, "
            "EXISTS (SELECT 1 FROM duckdb_tables() WHERE table_name = 'rollup_users' "
            "AND database_name = current_database()) AS users FROM rollup_state",
            [],
        )
    except Exception:  # no rollup tables here: every answer is exact
        return None
    if not found.height:
        return RollupState(0, 0, False)
    row = found.row(0, named=True)
    return RollupState(int(row["rolled_to"] or 0), int(row["sketch_rows"] or 0), row["users"])


def rollup_engine(
    exact: SqlEngine,
    run: SqlRunner,
    *,
    min_spans: int = 0,
    max_sketch_share: float | None = None,
    state: RollupState | Literal["ask"] | None = "ask",
) -> Engine:
    """A :class:`RollupEngine` over a store with rollups covering at least ``min_spans``
    spans; ``exact`` itself otherwise (a small store, an older file opened read-only, several
    files read together). With ``max_sketch_share``, quantiles are answered exactly when the
    sketches hold more rows than that per rolled-up span. ``state``: :func:`rollup_state`'s
    answer when the caller has it (``"ask"``: asked here)."""
    found = rollup_state(run) if state == "ask" else state
    if not isinstance(found, tuple):  # None: a store without rollups
        return exact
    rolled, sketch_rows, users = found
    if min_spans and rolled < min_spans:
        return exact
    dense = max_sketch_share is None or sketch_rows <= max_sketch_share * max(rolled, 1)
    return RollupEngine(exact, run, sketch_quantiles=dense, user_rollups=users)


def error_bound(engine: Engine) -> float:
    """The relative error of ``engine``'s last answer (0 for every exact engine).

    Example:
        >>> from llmobs_nb.analytics.engines import FrameEngine
        >>> error_bound(FrameEngine(pl.LazyFrame({"a": [1]})))
        0.0
    """
    return float(getattr(engine, "rel_error", 0.0))
