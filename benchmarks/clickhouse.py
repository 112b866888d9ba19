"""Analytics and the dashboard's panels on ClickHouse (chdb) vs DuckDB, the same spans, one run.

Builds the demo generator's sample (agent sessions and incidents) of about ``--spans`` spans
(default 1M) in a DuckDB store, exports it with ``export.clickhouse`` into chdb's
``otel_traces``/``otel_logs`` (the collector exporter's tables), then times:

1. **Analytics**: each question on the store file (DuckDB pushdown, exact) and on
   ``llmobs_nb.open("chdb://…")`` (ClickHouse pushdown, exact), median of ``--repeats``, the
   ratio ClickHouse / DuckDB, and the bytes each answer brought into Python (ClickHouse: the
   Arrow bytes received; both: the answer frame's size).
2. **Dashboard**: ``Dashboard(source)`` opening (filter choices + a redraw), a redraw of the
   fast panels, a filtered redraw, and the background pass (drift, anomalies, quality chart);
   DuckDB exact (``approx=False``) and as the dashboard opens a store by default (rollups from
   1M spans); chdb from the calls, and chdb with the rollup view
   (``export.clickhouse_rollups(fill=True)``: counts, sums and cost read from hourly rows).

The analytics table covers the questions over whole traces too (sessions, agents, the
explorer's trace lists), and, for the questions the rollup view answers, chdb's time with it.

Above ``--base`` spans (default 1M) the base sample is built once and copied inside each
engine (trace and span ids given a new first hex digit per copy, the same in both), so a
10M-span run costs one 1M export: ``--spans 10000000``.

    .venv/bin/python benchmarks/clickhouse.py                    # 1M spans
    .venv/bin/python benchmarks/clickhouse.py --spans 10000000   # 10M spans
    .venv/bin/python benchmarks/clickhouse.py --only tool agent --no-dashboard  # agents only

Never asserts (machines are noisy): prints the figures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import polars as pl

import llmobs_nb
from llmobs_nb import analytics, export
from llmobs_nb.analytics import Filter
from llmobs_nb.clickhouse import ClickHouseSource
from llmobs_nb.clickhouse.connect import _Chdb
from llmobs_nb.demo.generate import generate
from llmobs_nb.store.schema import SCORES, SPANS
from llmobs_nb.view import Dashboard, panels
from llmobs_nb.view.data_source import DataSource

SPANS_PER_CALL = 3.146  # the demo's spans per drawn call, with agent sessions
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
WEEK = Filter(start=datetime(2026, 10, 8, tzinfo=UTC), end=datetime(2026, 10, 15, tzinfo=UTC))

QUESTIONS: dict[str, Callable[[Any], Any]] = {
    "summary (P50, P95)": lambda c: analytics.summary(c),
    "latency P50/95/99 per model per hour": lambda c: analytics.latency_percentiles(
        c, by="model", every="1h"
    ),
    "TTFT percentiles by use case, a week": lambda c: analytics.ttft_percentiles(
        c, by="use_case", where=WEEK
    ),
    "cost by model × use case per hour": lambda c: analytics.cost_breakdown(
        c, by=["model", "use_case"], every="1h"
    ),
    "tokens by model per day": lambda c: analytics.token_usage(c, every="1d"),
    "error rates by model per hour": lambda c: analytics.error_rates(c, by="model", every="1h"),
    "top 10 traces by cost": lambda c: analytics.top_costs(c),
    "quality drift by model": lambda c: analytics.quality_drift(c),
    "cost anomalies": lambda c: analytics.cost_anomalies(c),
    "filter choices": lambda c: analytics.filter_choices(c),
    "sessions": lambda c: analytics.sessions(c),
    "tool usage by tool": lambda c: analytics.tool_usage(c),
    "agent paths": lambda c: analytics.agent_paths(c),
    "tool loops": lambda c: analytics.tool_loops(c),
    "agent graph": lambda c: analytics.agent_graph(c),
    "trace lists (the explorer)": lambda c: panels.trace_lists(
        DataSource(c).filtered(Filter()), 10
    ),
}
ROLLUP_QUESTIONS = (
    "cost by model × use case per hour",
    "tokens by model per day",
    "error rates by model per hour",
    "cost anomalies",
    "filter choices",
)
"""The questions above with plans the rollup view answers (all of them, or the hours' totals
of cost anomalies and the labels of filter choices; no quantile, no trace or user ids)."""


def _median(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, found = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        found = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), found


def _size(found: Any) -> int:
    if isinstance(found, pl.DataFrame):
        return int(found.estimated_size())
    return len(repr(found).encode())


def build(folder: Path, spans: int, base: int) -> tuple[Path, str, int]:
    """The store and the chdb URL holding the same ~``spans`` spans; returns them and the count."""
    store = folder / "store.duckdb"
    url = f"chdb://{folder / 'chdb'}?table=otel_traces&logs=otel_logs"
    first = min(spans, base)
    began = time.perf_counter()
    sample = generate(round(first / SPANS_PER_CALL), days=DAYS, seed=11, start=START,
                      agents=True, store=store)  # fmt: skip
    generated = time.perf_counter() - began
    began = time.perf_counter()
    written = export.clickhouse(store, url)
    exported = time.perf_counter() - began
    print(
        f"built {sample.spans.height:,} spans: generated + stored in {generated:.1f} s, "
        f"exported to chdb in {exported:.1f} s ({exported / written.spans * 1e6:.0f} µs a span)"
    )
    copies = max(1, round(spans / sample.spans.height))
    if copies > 1:
        began = time.perf_counter()
        _copy(store, copies)
        print(f"copied ×{copies} in DuckDB in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        _copy_chdb(copies)
        print(f"copied ×{copies} in chdb in {time.perf_counter() - began:.1f} s")
    return store, url, sample.spans.height * copies


def _copy(store: Path, copies: int) -> None:
    # Copy k of an id: "g" + hex(k) + the id from its third character ("g" is no hex digit,
    # so copies never meet the originals or each other); the same rule as _copy_chdb's.
    con = duckdb.connect(str(store))
    try:
        for table, names in (("spans", SPANS.names), ("scores", SCORES.names)):
            ids = {
                c: f"CASE WHEN {c} IS NULL THEN NULL ELSE 'g' || printf('%x', k) || substr({c}, 3) "
                f"END AS {c}"
                for c in ("trace_id", "span_id", "parent_span_id")
            }
            columns = ", ".join(ids.get(c, c) for c in names)
            con.execute(
                f"INSERT INTO {table} SELECT {columns} FROM {table}, range(1, {copies}) AS r(k)"
            )
    finally:
        con.close()
    llmobs_nb.rebuild_rollups(store)


def _copy_chdb(copies: int) -> None:
    session = _Chdb.open(None)

    def copied(column: str) -> str:
        new = f"concat('g', substring(lower(hex(k)), 2), substring({column}, 3))"
        return f"if({column} = '', '', {new}) AS {column}"

    for table, columns in (
        ("otel_traces", ("TraceId", "SpanId", "ParentSpanId")),
        ("otel_logs", ("TraceId", "SpanId")),
    ):
        replaced = ", ".join(copied(c) for c in columns)
        session.query(
            f"INSERT INTO {table} SELECT * EXCEPT (k) REPLACE ({replaced}) "
            f"FROM (SELECT *, arrayJoin(range(1, {copies})) AS k FROM {table})"
        )


def analytics_table(
    store: Path,
    source: ClickHouseSource,
    rolled: ClickHouseSource,
    repeats: int,
    only: list[str] | None = None,
) -> None:
    print(f"\n{'question':40} {'DuckDB s':>9} {'chdb s':>9} {'ratio':>6} {'CH bytes':>10} "
          f"{'answer B':>9} {'chdb+view s':>12}")  # fmt: skip
    for name, question in QUESTIONS.items():
        if only and not any(word in name for word in only):
            continue
        duck_s, _ = _median(lambda q=question: q(str(store)), repeats)
        before = source.bytes_received
        ch_s, found = _median(lambda q=question: q(source), repeats)
        received = (source.bytes_received - before) // repeats
        view = ""
        if name in ROLLUP_QUESTIONS:
            view_s, _ = _median(lambda q=question: q(rolled), repeats)
            view = f"{view_s:12.3f}"
        print(f"{name:40} {duck_s:9.3f} {ch_s:9.3f} {ch_s / duck_s:6.2f} {received:10,} "
              f"{_size(found):9,} {view}")  # fmt: skip


def build_view(url: str) -> ClickHouseSource:
    """The rollup view on the table, filled with its rows; a source that reads it."""
    session = _Chdb.open(None)
    began = time.perf_counter()
    for statement in export.clickhouse_rollups("otel_traces", fill=True):
        session.query(statement)
    rows = session.query("SELECT count() FROM llmobs_rollup_calls", "CSV").bytes().decode()
    print(f"rollup view built and filled in {time.perf_counter() - began:.1f} s "
          f"({int(rows):,} rows)")  # fmt: skip
    rolled = llmobs_nb.open(url)
    assert isinstance(rolled, ClickHouseSource) and rolled.has_rollups()
    return rolled


def dashboard_table(
    store: Path, source: ClickHouseSource, rolled: ClickHouseSource, repeats: int
) -> None:
    rows = []
    for label, data, approx in (
        ("DuckDB exact", str(store), False),
        ("DuckDB default (rollups ≥1M)", str(store), None),
        ("chdb", source, None),
        ("chdb with the rollup view", rolled, None),
    ):
        began = time.perf_counter()
        dash = Dashboard(data, approx=approx)
        dash.wait()
        opened = time.perf_counter() - began
        redraw, _ = _median(dash.redraw, repeats)
        dash.wait()
        calls = dash.source.filtered(Filter(models=("gpt-4o",)))
        filtered, _ = _median(lambda d=dash: d.apply_filters(models=("gpt-4o",)), repeats)
        dash.wait()
        slow, _ = _median(lambda c=calls: panels.drift_and_anomalies(c), repeats)
        rows.append((label, opened, redraw, filtered, slow))
    print(
        f"\n{'dashboard':30} {'open s':>7} {'redraw s':>9} {'filtered s':>11} {'slow pass s':>12}"
    )
    for label, opened, redraw, filtered, slow in rows:
        print(f"{label:30} {opened:7.2f} {redraw:9.3f} {filtered:11.3f} {slow:12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    parser.add_argument("--only", nargs="+", help="the analytics questions whose names hold one")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard table")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="llmobs-ch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        store, url, spans = build(folder, args.spans, args.base)
        source = llmobs_nb.open(url + "&rollups=off")  # the calls only
        assert isinstance(source, ClickHouseSource)
        began = time.perf_counter()
        source.prices()
        asked = time.perf_counter() - began
        print(f"{spans:,} spans on both sides; the prices table asked in {asked:.2f} s")
        rolled = build_view(url)
        rolled.prices()
        analytics_table(store, source, rolled, args.repeats, args.only)
        if not args.no_dashboard:
            dashboard_table(store, source, rolled, args.repeats)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
