"""Sessions (conversations): what each one, or each user's, cost, how long it ran, how it went;
and a session's turns in order.

A session is the ``session_id`` its spans carry (``obs.session``, ``gen_ai.conversation.id``,
OpenInference ``session.id``); a turn is a trace with that session. Both functions read the
``spans`` table (every span, so a turn that failed before any model call still counts) and run
as one DuckDB query where the spans live (the store, or a frame registered in an in-memory
DuckDB: ``source.open_spans``); only the per-session rows come back. An ``llm_calls``-shaped
frame (or the Parquet export) is accepted too: it holds the model calls only, so ``turns``,
``duration_s`` and the activity times then count model calls only, and a turn has no root
span's text.

Example:
    >>> from llmobs_nb import analytics
    >>> analytics.sessions(obs).head(3)                       # doctest: +SKIP
    >>> analytics.sessions(obs, by="user", score="quality")   # doctest: +SKIP
    >>> analytics.session_turns(obs, "conv-42")               # doctest: +SKIP
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import keyword_only
from llmobs_nb.analytics.errors import IS_ERROR
from llmobs_nb.analytics.filter import WhereLike, conditions_of
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, Scored
from llmobs_nb.analytics.source import (
    CallsLike,
    ScoresLike,
    SpanReader,
    classify,
    open_source,
    open_spans,
    open_store,
)
from llmobs_nb.analytics.span_sql import (
    FLAG_COLUMNS,
    UTC_TIME,
    Sql,
    cost,
    span_flags,
    span_where,
    typed,
)
from llmobs_nb.store.model_call import is_model_call

_FIGURES: dict[str, pl.DataType] = {
    "turns": pl.Int64(),
    "calls": pl.Int64(),
    "errors": pl.Int64(),
    "duration_s": pl.Float64(),
    "cost_usd": pl.Float64(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "mean_score": pl.Float64(),
    "first_activity": UTC_TIME,
    "last_activity": UTC_TIME,
}
SESSION_SCHEMA: dict[str, pl.DataType] = {
    "session_id": pl.String(),
    "user_id": pl.String(),
    **_FIGURES,
}
"""Columns and types of ``sessions(by="session")``."""
USER_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "sessions": pl.Int64(),
    **_FIGURES,
}
"""Columns and types of ``sessions(by="user")``."""
TURN_SCHEMA: dict[str, pl.DataType] = {
    "turn": pl.Int64(),
    "trace_id": pl.String(),
    "start_time": UTC_TIME,
    "latency_s": pl.Float64(),
    "calls": pl.Int64(),
    "cost_usd": pl.Float64(),
    "errors": pl.Int64(),
    "status": pl.String(),
    "input_text": pl.String(),
    "output_text": pl.String(),
}
"""Columns and types of :func:`session_turns`."""

OK = "ok"
_REQUIRED = (
    "trace_id",
    "span_id",
    "session_id",
    "kind",
    "model",
    "start_time",
    "status",
    "cost_usd",
    "input_tokens",
    "output_tokens",
)
_OPTIONAL = ("end_time", "user_id", "parent_span_id", *FLAG_COLUMNS)


def _session_sql(q: Sql, where: tuple[Condition, ...]) -> str:
    # One row per session: the counts and sums each figure is made of (duration, cost and the
    # mean score are finished in polars from them).
    return f"""
        WITH s AS (
            SELECT session_id, user_id, trace_id, start_time,
                   coalesce(end_time, start_time) AS end_at, cost_usd, input_tokens,
                   output_tokens, {span_flags(q)}
            FROM spans WHERE session_id IS NOT NULL AND {span_where(q, where)}
        )
        SELECT session_id,
               {q.dialect.arg_min("user_id", "start_time")} AS user_id,
               count(DISTINCT trace_id) AS turns,
               count(*) FILTER (WHERE is_model) AS calls,
               count(*) FILTER (WHERE is_model AND failed) AS errors,
               count(cost_usd) FILTER (WHERE is_model) AS priced,
               sum(cost_usd) FILTER (WHERE is_model) AS total,
               sum(input_tokens) FILTER (WHERE is_model) AS input_tokens,
               sum(output_tokens) FILTER (WHERE is_model) AS output_tokens,
               min(start_time) AS first_activity,
               max(end_at) AS last_activity
        FROM s GROUP BY session_id"""


def _session_scores(
    source: CallsLike, scores: ScoresLike, where: WhereLike, score: str | None
) -> pl.DataFrame:
    """Per session, the count and sum of its calls' scores, by the package's score → call rule
    (:class:`~llmobs_nb.analytics.plan.Scored`), run by the calls' engine."""
    empty = pl.DataFrame(
        schema={"session_id": pl.String, "score_n": pl.Int64, "score_sum": pl.Float64}
    )
    calls = source
    if isinstance(source, pl.DataFrame | pl.LazyFrame):  # spans or calls: the calls of them
        calls = source.lazy().filter(is_model_call.polars())
    with open_source(calls, scores, where=where) as engine:
        if not engine.has_scores or "session_id" not in engine.columns:
            return empty
        scored = Scored(("session_id",), score, (Condition("session_id", "not_null"),))
        aggs = (Agg("score_n", "count", "value"), Agg("score_sum", "sum", "value"))
        found = engine.run(Aggregate(("session_id",), aggs, over=scored))
    return found.select(empty.columns) if found.height else empty


