"""Who owns a span, and which model calls lie inside it — in SQL, where the spans are.

THE attribution rule of ``analytics.agents``, written once for DuckDB and ClickHouse
(``Sql(reader.dialect)``): a span belongs to its nearest ancestor agent span, walking
``parent_span_id`` within its trace; a model call lies inside every agent and tool span above
it. :func:`owned_steps` gives the ``WITH`` relations that compute both in the engine, so
only the answers of the questions built on them leave it.

* ``s``: the chosen spans (``chosen``), each with its key and its parent's
  (:meth:`~llmobs_nb.analytics.render_sql.SqlRenderer.span_key`: one integer for the pair
  ``trace_id, span_id``, so the walk joins numbers, never text) and :func:`span_flags`.
* ``nodes``: one row per key (a span stored twice is one node), with its parent's key, whether
  it is an agent or a step, its span id and label, and the model calls it is (``calls``,
  ``priced``, ``usd``).
* ``walk``: every agent, tool and model-call node with its ancestors, nearest first, one level
  per round of a recursive query: ``start``, the ancestor ``a``, whether it is an agent
  (``agent``) or a step (``step``), ``seen`` (an agent was passed below it) and the start's
  calls (``m``, ``calls``, ``priced``, ``usd``). A walk from an agent or a tool stops at the
  first agent; one from a model call goes to the root. A walk never visits an ancestor twice
  (a cycle of parents, in broken data, ends as soon as it closes: an agent in the cycle is
  then its own owner, as walking up would find it) and stops after :data:`MAX_DEPTH` levels.
* ``owners`` (``k``, ``owner_k``: the first agent of each walk), ``inside`` (per step key:
  the model calls below it) and ``steps``: the chosen agent, tool and model-call spans, each
  with ``owner_k``, ``owner`` (its owner's label, else — not being an agent — its own
  ``agent_name``, else NULL) and ``inside_calls``, ``inside_priced``, ``inside_usd``.

Example:
    >>> q = Sql()
    >>> "WITH RECURSIVE" in owned_steps(q, lambda: "TRUE")
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llmobs_nb.analytics.span_sql import Sql, span_flags

__all__ = ["MAX_DEPTH", "STEP_COLUMNS", "owned_steps"]

MAX_DEPTH = 999
"""The most parent links a walk follows (a deeper tree is cut there): one round of the
recursive query each, and ClickHouse stops a recursive query before its 1,000th round (its
default ``max_recursive_cte_evaluation_depth``, which the package's read-only queries keep)."""

STEP_COLUMNS = (
    "k",
    "trace_id",
    "span_id",
    "is_model",
    "is_agent",
    "is_tool",
    "failed",
    "label",
    "model",
    "agent_name",
    "start_time",
    "latency_s",
    "cost_usd",
)
"""The columns of ``steps`` taken from ``s`` (then ``owned_steps``' ``extra`` ones)."""


def owned_steps(q: Sql, chosen: Callable[[], str], extra: Sequence[str] = ()) -> str:
    """The ``WITH`` items ``s, nodes, walk, owners, inside, steps`` (see the module) over the
    spans that pass ``chosen()`` (called where its text goes: its values are appended to
    ``q.params`` in text order). ``extra``: more select-list items of ``spans`` to keep in
    ``s`` and ``steps`` (``"session_id"``, ``"coalesce(end_time, start_time) AS end_at"``),
    each named by its last word.

    Example:
        >>> text = owned_steps(Sql(), lambda: "TRUE", ["session_id"])
        >>> text.lstrip().startswith("s AS MATERIALIZED")
        True
    """
    d = q.dialect
    key, parent = d.span_key("trace_id", "span_id"), d.span_key("trace_id", "parent_span_id")
    more = "".join(f", {item}" for item in extra)
    named = [item.split()[-1] for item in extra]
    kept = ", ".join(f"s.{c} AS {c}" for c in (*STEP_COLUMNS, *named))
    flags = span_flags(q)  # written before chosen(): its values come first in the text
    model = "is_model"
    s = f"""
    s AS MATERIALIZED (
        SELECT {key} AS k, {parent} AS pk, trace_id, span_id, model, agent_name, start_time,
               latency_s, cost_usd{more}, {flags}
        FROM spans WHERE {chosen()}
    ),
    nodes AS MATERIALIZED (
        SELECT k, min(span_id) AS span_id, min(label) AS label,
               count(*) FILTER (WHERE {model}) AS calls,
               count(cost_usd) FILTER (WHERE {model}) AS priced,
               coalesce(sum(cost_usd) FILTER (WHERE {model}), 0) AS usd
        FROM s WHERE is_agent OR is_tool OR is_model GROUP BY k
    ),"""
    # The walk reads spans anew, only the ids and flags: ClickHouse evaluates what a
    # recursive query reads at each round (a MATERIALIZED relation too), so what it reads is
    # kept cheap to compute.
    links = f"""
    links AS MATERIALIZED (
        SELECT k, min(pk) AS pk, max(is_agent) AS is_agent, max(is_agent OR is_tool) AS is_step,
               max(is_model) AS is_model
        FROM (SELECT {key} AS k, {parent} AS pk, {span_flags(q)} FROM spans WHERE {chosen()})
        GROUP BY k
    ),"""
    return f"""{s}{links}
    walk AS MATERIALIZED (
        SELECT start, a, agent, step, m, seen FROM (
            WITH RECURSIVE up AS (
                SELECT k AS start, k AS a, pk AS next, is_agent AS agent, is_step AS step,
                       is_model AS m, 0 AS depth, false AS seen, [k] AS path
                FROM links WHERE is_step OR is_model
                UNION ALL
                SELECT u.start, x.k, x.pk, x.is_agent, x.is_step, u.m, u.depth + 1,
                       u.depth > 0 AND (u.seen OR u.agent),
                       CASE WHEN u.depth = 0 THEN [x.k] ELSE {d.appended("u.path", "x.k")} END
                FROM links x JOIN up u ON x.k = u.next
                WHERE u.depth < {MAX_DEPTH} AND (u.depth = 0 OR (
                    (u.m OR NOT u.agent) AND NOT {d.contains("u.path", "x.k")}))
            )
            SELECT * FROM up WHERE depth > 0
        )
    ),
    owners AS (SELECT start AS k, a AS owner_k FROM walk WHERE agent AND NOT seen),
    inside AS (
        SELECT w.a AS k, sum(n.calls) AS calls, sum(n.priced) AS priced, sum(n.usd) AS usd
        FROM walk w JOIN nodes n ON n.k = w.start WHERE w.m AND w.step GROUP BY w.a
    ),
    steps AS MATERIALIZED (
        SELECT {kept}, o.owner_k AS owner_k,
               coalesce(n.label, CASE WHEN NOT s.is_agent THEN s.agent_name END) AS owner,
               coalesce(i.calls, 0) AS inside_calls, coalesce(i.priced, 0) AS inside_priced,
               coalesce(i.usd, 0) AS inside_usd
        FROM s LEFT JOIN owners o ON o.k = s.k
        LEFT JOIN nodes n ON n.k = o.owner_k
        LEFT JOIN inside i ON i.k = s.k
        WHERE s.is_agent OR s.is_tool OR s.is_model
    )"""
