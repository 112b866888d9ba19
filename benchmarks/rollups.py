"""Rollups at scale: what they cost the flush and the file, and what they give the reads.

On a store of N calls over 30 days (generated straight in DuckDB SQL, 5 models, 4 use cases,
3 runs, 2 % errors, lognormal latencies; default 1M, ``--calls 10000000`` for 10M):

1. **Build**: ``rebuild_rollups()`` time, the rollup rows, and the file's growth (file size
   after CHECKPOINT with the rollups vs. without them).
2. **Upkeep in the writer**: flush-sized inserts of ``--batch`` rows (default 500), and the
   catch-ups that roll them up (every ``rollups.CATCH_UP_ROWS`` rows, a compaction every
   ``rollups.COMPACT_EVERY``), timed apart: the catch-ups' time as a share of the inserts'.
3. **Reads**: the dashboard's questions, exact (llmobs_nb on the file, DuckDB pushdown, the
   baseline of the same run) vs. ``approx=True`` (rollups), and the same question as
   hand-written DuckDB SQL on ``llm_calls``: ratios approx / exact and approx / SQL.
4. **Upkeep in the capture path**: an observer traces ``--capture-calls`` calls (default
   120,000); the catch-ups' share of the flush thread's time (``BufferingProcessor._flush``,
   which runs them, timed around the real code).

Prints medians and ranges of ``--repeats`` repeats. Never asserts (machines are noisy).

    .venv/bin/python benchmarks/rollups.py                      # 1M calls
    .venv/bin/python benchmarks/rollups.py --calls 10000000     # 10M calls
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import llmobs_nb
from llmobs_nb import analytics
from llmobs_nb.store import Store, rollups
from llmobs_nb.store.connect import connect

GENERATE = """
INSERT INTO spans BY NAME
SELECT printf('%032x', i) AS trace_id, printf('%016x', i + 1) AS span_id, 'chat' AS name,
       'llm' AS kind, t AS start_time, t + to_microseconds(CAST(lat * 1e6 AS BIGINT)) AS end_time,
       lat AS latency_s, CASE WHEN i % 3 = 0 THEN lat * 0.2 END AS ttft_s,
       CASE WHEN m < 2 THEN 'openai' WHEN m < 4 THEN 'anthropic' ELSE 'local' END AS provider,
       ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'claude-haiku', 'local'][m + 1] AS model,
       'chat' AS operation,
       ['support', 'search', 'summarise', 'extract'][(i // 7) % 4 + 1] AS use_case,
       'user-' || (i * 7919 % 5000) AS user_id, ['v1', 'v2', 'v3'][(i // 11) % 3 + 1] AS run,
       'demo' AS project, CASE WHEN err THEN 'error' ELSE 'ok' END AS status,
       CASE WHEN err THEN 'Timeout' END AS error_type,
       800 + i % 400 AS input_tokens, 150 + i % 100 AS output_tokens,
       CASE WHEN m = 4 THEN NULL ELSE (800 + i % 400) * 2.5e-6 + (150 + i % 100) * 1e-5 END
           AS cost_usd
FROM (
    SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00'
              + to_microseconds(CAST(i * (30 * 86400e6 / $n) AS BIGINT)) AS t,
           CAST(floor(random() * 5) AS INTEGER) AS m,
           exp(ln(1.2) + 0.6 * sqrt(-2 * ln(random())) * cos(2 * pi() * random())) AS lat,
           random() < 0.02 AS err
    FROM range($n) r(i)
)
"""


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def fmt(times: list[float]) -> str:
    return (
        f"median {statistics.median(times) * 1e3:8.1f} ms "
        f"({min(times) * 1e3:.1f}–{max(times) * 1e3:.1f})"
    )


def size_mb(path: Path) -> float:
    return os.path.getsize(path) / 2**20


def build(path: Path, n: int) -> None:
    store = Store(path)
    with store._connection() as con:
        con.execute("SELECT setseed(0.42)")
        con.execute(GENERATE, {"n": n})
        con.execute("DELETE FROM rollup_calls; DELETE FROM rollup_sketches")
        con.execute("CHECKPOINT")
    without = size_mb(path)
    t = time.perf_counter()
    rolled = store.rebuild_rollups()
    took = time.perf_counter() - t
    with store._connection() as con:
        con.execute("CHECKPOINT")
        rows = con.execute(
            "SELECT (SELECT count(*) FROM rollup_calls), (SELECT count(*) FROM rollup_sketches)"
        ).fetchone()
    store.close()
    print(f"store: {n:,} calls, {without:,.0f} MiB without rollups")
    print(
        f"rebuild_rollups: {took:.2f} s for {rolled:,} calls; rollup_calls {rows[0]:,} rows, "
        f"rollup_sketches {rows[1]:,} rows; file {size_mb(path):,.0f} MiB "
        f"(+{size_mb(path) - without:,.1f} MiB, +{(size_mb(path) / without - 1) * 100:.1f} %)"
    )


def upkeep(path: Path, batch: int, repeats: int) -> None:
    """Flush-sized inserts; the writer's catch-ups (every CATCH_UP_ROWS rows, with a
    compaction every COMPACT_EVERY) are timed apart and spread over the rows they cover."""
    store = Store(path)
    template = store.query(f"SELECT * FROM spans LIMIT {batch}").to_arrow()
    flushes, catch_ups, rolled = [], [], 0
    for _ in range(repeats):
        for _ in range(rollups.CATCH_UP_ROWS * rollups.COMPACT_EVERY // batch):
            t = time.perf_counter()
            store._insert("spans", template)
            flushes.append(time.perf_counter() - t)
            store._unrolled += batch
            if store._unrolled >= rollups.CATCH_UP_ROWS:
                t = time.perf_counter()
                rolled += store.catch_up_rollups()
                catch_ups.append(time.perf_counter() - t)
    store.close()
    per_flush = sum(catch_ups) / len(flushes)
    share = sum(catch_ups) / sum(flushes) * 100
    print(
        f"flushes of {batch} rows: insert {fmt(flushes)} ({len(flushes)} flushes); catch-ups "
        f"of {rollups.CATCH_UP_ROWS:,} rows {fmt(catch_ups)} ({len(catch_ups)}, compaction "
        f"every {rollups.COMPACT_EVERY} included); upkeep {per_flush * 1e3:.2f} ms per flush "
        f"= {share:.1f} % of the inserts' time"
    )


def capture_upkeep(calls: int) -> None:
    """Upkeep where it runs: an observer's flush thread over ``calls`` traced calls, the
    time spent in catch-ups as a share of the flush thread's whole time (conversion,
    validation, pricing, redaction, insert)."""
    from llmobs_nb.capture import tracing
    from llmobs_nb.store import store as store_module

    spent = {"flush": 0.0, "catch_up": 0.0}

    def timing(owner: Any, name: str, key: str) -> Callable[..., Any]:
        real = getattr(owner, name)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - began

        setattr(owner, name, timed_call)
        return real

    real_flush = timing(tracing.BufferingProcessor, "_flush", "flush")
    real_catch_up = timing(store_module.Store, "catch_up_rollups", "catch_up")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            obs = llmobs_nb.init(db=Path(tmp) / "capture.duckdb", project="upkeep")

            @obs.observe(name="ask", kind="llm", model="gpt-4o", use_case="support")
            def ask(i: int) -> dict[str, Any]:
                usage = {"prompt_tokens": 800 + i % 50, "completion_tokens": 143}
                return {"model": "gpt-4o", "usage": usage}

            for i in range(calls):
                ask(i)
            obs.close()
    finally:
        tracing.BufferingProcessor._flush = real_flush
        store_module.Store.catch_up_rollups = real_catch_up
    print(
        f"capture path, {calls:,} traced calls: flush thread {spent['flush']:.2f} s, of which "
        f"catch-ups {spent['catch_up']:.2f} s = {spent['catch_up'] / spent['flush'] * 100:.1f} %"
    )


QUESTIONS: list[tuple[str, Callable[..., Any], dict[str, Any], str]] = [
    (
        "summary",
        analytics.summary,
        {},
        "SELECT count(*), count(*) FILTER (WHERE status = 'error'), count(cost_usd), "
        "sum(cost_usd), count(latency_s), quantile_cont(latency_s, [0.5, 0.95]), "
        "min(start_time), max(start_time) FROM llm_calls",
    ),
    (
        "latency p50/p95/p99 by model per 6h",
        analytics.latency_percentiles,
        {"by": "model", "every": "6h"},
        "SELECT model, epoch_us(start_time) // 21600000000, count(latency_s), "
        "quantile_cont(latency_s, [0.5, 0.95, 0.99]) FROM llm_calls GROUP BY ALL",
    ),
    (
        "cost by model per day",
        analytics.cost_breakdown,
        {"by": "model", "every": "1d"},
        "SELECT model, epoch_us(start_time) // 86400000000, count(*), count(cost_usd), "
        "sum(cost_usd), sum(input_tokens) FILTER (WHERE cost_usd IS NULL) FROM llm_calls "
        "GROUP BY ALL",
    ),
    (
        "error rates by model per 6h",
        analytics.error_rates,
        {"by": "model", "every": "6h"},
        "SELECT model, epoch_us(start_time) // 21600000000, status, error_type, count(*) "
        "FROM llm_calls GROUP BY ALL",
    ),
]


def reads(path: Path, repeats: int) -> None:
    where = analytics.Filter(models=("gpt-4o", "claude-sonnet"), runs=("v2",))
    print(f"reads ({repeats} repeats each; 'filtered' = models gpt-4o, claude-sonnet, run v2):")
    con = connect(str(path), read_only=True)
    for name, fn, options, sql in QUESTIONS:
        for label, filt in (("all", None), ("filtered", where)):
            exact = timed(functools.partial(fn, str(path), where=filt, **options), repeats)
            approx = timed(
                functools.partial(fn, str(path), where=filt, approx=True, **options), repeats
            )
            if filt is None:
                by_hand = timed(functools.partial(lambda q: con.sql(q).fetchall(), sql), repeats)
                ratio = statistics.median(approx) / statistics.median(by_hand)
                hand = f"; DuckDB SQL by hand {fmt(by_hand)}; approx / SQL {ratio:.2f}×"
            else:
                hand = ""
            print(
                f"  {name} [{label}]: exact {fmt(exact)}; approx {fmt(approx)}; "
                f"approx / exact {statistics.median(approx) / statistics.median(exact):.2f}×"
                f"{hand}"
            )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--capture-calls", type=int, default=120_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rollups.duckdb"
        build(path, args.calls)
        reads(path, args.repeats)
        upkeep(path, args.batch, max(1, args.repeats // 2))
    capture_upkeep(args.capture_calls)


if __name__ == "__main__":
    main()