def _per_session(reader: SpanReader, where: tuple[Condition, ...]) -> pl.DataFrame:
    q = Sql(reader.dialect)
    sql = _session_sql(q, where)
    return reader.run(sql, q.params)


@keyword_only()
def sessions(
    source: CallsLike,
    *,
    by: Literal["session", "user"] = "session",
    where: WhereLike = None,
    score: str | None = None,
    scores: ScoresLike = None,
) -> pl.DataFrame:
    """Each session (or each user's sessions) at a glance, most recently active first.

    ``by="session"``: ``session_id, user_id, turns, calls, errors, duration_s, cost_usd,
    input_tokens, output_tokens, mean_score, first_activity, last_activity``.

    * ``user_id``: the user of the session's earliest span that names one;
    * ``turns``: the traces with a span of the session;
    * ``calls``, ``errors``: its model calls, and those of them whose ``status`` is
      ``"error"`` (as :func:`error_rates` counts; a turn that failed outside a model call — a
      tool that raised — shows in :func:`session_turns`' ``status``, not here);
    * ``duration_s``: from the first span's start to the last span's end
      (``last_activity - first_activity``, UTC times);
    * ``cost_usd``: the priced calls' cost; 0.0 without model calls, NULL when none of them
      has a price; ``input_tokens``, ``output_tokens``: sums over the calls that report them;
    * ``mean_score``: the mean of the scores of the session's calls (the score → call rule of
      every analytics function: a score on a trace counts for its first call), of the score
      named ``score`` or, with None, of every score; NULL without scores. The scores are the
      store's (an observer, a file, a connection) or ``scores=`` (a frame of the scores
      table; needed for a frame source).

    ``by="user"``: ``user_id, sessions``, then the same figures over the user's sessions
    (``turns``, ``calls``, ``errors``, ``duration_s``, cost and tokens summed; ``mean_score``
    over all their scores; first and last activity); sessions without a user make the row
    whose ``user_id`` is NULL.

    Spans without a session are left out. ``where`` (a :class:`Filter` or a dict of column →
    value) keeps the spans that pass it, as it keeps calls elsewhere: ``Filter(models=...)``
    keeps those models' calls (``turns`` then counts the traces that have one). Reads the
    ``spans`` of an observer, a store file or connection, the view's ``DataSource``, or a
    polars frame of spans (an ``llm_calls``-shaped frame counts model calls only).

    Example:
        >>> with obs.session("conv-1", user_id="ann"):          # doctest: +SKIP
        ...     ask("hello")
        >>> analytics.sessions(obs)                               # doctest: +SKIP
        shape: (1, 12)  session_id='conv-1', user_id='ann', turns=1, calls=1, …
    """
    if by not in ("session", "user"):
        raise ValueError(f"by={by!r}: sessions are grouped by 'session' or 'user'")
    if classify(source).kind == "file":  # one connection for the spans and the scores
        with open_store(classify(source).value) as con:
            return sessions(con, by=by, where=where, score=score, scores=scores)
    conditions = conditions_of(where)
    needed = [*_REQUIRED, *(c.column for c in conditions)]
    with open_spans(source, needed, _OPTIONAL) as reader:
        check_columns(reader.columns, [c.column for c in conditions], "where=")
        rows = _per_session(reader, conditions)
    found = _session_scores(source, scores, where, score) if rows.height else None
    if found is not None:
        rows = rows.join(found, on="session_id", how="left")
    else:
        rows = rows.with_columns(
            pl.lit(None, pl.Int64).alias("score_n"), pl.lit(None, pl.Float64).alias("score_sum")
        )
    if by == "user":
        return _by_user(rows)
    out = rows.with_columns(
        cost("calls", "priced", "total"),
        _seconds("first_activity", "last_activity").alias("duration_s"),
        (pl.col("score_sum") / pl.col("score_n")).alias("mean_score"),
        pl.col("input_tokens").fill_null(0),
        pl.col("output_tokens").fill_null(0),
    )
    out = typed(out, SESSION_SCHEMA)
    return out.sort(["last_activity", "session_id"], descending=[True, False], nulls_last=True)


def _seconds(start: str, end: str) -> pl.Expr:
    return (pl.col(end) - pl.col(start)).dt.total_microseconds() / 1e6


