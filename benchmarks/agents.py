"""Sessions and agents analytics: each function against hand-written DuckDB SQL computing the
same answer on the same store, in the same run; the answers are compared before anything is
timed (a disagreement stops the run).

1M spans (default) are generated straight in DuckDB into a store created by the package
(``Store``: the migrated schema): 62,500 traces of 16 spans — agent ``planner`` with three tool
calls (one in 100 traces a loop on ``search_docs``, half of those with the same arguments),
model calls inside tools, sub-agent ``writer`` with a tool and a nested ``critic`` — grouped
four turns to a session (a tenth of the traces without one), 2,000 users; a fifth of the traces
are written as an agent framework's instrumentation writes them (``agent_name`` only on agent
spans, so ownership comes from the parent links), three in ten without captured arguments;
2 % of spans fail; one model in four has no price; one score per trace and a trace-level
score on a tenth.

Prints, per question, the median and range of ``--repeat`` runs of llmobs (given the store's
path, then an open connection) and of the hand-written SQL on that connection, and the ratio
llmobs (connection) / SQL. Never asserts a speed.

    .venv/bin/python benchmarks/agents.py              # 1M spans
    .venv/bin/python benchmarks/agents.py --traces 12500 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.store import Store
from llmobs_nb.store.connect import connect

# pos, parent, kind, step (agent name, tool slot), start offset s, container length s (leaves
# get a random latency below 0.8 s)
TEMPLATE = [
    (0, None, "agent", "planner", 0.0, 16.0),
    (1, 0, "llm", None, 0.1, None),
    (2, 0, "tool", "T1", 1.0, 1.5),
    (3, 2, "llm", None, 1.2, None),
    (4, 0, "llm", None, 3.0, None),
    (5, 0, "tool", "T2", 4.0, None),
    (6, 0, "llm", None, 5.0, None),
    (7, 0, "tool", "T3", 6.0, 1.5),
    (8, 7, "llm", None, 6.2, None),
    (9, 0, "agent", "writer", 8.0, 7.0),
    (10, 9, "llm", None, 8.1, None),
    (11, 9, "tool", "format_doc", 9.0, None),
    (12, 9, "agent", "critic", 10.0, 3.0),
    (13, 12, "llm", None, 10.1, None),
    (14, 9, "llm", None, 13.5, None),
    (15, 0, "llm", None, 15.0, None),
]
# The agent each position runs in (what obs.agent writes into agent_name).
OWNER = {13: "critic", 10: "writer", 11: "writer", 12: "writer", 14: "writer"}

GENERATE = """
INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_time, end_time,
    latency_s, provider, model, operation, user_id, project, status, error_type, input_tokens,
    output_tokens, cost_usd, input_text, output_text, attributes, session_id, agent_name,
    tool_name)
