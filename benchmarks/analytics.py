"""Analytics speed: each llmobs_nb.analytics function against the same question answered by
hand-written DuckDB SQL and by pandas, in the same run, on 1M (default) or 10M synthetic calls.

Two settings: data in memory (a polars frame for llmobs, a pandas frame, a DuckDB in-memory
table) and data in a DuckDB file (llmobs given the path, so it pushes down; SQL on the same
file). Prints medians, the ratio llmobs / best baseline, and peak memory. Never asserts.

    .venv/bin/python benchmarks/analytics.py            # 1M calls
    .venv/bin/python benchmarks/analytics.py --10m      # 10M calls (numpy generator)
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.store.connect import connect

T0 = datetime(2025, 3, 1, tzinfo=UTC)
KEEP = [
    "trace_id",
    "span_id",
    "kind",
    "start_time",
    "latency_s",
    "ttft_s",
    "model",
    "use_case",
    "user_id",
    "run",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost_usd",
]


def numpy_calls(n: int, days: int = 30, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lean synthetic calls and one quality score per call, vectorised (for 10M rows)."""
    rng = np.random.default_rng(seed)
    models = np.array(["gpt-4o", "gpt-4o-mini", "claude-sonnet", "claude-haiku", "local"])
    m = rng.choice(5, size=n, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    seconds = np.sort(rng.uniform(0, days * 86_400, size=n))
    latency = rng.lognormal(np.log([2.0, 0.8, 2.5, 1.0, 1.2])[m], 0.5)
    tokens_in, tokens_out = rng.poisson(800, size=n), rng.poisson(200, size=n)
    cost = np.array([10.0, 0.6, 15.0, 4.0, np.nan])[m] * (tokens_in + tokens_out) / 1e6
    error = rng.uniform(size=n) < 0.015
    ids = pl.int_range(0, n, eager=True).cast(pl.String)
    calls = pl.DataFrame(
        {
            "trace_id": ids,
            "span_id": ids,
            "kind": "llm",
            "start_time": pl.from_epoch(
                pl.Series((T0.timestamp() + seconds) * 1e6).cast(pl.Int64), "us"
            ).dt.replace_time_zone("UTC"),
            "latency_s": latency,
            "ttft_s": np.where(rng.uniform(size=n) < 0.6, latency * 0.2, np.nan),
            "model": models[m],
            "use_case": rng.choice(["support", "search", "summarise", "docs_qa"], size=n),
            "user_id": pl.Series(rng.integers(0, 200, size=n)).cast(pl.String),
            "run": rng.choice(["prompt-v1", "prompt-v2", "none"], size=n),
            "status": np.where(error, "error", "ok"),
            "error_type": np.where(error, "RateLimitError", ""),
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cached_input_tokens": rng.binomial(tokens_in, 0.2),
            "reasoning_tokens": np.zeros(n, dtype=np.int64),
            "cost_usd": cost,
        }
    ).with_columns(
        pl.col("ttft_s").fill_nan(None),
        pl.col("cost_usd").fill_nan(None),
        pl.col("error_type").replace("", None),
    )
    scores = pl.DataFrame(
        {
            "trace_id": ids,
            "span_id": ids,
            "name": "quality",
            "value": np.clip(rng.normal(0.82, 0.08, size=n), 0, 1),
        }
    )
    return calls, scores


def load(n: int, source: str) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    if source != "numpy":
        try:
            from llmobs_nb.demo import generate
        except ImportError:
            generate = None
        if generate is not None:
            sample = generate(n, days=30, seed=0)
            return sample.calls.select(KEEP), sample.scores, "llmobs_nb.demo.generate"
    calls, scores = numpy_calls(n)
    return calls, scores, "numpy generator (benchmarks/analytics.py)"


# ---- the questions, by hand ------------------------------------------------------------------


def hand_bootstrap(arrays: dict[str, list[np.ndarray]], n_boot: int = 1000) -> dict:
    """The bootstrap a user writes by hand: full-size resamples, 100 at a time, per metric."""
    rng = np.random.default_rng(0)
    out = {}
    for metric, (a, b) in arrays.items():
        stat = (
            (lambda s: np.quantile(s, 0.95, axis=1))
            if metric == "p95"
            else (
                (lambda s: np.quantile(s, 0.5, axis=1))
                if metric == "p50"
                else (lambda s: s.mean(axis=1))
            )
        )
        reps = []
        for x in (a, b):
            r = np.concatenate(
                [stat(x[rng.integers(0, len(x), size=(100, len(x)))]) for _ in range(n_boot // 100)]
            )
            reps.append(r)
        out[metric] = np.percentile(reps[1] - reps[0], [2.5, 97.5])
    return out


def run_arrays(frames: list[pd.DataFrame]) -> dict[str, list[np.ndarray]]:
    def col(f: pd.DataFrame, name: str) -> np.ndarray:
        return f[name].dropna().to_numpy(dtype=float)

    return {
        "p50": [col(f, "latency_s") for f in frames],
        "p95": [col(f, "latency_s") for f in frames],
        "cost": [col(f, "cost_usd") for f in frames],
        "tokens": [
            (f["input_tokens"] + f["output_tokens"]).dropna().to_numpy(float) for f in frames
        ],
        "errors": [(f["status"] == "error").to_numpy(float) for f in frames],
    }


SQL = {
    "latency_percentiles by model × hour": """
        SELECT model, time_bucket(INTERVAL 1 hour, start_time) AS bucket, count(latency_s) n,
               quantile_cont(latency_s, [0.5, 0.95, 0.99]) q
        FROM {t} GROUP BY ALL""",
    "ttft_percentiles by model": """
        SELECT model, count(ttft_s) n, quantile_cont(ttft_s, [0.5, 0.95, 0.99]) q
        FROM {t} GROUP BY ALL""",
    "token_usage by model × day": """
        SELECT model, time_bucket(INTERVAL 1 day, start_time) AS bucket, count(*) calls,
               sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
               sum(reasoning_tokens)
        FROM {t} GROUP BY ALL""",
    "cost_breakdown by model × use_case": """
        SELECT model, use_case, count(*) calls, count(cost_usd) priced, sum(cost_usd) cost,
               sum(input_tokens + output_tokens) FILTER (WHERE cost_usd IS NULL) unpriced_tokens
        FROM {t} GROUP BY ALL""",
    "top_costs by user_id": """
        SELECT user_id, sum(cost_usd) cost, count(*) calls, count(cost_usd) priced,
               min(start_time) first_call, max(start_time) last_call FROM {t}
        GROUP BY ALL ORDER BY cost DESC NULLS LAST LIMIT 10""",
    "error_rates by hour × error_type": """
        SELECT time_bucket(INTERVAL 1 hour, start_time) AS bucket, status, error_type,
               count(*) n
        FROM {t} GROUP BY ALL""",
    "quality_drift by model": """
        WITH s AS (SELECT c.model, c.start_time, v.value FROM {s} v JOIN {t} c USING (span_id)),
        r AS (SELECT *, row_number() OVER (PARTITION BY model ORDER BY start_time) i,
                 count(*) OVER (PARTITION BY model) k FROM s)
        SELECT model, avg(value) FILTER (WHERE i <= 100) baseline,
               avg(value) FILTER (WHERE i > k - 20) current, count(*) n
        FROM r GROUP BY model""",
    "cost_anomalies (hourly, user × model, daily)": """
        SELECT user_id, model, time_bucket(INTERVAL 1 hour, start_time) AS bucket,
               sum(cost_usd) cost
        FROM {t} WHERE cost_usd IS NOT NULL GROUP BY ALL""",
    "compare_runs (estimates + bootstrap CI)": """
        SELECT run, quantile_cont(latency_s, [0.5, 0.95]), avg(cost_usd),
               avg(input_tokens + output_tokens), avg((status = 'error')::INT)
        FROM {t} WHERE run IN ('prompt-v1', 'prompt-v2') GROUP BY run""",
}
RUNS = ("prompt-v1", "prompt-v2")
COMPARE_ROWS = """SELECT run, latency_s, cost_usd, input_tokens, output_tokens, status
    FROM {t} WHERE run = ?"""


def sql_compare(con: duckdb.DuckDBPyConnection, sql: str, table: str) -> object:
    """SQL for the estimates, then the rows of each run into numpy for the bootstrap."""
    estimates = con.sql(sql).pl()
    frames = [con.execute(COMPARE_ROWS.format(t=table), [r]).df() for r in RUNS]
    return estimates, hand_bootstrap(run_arrays(frames))


def pandas_questions(df: pd.DataFrame, sc: pd.DataFrame) -> dict[str, Callable[[], object]]:
    hour = df["start_time"].dt.floor("h")
    day = df["start_time"].dt.floor("D")

    def drift() -> object:
        s = sc[["span_id", "value"]].merge(df[["span_id", "model", "start_time"]], on="span_id")
        s = s.sort_values(["model", "start_time"])
        g = s.groupby("model")["value"]
        return pd.DataFrame(
            {
                "baseline": g.head(100).groupby(s["model"]).mean(),
                "current": g.tail(20).groupby(s["model"]).mean(),
                "n": g.size(),
            }
        )

    def anomalies() -> object:
        priced = df[df["cost_usd"].notna()]
        per = priced.groupby(["user_id", "model", hour[priced.index]])["cost_usd"].sum()
        hourly = per.groupby(level=2).sum()
        return per[per > 5], hourly[hourly > 10], hourly.groupby(hourly.index.floor("D")).sum()

    def compare() -> object:
        runs = df[df["run"].isin(["prompt-v1", "prompt-v2"])]
        g = runs.groupby("run")
        estimates = (
            g["latency_s"].quantile([0.5, 0.95]),
            g["cost_usd"].mean(),
            (runs["input_tokens"] + runs["output_tokens"]).groupby(runs["run"]).mean(),
            (runs["status"] == "error").groupby(runs["run"]).mean(),
        )
        return estimates, hand_bootstrap(run_arrays([g.get_group(r) for r in RUNS]))

    return {
        "latency_percentiles by model × hour": lambda: (
            df.groupby(["model", hour])["latency_s"].quantile([0.5, 0.95, 0.99]).unstack()
        ),
        "ttft_percentiles by model": lambda: (
            df.groupby("model")["ttft_s"].quantile([0.5, 0.95, 0.99]).unstack()
        ),
        "token_usage by model × day": lambda: df.groupby(["model", day])[
            ["input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"]
        ].sum(),
        "cost_breakdown by model × use_case": lambda: df.groupby(["model", "use_case"]).agg(
            calls=("cost_usd", "size"),
            priced=("cost_usd", "count"),
            cost=("cost_usd", lambda c: c.sum(min_count=1)),
        ),
        "top_costs by user_id": lambda: (
            df.groupby("user_id")
            .agg(
                cost=("cost_usd", "sum"),
                calls=("cost_usd", "size"),
                priced=("cost_usd", "count"),
                first_call=("start_time", "min"),
                last_call=("start_time", "max"),
            )
            .nlargest(10, "cost")
        ),
        "error_rates by hour × error_type": lambda: df.groupby(
            [hour, "status", "error_type"], dropna=False
        ).size(),
        "quality_drift by model": drift,
        "cost_anomalies (hourly, user × model, daily)": anomalies,
        "compare_runs (estimates + bootstrap CI)": compare,
    }


def ours(calls: object, scores: object) -> dict[str, Callable[[], object]]:
    return {
        "latency_percentiles by model × hour": lambda: analytics.latency_percentiles(
            calls, by=["model"], every="1h"
        ),
        "ttft_percentiles by model": lambda: analytics.ttft_percentiles(calls, by=["model"]),
        "token_usage by model × day": lambda: analytics.token_usage(
            calls, by=["model"], every="1d"
        ),
        "cost_breakdown by model × use_case": lambda: analytics.cost_breakdown(
            calls, by=["model", "use_case"]
        ),
        "top_costs by user_id": lambda: analytics.top_costs(calls, by="user_id"),
        "error_rates by hour × error_type": lambda: analytics.error_rates(calls, every="1h"),
        "quality_drift by model": lambda: analytics.quality_drift(
            calls, scores=scores, score_name="quality"
        ),
        "cost_anomalies (hourly, user × model, daily)": lambda: analytics.cost_anomalies(calls),
        "compare_runs (estimates + bootstrap CI)": lambda: analytics.compare_runs(
            calls, "prompt-v1", "prompt-v2", scores=scores
        ),
    }


def panels(calls: object, scores: object) -> None:
    """The dashboard's queries together: percentiles by model × hour, cost by model × use
    case, error rate by hour, drift."""
    analytics.latency_percentiles(calls, by=["model"], every="1h")
    analytics.cost_breakdown(calls, by=["model", "use_case"])
    analytics.error_rates(calls, every="1h")
    analytics.quality_drift(calls, scores=scores, score_name="quality")


def hand_sql(
    con: duckdb.DuckDBPyConnection, sql: str, name: str, table: str
) -> Callable[[], object]:
    if name.startswith("compare_runs"):
        return lambda: sql_compare(con, sql, table)
    return lambda: con.sql(sql).pl()


def median_s(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: imports, caches, first-touch of pages
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_gib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its
    # parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def table(title: str, rows: list[tuple[str, float, float, float | None]]) -> None:
    print(f"\n{title}")
    print(f"{'question':46} {'llmobs':>9} {'duckdb':>9} {'pandas':>9} {'ratio':>7}")
    for name, mine, sql, pandas_s in rows:
        best = min(x for x in (sql, pandas_s) if x is not None)
        pd_text = f"{pandas_s * 1e3:7.0f}ms" if pandas_s is not None else "      -  "
        print(f"{name:46} {mine * 1e3:7.0f}ms {sql * 1e3:7.0f}ms {pd_text} {mine / best:6.2f}x")


def panels_subprocess(db: str) -> None:
    """Run the panels on the store in a fresh process, so its peak memory is theirs alone."""
    start = time.perf_counter()
    panels(db, None)
    elapsed = time.perf_counter() - start
    print(f"{elapsed:.3f} {peak_gib():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--10m", dest="ten_m", action="store_true", help="10M calls")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data",
        choices=["auto", "numpy"],
        default="auto",
        help="auto: llmobs_nb.demo.generate up to 2M calls, else numpy",
    )
    parser.add_argument("--panels-only", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.panels_only:
        panels_subprocess(args.panels_only)
        return
    n = 10_000_000 if args.ten_m else args.calls
    start = time.perf_counter()
    calls, scores, origin = load(n, "numpy" if args.data == "numpy" or n > 2_000_000 else "auto")
    print(
        f"{calls.height:,} calls, {scores.height:,} scores from {origin} "
        f"in {time.perf_counter() - start:.1f}s; 2 cores; median of {args.repeat} runs"
    )

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        con = duckdb.connect(db)
        con.execute("SET TimeZone = 'UTC'")
        # The store's own schema: the view llm_calls over spans, and scores.
        from llmobs_nb.store.migrations import MIGRATIONS

        for _, migrate in MIGRATIONS:
            migrate(con)
        con.register("c_in", calls.to_arrow())
        con.register("s_in", scores.select("trace_id", "span_id", "name", "value").to_arrow())
        con.execute(f"INSERT INTO spans ({', '.join(KEEP)}) SELECT * FROM c_in")
        con.execute("INSERT INTO scores (trace_id, span_id, name, value) SELECT * FROM s_in")
        con.close()
        size_mib = Path(db).stat().st_size / 2**20

        memory = duckdb.connect()
        memory.execute("SET TimeZone = 'UTC'")
        memory.register("c_in", calls.to_arrow())
        memory.register("s_in", scores.to_arrow())
        memory.execute("CREATE TABLE calls AS SELECT * FROM c_in")
        memory.execute("CREATE TABLE scores AS SELECT * FROM s_in")
        df = calls.to_pandas()
        sc = scores.to_pandas()
        print(
            f"set-up done: DuckDB file {size_mib:.0f} MiB; process peak so far {peak_gib():.2f} GiB"
        )

        mine = ours(calls, scores)
        by_hand = pandas_questions(df, sc)
        rows = []
        for name in SQL:
            sql = SQL[name].format(t="calls", s="scores")
            rows.append(
                (
                    name,
                    median_s(mine[name], args.repeat),
                    median_s(hand_sql(memory, sql, name, "calls"), args.repeat),
                    median_s(by_hand[name], args.repeat),
                )
            )
        table("in memory: polars frame vs DuckDB in-memory table vs pandas", rows)
        memory.close()
        del df, sc

        # The path opens (and closes) the file for each question, so it is timed before the
        # hand-written SQL's connection is open: a second connection to a file already open in
        # this process is refused its first query by this DuckDB build (store.connect).
        mine = ours(db, None)
        path_s = {name: median_s(mine[name], args.repeat) for name in SQL}
        # The package's own connect: a plain duckdb.connect with other settings would make
        # every llmobs read of the same file in this process fail (one configuration a file).
        stored = connect(db, read_only=True)
        rows = []
        for name in SQL:
            sql = SQL[name].format(t="llm_calls", s="scores")
            rows.append(
                (
                    name,
                    path_s[name],
                    median_s(hand_sql(stored, sql, name, "llm_calls"), args.repeat),
                    None,
                )
            )
        table("DuckDB file: llmobs given the path (push-down) vs hand-written SQL", rows)
        # The path costs a file open (~20 ms) per call; a kept connection does not.
        mine = ours(stored, None)
        rows = [
            (name, median_s(mine[name], args.repeat), sql_s, None) for (name, _, sql_s, _) in rows
        ]
        table("DuckDB file: llmobs given an open connection vs hand-written SQL", rows)
        stored.close()

        frame_panels = median_s(lambda: panels(calls, scores), args.repeat)
        store_panels = median_s(lambda: panels(db, None), args.repeat)
        out = subprocess.run(
            [sys.executable, __file__, "--panels-only", db],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(
            "\nall panels together (percentiles model × hour, cost model × use case, "
            "error rate by hour, drift)"
        )
        print(f"  on the polars frame: {frame_panels:.3f} s")
        print(
            f"  on the DuckDB file:  {store_panels:.3f} s; a fresh process doing only this: "
            f"{float(out[0]):.3f} s, peak RSS {float(out[1]):.2f} GiB"
        )
        print(
            f"process peak RSS (data generation, pandas copy, all of the above): "
            f"{peak_gib():.2f} GiB"
        )


if __name__ == "__main__":
    main()