def _by_user(rows: pl.DataFrame) -> pl.DataFrame:
    """The users' rows from the sessions' (each session counts for its user)."""
    per_session = rows.with_columns(_seconds("first_activity", "last_activity").alias("duration"))
    users = per_session.group_by("user_id").agg(
        pl.len().alias("sessions"),
        pl.col("turns").sum(),
        pl.col("calls").sum(),
        pl.col("errors").sum(),
        pl.col("duration").sum().alias("duration_s"),
        pl.col("priced").sum(),
        pl.col("total").sum(),
        pl.col("input_tokens").sum(),
        pl.col("output_tokens").sum(),
        pl.col("score_n").sum(),
        pl.col("score_sum").sum(),
        pl.col("first_activity").min(),
        pl.col("last_activity").max(),
    )
    out = users.with_columns(
        cost("calls", "priced", "total"),
        pl.when(pl.col("score_n") > 0)
        .then(pl.col("score_sum") / pl.col("score_n"))
        .alias("mean_score"),
    )
    out = typed(out, USER_SCHEMA)
    return out.sort(["last_activity", "user_id"], descending=[True, False], nulls_last=True)


def _turns_sql(q: Sql, session_id: str) -> str:
    # The turn's spans are the trace's spans with this session; its root is the earliest of
    # them whose parent is not among them.
    d = q.dialect
    return f"""
        WITH s AS (
            SELECT trace_id, span_id, parent_span_id, start_time,
                   coalesce(end_time, start_time) AS end_at, latency_s, cost_usd,
                   input_text, output_text, {span_flags(q)}
            FROM spans WHERE session_id = {q.value(session_id)}
        ),
        roots AS (
            SELECT c.trace_id AS trace_id, c.start_time AS start_time, c.end_at AS end_at,
                   c.latency_s AS latency_s, c.input_text AS input_text,
                   c.output_text AS output_text
            FROM s c LEFT JOIN s p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
            WHERE p.span_id IS NULL
            QUALIFY row_number() OVER (
                PARTITION BY c.trace_id ORDER BY c.start_time, c.span_id) = 1
        ),
        per AS (
            SELECT trace_id,
                   count(*) FILTER (WHERE is_model) AS calls,
                   count(cost_usd) FILTER (WHERE is_model) AS priced,
                   sum(cost_usd) FILTER (WHERE is_model) AS total,
                   count(*) FILTER (WHERE is_model AND failed) AS errors,
                   {d.boolean("count(*) FILTER (WHERE failed) > 0")} AS failed,
                   {d.arg_min("input_text", "start_time")} FILTER (WHERE is_model) AS first_input,
                   {d.arg_max("output_text", "start_time")} FILTER (WHERE is_model) AS last_output
            FROM s GROUP BY trace_id
        )
        SELECT per.trace_id AS trace_id, r.start_time AS start_time,
               coalesce(r.latency_s, ({d.epoch_us("r.end_at")} - {d.epoch_us("r.start_time")})
                   / 1e6) AS latency_s,
               per.calls AS calls, per.priced AS priced, per.total AS total,
               per.errors AS errors, per.failed AS failed,
               coalesce(r.input_text, per.first_input) AS input_text,
               coalesce(r.output_text, per.last_output) AS output_text
        FROM per JOIN roots r ON r.trace_id = per.trace_id
        ORDER BY r.start_time, per.trace_id"""


@keyword_only()
def session_turns(source: CallsLike, session_id: str) -> pl.DataFrame:
    """The turns of session ``session_id`` in order, one row per trace.

    Columns: ``turn`` (1, 2, … by start), ``trace_id``; ``start_time`` and ``latency_s`` of
    the turn's root span (its earliest span whose parent is not in the session);
    ``calls``, ``cost_usd`` (as :func:`sessions`) and ``errors`` of its model calls;
    ``status``: ``"error"`` if any of its spans failed (a tool, an agent, a call), else
    ``"ok"``; ``input_text`` and ``output_text``: the root span's, else the earliest model
    call's input and the latest model call's output that were captured (NULL when content
    capture was off). A session with no span gives no rows.

    Example:
        >>> analytics.session_turns(obs, "conv-42")   # doctest: +SKIP
        shape: (3, 10)  turn, trace_id, start_time, latency_s, calls, cost_usd, errors, …
    """
    if not isinstance(session_id, str):
        raise TypeError(f"session_id must be a string, got {session_id!r}")
    needed = [c for c in _REQUIRED if c not in ("input_tokens", "output_tokens")]
    with open_spans(source, needed, (*_OPTIONAL, "latency_s", "input_text", "output_text")) as r:
        q = Sql(r.dialect)
        sql = _turns_sql(q, session_id)
        rows = r.run(sql, q.params)
    out = rows.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("turn"),
        cost("calls", "priced", "total"),
        pl.when(pl.col("failed"))
        .then(pl.lit(IS_ERROR.value))
        .otherwise(pl.lit(OK))
        .alias("status"),
    )
    return typed(out, TURN_SCHEMA)
