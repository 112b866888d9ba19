"""Opening the dashboard on a big store: seconds and peak memory, in a fresh process.

A store of N calls (default 100M; ``benchmarks/rollups.py``'s SQL, 30 days, 5 models, 5,000
users, rolled up: what ``benchmarks/dashboard_browser.py`` builds) is opened by
``Dashboard(path)`` in a new Python process, as a notebook cell would: the headline, the
per-model table and every fast chart, from the rollups. Printed: the import, the opening
(until every fast panel is computed: ``Dashboard(...)`` returns before, once the filter
choices are read, and ``dash.headline`` waits for the first draw; both are printed), the peak
RSS after it, then the background pass (trace lists, quality drift, cost alerts) and one
filter change, each with the peak RSS after it. Baseline of the same run, in its own fresh
process: the headline figures alone (calls, errors, cost, P95 latency) as one plain DuckDB SQL
over the calls. Never asserts.

    .venv/bin/python benchmarks/dashboard_open.py --store /tmp/100m.duckdb       # 100M calls
    .venv/bin/python benchmarks/dashboard_open.py --store /tmp/10m.duckdb --calls 10000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dashboard_browser import build

OPEN = """
import json, resource, sys, time
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
from llmobs_nb.view import Dashboard
t1 = time.perf_counter(); imported = peak()
dash = Dashboard(sys.argv[1])
returned = time.perf_counter()
calls = dash.headline["calls"]  # waits for the first draw (computed on the dashboard's thread)
t2 = time.perf_counter(); opened = peak()
dash.wait(timeout_s=3600)
t3 = time.perf_counter(); background = peak()
dash.apply_filters(models=("gpt-4o",))
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "import_mib": imported, "open_s": t2 - t1,
    "returned_s": returned - t1,
    "open_mib": opened, "calls": calls, "background_s": t3 - t2,
    "background_mib": background, "change_s": t4 - t3, "change_mib": peak()}))
dash.close()
"""

BASELINE = """
import json, resource, sys, time
import duckdb
t0 = time.perf_counter()
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SET enable_progress_bar = false")
row = con.execute(
    "SELECT count(*), count(*) FILTER (WHERE status = 'error'), sum(cost_usd), "
    "quantile_cont(latency_s, 0.95) FROM llm_calls").fetchone()
print(json.dumps({"sql_s": time.perf_counter() - t0, "calls": row[0],
    "sql_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def fresh(code: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    # The last JSON line: DuckDB may print a progress bar for a long query before it.
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000_000)
    parser.add_argument("--store", type=Path, required=True, help="reuse (or build into) this")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not args.store.exists():
        began = time.perf_counter()
        build(args.store, args.calls)
        took, size = time.perf_counter() - began, args.store.stat().st_size / 2**30
        print(f"store: {args.calls:,} calls built in {took:.0f} s, {size:.1f} GiB")
    for _ in range(args.repeats):
        o = fresh(OPEN, args.store)
        sql = fresh(BASELINE, args.store)
        print(
            f"{o['calls']:,} calls: import {o['import_s']:.2f} s ({o['import_mib']:.0f} MiB); "
            f"Dashboard(...) returned in {o['returned_s']:.2f} s, every fast panel computed "
            f"in {o['open_s']:.2f} s, peak RSS {o['open_mib']:.0f} MiB; "
            f"background pass {o['background_s']:.1f} s (peak {o['background_mib']:.0f} MiB); "
            f"a filter change {o['change_s']:.2f} s (peak {o['change_mib']:.0f} MiB)\n"
            f"  baseline: the headline alone as plain DuckDB SQL over the calls "
            f"{sql['sql_s']:.2f} s (peak {sql['sql_mib']:.0f} MiB); "
            f"opening / baseline {o['open_s'] / sql['sql_s']:.2f}×",
            flush=True,
        )


if __name__ == "__main__":
    main()