WITH t AS (
    SELECT range AS t, printf('%032x', range) AS trace_id,
        TIMESTAMPTZ '2025-03-01 00:00:00+00'
            + to_microseconds((range // 4) * 300_000_000 + (range % 4) * 40_000_000) AS t0,
        CASE WHEN hash(range, 'sess') % 10 = 0 THEN NULL ELSE 's' || (range // 4) END
            AS session_id,
        'u' || ((range // 4) % 2000) AS user_id,
        hash(range, 'oi') % 5 = 0 AS third_party,
        hash(range, 'content') % 10 < 3 AS no_content,
        hash(range, 'loop') % 100 = 0 AS looping,
        hash(range, 'loopargs') % 2 = 0 AS loop_same_args
    FROM range(?)
),
tpl(pos, parent, kind, step, off_s, len_s, owner) AS (VALUES {template}),
x AS (
    SELECT t.*, tpl.*, (hash(t.t, tpl.pos, 'u') % 1000000) / 1e6 AS u,
        CASE WHEN tpl.step IN ('T1', 'T2', 'T3') THEN
            CASE WHEN t.looping THEN 'search_docs'
                 ELSE ['search_docs', 'get_weather', 'calculator', 'fetch_url', 'lookup_user',
                       'send_email'][1 + (hash(t.t, tpl.pos, 'tool') % 6)::BIGINT] END
             WHEN tpl.kind = 'tool' THEN tpl.step END AS tool,
        CASE WHEN tpl.kind = 'agent' THEN tpl.step END AS agent,
        CASE WHEN tpl.kind = 'llm' THEN ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'local'][
                 1 + (hash(t.t, tpl.pos, 'model') % 4)::BIGINT] END AS model
    FROM t CROSS JOIN tpl
),
y AS (
    SELECT *, t0 + to_microseconds(CAST(off_s * 1e6 AS BIGINT)) AS start_time,
        coalesce(len_s, 0.05 + u * 0.75) AS latency,
        hash(t, pos, 'err') % 50 = 0 AS failed,
        100 + hash(t, pos, 'in') % 2000 AS tin, 10 + hash(t, pos, 'out') % 400 AS tout
    FROM x
)
SELECT trace_id, printf('%016x', t * 16 + pos),
    CASE WHEN parent IS NOT NULL THEN printf('%016x', t * 16 + parent) END,
    CASE kind WHEN 'agent' THEN 'invoke_agent ' || agent WHEN 'tool' THEN 'execute_tool ' || tool
        ELSE 'chat' END,
    kind, start_time, start_time + to_microseconds(CAST(latency * 1e6 AS BIGINT)), latency,
    CASE WHEN model IS NOT NULL THEN 'openai' END, model,
    CASE kind WHEN 'agent' THEN 'invoke_agent' WHEN 'tool' THEN 'execute_tool' ELSE 'chat' END,
    user_id, 'bench', CASE WHEN failed THEN 'error' ELSE 'ok' END,
    CASE WHEN failed THEN 'RateLimitError' END,
    CASE WHEN model IS NOT NULL THEN tin END, CASE WHEN model IS NOT NULL THEN tout END,
    CASE model WHEN 'gpt-4o' THEN (tin * 2.5 + tout * 10.0) / 1e6
               WHEN 'gpt-4o-mini' THEN (tin * 0.15 + tout * 0.6) / 1e6
               WHEN 'claude-sonnet' THEN (tin * 3.0 + tout * 15.0) / 1e6 END,
    CASE WHEN kind = 'tool' AND NOT no_content THEN
        CASE WHEN looping AND loop_same_args THEN '{{"q": "loop"}}'
             ELSE '{{"q": "term-' || (hash(t, pos, 'arg') % 40) || '"}}' END END,
    CASE WHEN kind = 'tool' AND NOT no_content THEN 'result ' || (hash(t, pos) % 1000) END,
    '{{}}', session_id,
    CASE WHEN kind = 'agent' THEN agent WHEN third_party THEN NULL ELSE owner END,
    tool
FROM y
"""

SCORES = """
INSERT INTO scores (trace_id, span_id, name, value, source, created_at)
SELECT printf('%032x', range), printf('%016x', range * 16 + 1), 'quality',
       (hash(range, 'q') % 1000) / 1000.0, 'bench', TIMESTAMPTZ '2025-04-01 00:00:00+00'
FROM range(?)
UNION ALL
SELECT printf('%032x', range), NULL, 'thumbs', (hash(range, 'th') % 2)::DOUBLE, 'bench',
       TIMESTAMPTZ '2025-04-01 00:00:00+00'
FROM range(?) WHERE hash(range, 'thumbs') % 10 = 0
"""


def _literal(value: object) -> str:
    return "NULL" if value is None else f"'{value}'" if isinstance(value, str) else repr(value)


def generate(path: Path, traces: int) -> None:
    """A store created by the package, then filled by DuckDB (no Python loop over rows)."""
    Store(path).close()
    rows = [
        (*row, OWNER.get(row[0], "planner" if row[1] is not None else None)) for row in TEMPLATE
    ]
    values = ", ".join("(" + ", ".join(map(_literal, row)) + ")" for row in rows)
    con = connect(str(path))
    con.execute(GENERATE.format(template=values), [traces])
    con.execute(SCORES, [traces, traces])
    con.execute("CHECKPOINT")
    con.close()


# ---- the same questions, written by hand in DuckDB SQL ------------------------------------------

MODEL = "(kind IN ('llm', 'embedding') OR (kind = 'evaluator' AND model IS NOT NULL))"
AGENT = "(kind = 'agent' AND operation IS DISTINCT FROM 'create_agent')"
STEP_NAME = (
    "coalesce(CASE kind WHEN 'agent' THEN agent_name WHEN 'tool' THEN tool_name END, name, "
    "'(unnamed)')"
)

SESSION_ROWS = f"""
    per AS (
        SELECT session_id, arg_min(user_id, start_time) AS user_id,
               count(DISTINCT trace_id) AS turns,
               count(*) FILTER (WHERE {MODEL}) AS calls,
               count(*) FILTER (WHERE {MODEL} AND status = 'error') AS errors,
               count(cost_usd) FILTER (WHERE {MODEL}) AS priced,
               sum(cost_usd) FILTER (WHERE {MODEL}) AS total,
               coalesce(sum(input_tokens) FILTER (WHERE {MODEL}), 0) AS input_tokens,
               coalesce(sum(output_tokens) FILTER (WHERE {MODEL}), 0) AS output_tokens,
               min(start_time) AS first_activity,
               max(coalesce(end_time, start_time)) AS last_activity
        FROM spans WHERE session_id IS NOT NULL GROUP BY session_id
    ),
    firsts AS (
        SELECT trace_id, session_id FROM llm_calls
        QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY kind <> 'llm', start_time) = 1
    ),
    scored AS (
        SELECT CASE WHEN c.span_id IS NOT NULL THEN c.session_id ELSE f.session_id END
                   AS session_id, s.value
        FROM scores s
        LEFT JOIN llm_calls c ON c.span_id = s.span_id
        LEFT JOIN firsts f ON c.span_id IS NULL AND f.trace_id = s.trace_id
        WHERE s.value IS NOT NULL
    ),
    by_session AS (
        SELECT session_id, count(*) AS score_n, sum(value) AS score_sum FROM scored
        WHERE session_id IS NOT NULL GROUP BY session_id
    ),
    rows AS (SELECT * FROM per LEFT JOIN by_session USING (session_id))"""

COST = "CASE WHEN {n} = 0 THEN 0.0 WHEN {p} = 0 THEN NULL ELSE {t} END"

HAND_SESSIONS = f"""
    WITH {SESSION_ROWS}
    SELECT session_id, user_id, turns, calls, errors,
           (epoch_us(last_activity) - epoch_us(first_activity)) / 1e6 AS duration_s,
           {COST.format(n="calls", p="priced", t="total")} AS cost_usd,
           input_tokens, output_tokens, score_sum / score_n AS mean_score,
           first_activity, last_activity
    FROM rows ORDER BY last_activity DESC, session_id"""

HAND_USERS = f"""
    WITH {SESSION_ROWS}
    SELECT user_id, count(*) AS sessions, sum(turns) AS turns, sum(calls) AS calls,
           sum(errors) AS errors,
           sum((epoch_us(last_activity) - epoch_us(first_activity)) / 1e6) AS duration_s,
           {COST.format(n="sum(calls)", p="sum(priced)", t="sum(total)")} AS cost_usd,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(score_sum) / nullif(sum(coalesce(score_n, 0)), 0) AS mean_score,
           min(first_activity) AS first_activity, max(last_activity) AS last_activity
    FROM rows GROUP BY user_id ORDER BY last_activity DESC, user_id NULLS LAST"""

# Nearest agent above each tool span (the walk stops at the first agent), the tool spans'
# model-call descendants (the walk goes to the root), grouped.
HAND_TOOL_USAGE = f"""
    WITH RECURSIVE
    s AS (SELECT trace_id, span_id, parent_span_id, kind, operation, model, agent_name,
                 tool_name, name, status, latency_s, cost_usd FROM spans),
    up(trace_id, span_id, anc, depth) AS (
        SELECT trace_id, span_id, parent_span_id, 1 FROM s
        WHERE kind = 'tool' AND parent_span_id IS NOT NULL
        UNION ALL
        SELECT u.trace_id, u.span_id, p.parent_span_id, u.depth + 1
        FROM up u JOIN s p ON p.trace_id = u.trace_id AND p.span_id = u.anc
        WHERE NOT {AGENT.replace("kind", "p.kind").replace("operation", "p.operation")}
          AND p.parent_span_id IS NOT NULL AND u.depth < 1024
    ),
    owners AS (
        SELECT u.trace_id, u.span_id,
               coalesce(a.agent_name, a.name, '(unnamed)') AS owner
        FROM up u JOIN s a ON a.trace_id = u.trace_id AND a.span_id = u.anc
        WHERE {AGENT.replace("kind", "a.kind").replace("operation", "a.operation")}
    ),
    down(trace_id, span_id, cost_usd, anc, depth) AS (
        SELECT trace_id, span_id, cost_usd, parent_span_id, 1 FROM s
        WHERE {MODEL} AND parent_span_id IS NOT NULL
        UNION ALL
        SELECT d.trace_id, d.span_id, d.cost_usd, p.parent_span_id, d.depth + 1
        FROM down d JOIN s p ON p.trace_id = d.trace_id AND p.span_id = d.anc
        WHERE p.parent_span_id IS NOT NULL AND d.depth < 1024
    ),
    inside AS (
        SELECT d.trace_id, d.anc AS span_id, count(*) AS n, count(d.cost_usd) AS p,
               sum(d.cost_usd) AS t
        FROM down d JOIN s t ON t.trace_id = d.trace_id AND t.span_id = d.anc
        WHERE t.kind = 'tool' GROUP BY ALL
    )
    SELECT coalesce(o.owner, t.agent_name) AS agent_name,
           coalesce(t.tool_name, t.name, '(unnamed)') AS tool_name,
           count(*) AS calls, count(*) FILTER (WHERE t.status = 'error') AS errors,
           count(*) FILTER (WHERE t.status = 'error') / count(*) AS error_rate,
           CASE WHEN count(t.latency_s) >= 2 THEN quantile_cont(t.latency_s, 0.5) END
               AS latency_p50_s,
           CASE WHEN count(t.latency_s) >= 20 THEN quantile_cont(t.latency_s, 0.95) END
               AS latency_p95_s,
           sum(t.latency_s) AS total_latency_s,
           {COST.format(n="coalesce(sum(i.n), 0)", p="sum(i.p)", t="sum(i.t)")} AS cost_usd
    FROM s t
    LEFT JOIN owners o ON o.trace_id = t.trace_id AND o.span_id = t.span_id
    LEFT JOIN inside i ON i.trace_id = t.trace_id AND i.span_id = t.span_id
    WHERE t.kind = 'tool' GROUP BY ALL
    ORDER BY calls DESC, agent_name NULLS LAST, tool_name"""

# Loops: the same tool with the same known arguments ≥ 3 times in a trace; unknown arguments:
# ≥ 3 in a row among the trace's tool calls (gaps and islands).
LOOPS = """
    tools AS (
        SELECT trace_id, span_id, coalesce(tool_name, name, '(unnamed)') AS tool,
               input_text AS args, start_time, coalesce(end_time, start_time) AS end_at,
               row_number() OVER (PARTITION BY trace_id ORDER BY start_time, span_id) AS i,
               row_number() OVER (PARTITION BY trace_id, coalesce(tool_name, name, '(unnamed)'),
                   input_text IS NULL ORDER BY start_time, span_id) AS j
        FROM spans WHERE kind = 'tool'
    ),
    loops AS (
        SELECT trace_id, tool, args, count(*) AS repeats, min(start_time) AS first_start,
               max(end_at) AS last_end, arg_min(span_id, (start_time, span_id)) AS first_span,
               list(span_id) AS members
        FROM tools GROUP BY trace_id, tool, args, CASE WHEN args IS NULL THEN i - j END
        HAVING count(*) >= {repeats}
    )"""

HAND_PATHS = f"""
    WITH {LOOPS.format(repeats=3)},
    t AS (
        SELECT trace_id,
               string_agg({STEP_NAME}, ' → ' ORDER BY start_time, span_id)
                   FILTER (WHERE {AGENT} OR kind = 'tool') AS path,
               count(*) FILTER (WHERE {AGENT} OR kind = 'tool') AS steps,
               {
    COST.format(
        n=f"count(*) FILTER (WHERE {MODEL})",
        p=f"count(cost_usd) FILTER (WHERE {MODEL})",
        t=f"sum(cost_usd) FILTER (WHERE {MODEL})",
    )
} AS cost,
               (epoch_us(max(coalesce(end_time, start_time))) - epoch_us(min(start_time)))
                   / 1e6 AS latency,
               bool_or(status = 'error') AS failed, min(start_time) AS started
        FROM spans GROUP BY trace_id
        HAVING count(*) FILTER (WHERE {AGENT} OR kind = 'tool') > 0
    )
    SELECT path, any_value(steps) AS steps, count(*) AS traces,
           count(*) / sum(count(*)) OVER () AS share, avg(cost) AS mean_cost_usd,
           avg(latency) AS mean_latency_s, count(*) FILTER (WHERE failed) AS errors,
           bool_or(trace_id IN (SELECT trace_id FROM loops)) AS has_loop,
           arg_max(trace_id, (started, trace_id)) AS example_trace_id
    FROM t GROUP BY path ORDER BY traces DESC, path"""

HAND_LOOPS = f"""
    WITH RECURSIVE {LOOPS.format(repeats=3)},
    s AS (
        SELECT trace_id, span_id, parent_span_id, kind, operation, model, agent_name, name,
               start_time, cost_usd, session_id
        FROM spans WHERE trace_id IN (SELECT trace_id FROM loops)
    ),
    up(trace_id, span_id, anc, depth) AS (
        SELECT trace_id, span_id, parent_span_id, 1 FROM s WHERE parent_span_id IS NOT NULL
        UNION ALL
        SELECT u.trace_id, u.span_id, p.parent_span_id, u.depth + 1
        FROM up u JOIN s p ON p.trace_id = u.trace_id AND p.span_id = u.anc
        WHERE p.parent_span_id IS NOT NULL AND u.depth < 1024
    ),
    pairs AS (
        SELECT u.trace_id, u.span_id, u.anc, u.depth, a.kind, a.operation,
               coalesce(a.agent_name, a.name, '(unnamed)') AS label
        FROM up u JOIN s a ON a.trace_id = u.trace_id AND a.span_id = u.anc
    ),
    owner AS (
        SELECT x.trace_id, x.span_id,
               arg_min(p.anc, p.depth) FILTER (WHERE {
    AGENT.replace("kind", "p.kind").replace("operation", "p.operation")
}) AS owner_id,
               coalesce(arg_min(p.label, p.depth) FILTER (WHERE {
    AGENT.replace("kind", "p.kind").replace("operation", "p.operation")
}),
                   CASE WHEN NOT {
    AGENT.replace("kind", "any_value(x.kind)").replace("operation", "any_value(x.operation)")
} THEN any_value(x.agent_name) END)
                   AS owner
        FROM s x LEFT JOIN pairs p ON p.trace_id = x.trace_id AND p.span_id = x.span_id
        GROUP BY x.trace_id, x.span_id
    ),
    calls AS (
        SELECT c.trace_id, c.span_id, c.start_time, c.cost_usd, o.owner_id, o.owner
        FROM s c JOIN owner o USING (trace_id, span_id) WHERE {
    MODEL.replace("kind", "c.kind").replace("model IS", "c.model IS")
}
    ),
    firsts AS (
        SELECT l.*, o.owner_id, o.owner FROM loops l
        JOIN owner o ON o.trace_id = l.trace_id AND o.span_id = l.first_span
    ),
    spent AS (
        SELECT DISTINCT f.trace_id, f.first_span, c.span_id, c.cost_usd FROM firsts f
        JOIN calls c ON c.trace_id = f.trace_id
        WHERE c.owner_id IS NOT DISTINCT FROM f.owner_id
          AND c.owner IS NOT DISTINCT FROM f.owner
          AND c.start_time BETWEEN f.first_start AND f.last_end
        UNION
        SELECT f.trace_id, f.first_span, c.span_id, c.cost_usd FROM firsts f
        JOIN pairs p ON p.trace_id = f.trace_id AND list_contains(f.members, p.anc)
        JOIN calls c ON c.trace_id = p.trace_id AND c.span_id = p.span_id
    ),
    loop_cost AS (
        SELECT trace_id, first_span,
               {COST.format(n="count(*)", p="count(cost_usd)", t="sum(cost_usd)")} AS usd
        FROM spent GROUP BY ALL
    ),
    traces AS (
        SELECT trace_id, arg_min(session_id, start_time) AS session_id,
               {
    COST.format(
        n=f"count(*) FILTER (WHERE {MODEL})",
        p=f"count(cost_usd) FILTER (WHERE {MODEL})",
        t=f"sum(cost_usd) FILTER (WHERE {MODEL})",
    )
} AS cost
        FROM s GROUP BY trace_id
    )
    SELECT f.trace_id, t.session_id, f.owner AS agent_name, f.tool AS tool_name,
           f.args AS arguments, f.args IS NOT NULL AS arguments_known, f.repeats,
           coalesce(lc.usd, 0.0) AS loop_cost_usd, t.cost AS trace_cost_usd,
           f.first_start
    FROM firsts f JOIN traces t USING (trace_id)
    LEFT JOIN loop_cost lc ON lc.trace_id = f.trace_id AND lc.first_span = f.first_span
    ORDER BY trace_cost_usd DESC NULLS LAST, f.trace_id, f.first_start"""

Question = tuple[Callable[[object], pl.DataFrame], str, list[str]]
QUESTIONS: dict[str, Question] = {
    "sessions": (lambda src: analytics.sessions(src), HAND_SESSIONS, ["session_id"]),
    'sessions(by="user")': (
        lambda src: analytics.sessions(src, by="user"),
        HAND_USERS,
        ["user_id"],
    ),
    "tool_usage": (
        lambda src: analytics.tool_usage(src),
        HAND_TOOL_USAGE,
        ["agent_name", "tool_name"],
    ),
    "agent_paths": (lambda src: analytics.agent_paths(src), HAND_PATHS, ["path"]),
    "tool_loops": (
        lambda src: analytics.tool_loops(src),
        HAND_LOOPS,
        ["trace_id", "first_start", "tool_name"],
    ),
}


def agree(ours: pl.DataFrame, sql: pl.DataFrame, keys: list[str], name: str) -> None:
    """The hand-written answer, typed like ours, must hold the same rows (floats to 1e-9).
    Rows are compared in the order of their keys: floating-point sums made in parallel
    differ in their last bits from run to run, so two rows whose sort figure is equal (two
    traces of the same cost) may come in either order, in both answers."""
    typed = sql.select(pl.col(c).cast(t) for c, t in ours.schema.items())
    try:
        assert_frame_equal(
            ours.sort(keys, nulls_last=True),
            typed.sort(keys, nulls_last=True),
            rel_tol=1e-9,
            abs_tol=1e-12,
        )
    except AssertionError as exc:
        raise SystemExit(f"{name}: llmobs and the hand-written SQL disagree:\n{exc}") from exc


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up: imports, caches, first touch of pages
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def fmt(times: list[float]) -> str:
    low, high = min(times) * 1e3, max(times) * 1e3
    return f"{statistics.median(times) * 1e3:6.0f} ms [{low:5.0f}–{high:5.0f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=62_500, help="16 spans each (1M default)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "agents.duckdb"
        start = time.perf_counter()
        generate(db, args.traces)
        print(
            f"{args.traces * len(TEMPLATE):,} spans in {args.traces:,} traces generated in "
            f"{time.perf_counter() - start:.1f} s ({db.stat().st_size / 2**20:.0f} MiB); 2 cores; "
            f"median [min–max] of {args.repeat} runs after a warm-up"
        )
        # The path opens (and closes) the file per question; timed before the connection below
        # is open (one configuration per file and process: store.connect).
        by_path = {
            name: timed(lambda f=fn: f(str(db)), args.repeat)
            for name, (fn, _, _) in QUESTIONS.items()
        }
        con = connect(str(db), read_only=True)
        heads = ("llmobs (path)", "llmobs (connection)", "hand SQL")
        print(f"\n{'question':22} " + " ".join(f"{h:>26}" for h in heads) + f" {'ratio':>6}")
        for name, (fn, sql, keys) in QUESTIONS.items():
            agree(fn(con), con.sql(sql).pl(), keys, name)
            ours = timed(lambda f=fn: f(con), args.repeat)
            hand = timed(lambda q=sql: con.sql(q).pl(), args.repeat)
            ratio = statistics.median(ours) / statistics.median(hand)
            print(
                f"{name:22} {fmt(by_path[name]):>26} {fmt(ours):>26} {fmt(hand):>26} {ratio:5.2f}x"
            )
        counts = con.sql(
            "SELECT count(*) FILTER (WHERE kind = 'tool'), count(DISTINCT session_id) FROM spans"
        ).fetchall()[0]
        loops = analytics.tool_loops(con)
        print(
            f"\n{counts[0]:,} tool calls, {counts[1]:,} sessions, {loops.height:,} tool loops "
            f"({loops['arguments_known'].sum():,} with known arguments); every answer equal to "
            "the hand-written SQL's"
        )
        con.close()


if __name__ == "__main__":
    main()
