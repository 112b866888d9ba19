"""Dashboard redraw speed on 1M generated calls: a filter change, timed end to end in Python,
against the same SQL queries sent straight to DuckDB in the same run.

The redraw is ``Dashboard.apply_filters(...)``'s synchronous part: every query of the fast
panels (headline, seven charts, trace lists) pushed down with the filters as parameters, the
Altair charts built and turned into HTML. Quality drift and cost alerts run afterwards in a
background thread; their time is printed apart. Prints medians, never asserts.

    .venv/bin/python benchmarks/dashboard.py                   # generates 1M calls (~1 min)
    .venv/bin/python benchmarks/dashboard.py --db demo.duckdb  # an existing store
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from llmobs_nb import demo
from llmobs_nb.view import Dashboard
from llmobs_nb.view.data_source import DataSource

START = datetime(2025, 3, 3, tzinfo=UTC)
FILTERS: list[dict[str, Any]] = [
    {},
    {"models": ("gpt-4o",)},
    {"models": ("gpt-4o-mini", "claude-3-5-haiku")},
    {"use_cases": ("docs_qa",)},
    {"users": ("user-001",)},
    {"runs": ("prompt-v2",)},
    {"start": START + timedelta(days=3), "end": START + timedelta(days=5)},
    {"models": ("claude-sonnet-4-5",), "start": START + timedelta(days=7)},
]


class Recorder:
    """Wraps DataSource.query to keep every (sql, params) the redraw sends from the main thread
    (the background panels' queries are not part of the timed redraw)."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, list[Any]]] = []
        self.original = DataSource.query

    def __enter__(self) -> Recorder:
        recorder = self

        def query(source: DataSource, sql: str, params: Any = None) -> Any:
            if threading.current_thread() is threading.main_thread():
                recorder.queries.append((sql, list(params or [])))
            return recorder.original(source, sql, params)

        DataSource.query = query  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        DataSource.query = self.original  # type: ignore[method-assign]


def raw_sql(path: Path, queries: list[tuple[str, list[Any]]]) -> float:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    began = time.perf_counter()
    for sql, params in queries:
        con.sql(sql, params=params or None).to_arrow_table()
    elapsed = time.perf_counter() - began
    con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, help="an existing store (default: generate 1M calls)")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db
        if path is None:
            path = Path(tmp) / "bench.duckdb"
            began = time.perf_counter()
            demo.generate(args.calls, days=14, seed=0, start=START, store=path)
            print(f"generated {args.calls:,} calls in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        board = Dashboard(path)
        board.wait()
        print(
            "dashboard built (first draw + background panels) in "
            f"{time.perf_counter() - began:.2f} s"
        )
        redraw: list[float] = []
        raw: list[float] = []
        slow: list[float] = []
        queries_per_redraw = 0
        for _ in range(args.repeat):
            for filters in FILTERS:
                with Recorder() as recorded:
                    began = time.perf_counter()
                    board.apply_filters(**filters)
                    redraw.append(time.perf_counter() - began)
                began = time.perf_counter()
                board.wait()
                slow.append(time.perf_counter() - began)
                queries_per_redraw = len(recorded.queries)
                raw.append(raw_sql(path, recorded.queries))
        board.close()
    overhead_ms = (statistics.median(redraw) - statistics.median(raw)) * 1000
    print(f"filter changes timed: {len(redraw)} ({len(FILTERS)} filters × {args.repeat})")
    print(f"queries per redraw: {queries_per_redraw}")
    print(f"redraw (Python, fast panels)   median {statistics.median(redraw) * 1000:7.0f} ms")
    print(f"same queries in raw DuckDB SQL median {statistics.median(raw) * 1000:7.0f} ms")
    print(f"overhead over raw SQL          median {overhead_ms:7.0f} ms")
    print(
        f"background drift + alerts      median {statistics.median(slow) * 1000:7.0f} ms "
        "(drawn after the redraw)"
    )


if __name__ == "__main__":
    main()
